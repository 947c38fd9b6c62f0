#!/usr/bin/env bash
# Local process supervisor for the Desk Pemilu backing services:
#   * Apache Kafka 4.x, single node, KRaft combined broker+controller, assembled
#     from Maven Central jars (deploy/kafka/pom.xml) - no Docker engine here.
#   * PostgreSQL 15 from Debian's packages, in a project-local data dir.
#
# Usage: deploy/stack.sh <command> [kafka|postgres|all]
#   start [svc]          start (idempotent; waits until healthy)
#   stop [svc]           SIGTERM, wait, SIGKILL after a timeout
#   status               one line per service; exit 0 only if all are healthy
#   env                  `export ...` lines:  eval "$(deploy/stack.sh env)"
#   restart-kafka [--hard] [--node N]   graceful stop+start (--hard: SIGKILL, i.e. a crash);
#                              with KAFKA_BROKERS=3 one node only (N, else a random one)
#   restart-postgres [--hard]  fast stop+start (--hard: immediate stop = crash recovery)
#   logs [svc]           tail the service logs
#   kafka-run-class <main-class> [args]   run a Kafka tool with the fetched jars, e.g.
#       kafka-run-class org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:9092 --list
#       kafka-run-class org.apache.kafka.tools.ProducerPerformance --topic t --num-records 100000 \
#           --record-size 200 --throughput -1 --producer-props bootstrap.servers=127.0.0.1:9092
#   install              apt packages if missing (PostgreSQL, Java, Maven, Chromium, Prometheus,
#                        curl; Debian's own prometheus service is disabled) + Kafka jar fetch +
#                        the s3proxy jar (deploy/s3/install-s3proxy.sh)
#
# Environment (all optional):
#   RUN_DIR=<repo>/.run  KAFKA_PORT=9092  KAFKA_CONTROLLER_PORT=9093  PG_PORT=5433
#   KAFKA_BROKERS=1      3: a cluster of three KRaft nodes (broker+controller each) as local
#     processes, replication factor 3, min.insync.replicas 2; node n listens on
#     KAFKA_PORT+10*(n-1) and KAFKA_CONTROLLER_PORT+10*(n-1) unless KAFKA_PORTS and
#     KAFKA_CONTROLLER_PORTS list the ports ("p1,p2,p3"). restart-kafka then crashes and
#     restarts ONE node (--node N, else a random one).
#   KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL: if set to something other than what
#     this script would provide, that service is treated as EXTERNAL and never
#     started/stopped here. (Our own values - e.g. after `eval "$(stack.sh env)"` -
#     do not count as external, so `start` still works in such a shell.)
#   KAFKA_START_TIMEOUT=90 KAFKA_STOP_TIMEOUT=30 PG_START_TIMEOUT=60 PG_STOP_TIMEOUT=30
#   KAFKA_HEAP_OPTS="-Xms1g -Xmx1g -XX:+AlwaysPreTouch"  KAFKA_JIT_OPTS="-XX:TieredStopAtLevel=1"
#   PG_BIN=/usr/lib/postgresql/15/bin
#   PG_DIR=<RUN_DIR>/postgres (or /var/tmp/deskpemilu-<hash>/postgres when the postgres OS user
#     cannot traverse the checkout)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

RUN_DIR="${RUN_DIR:-$REPO_ROOT/.run}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
PG_PORT="${PG_PORT:-5433}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
PG_START_TIMEOUT="${PG_START_TIMEOUT:-60}"
PG_STOP_TIMEOUT="${PG_STOP_TIMEOUT:-30}"
# A fixed heap, committed and touched at start (Xms = Xmx, as Kafka's operations guide
# advises): the broker's resident memory is its steady state from the first minute.
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms1g -Xmx1g -XX:+AlwaysPreTouch}"
# The JIT's first tier only. On two shared cores the optimising compiler (C2) was the broker's
# largest cost for minutes after a start: 10.5 of 19.3 CPU seconds in 20 s of a Banyuasin
# day, 68 s of compiling in the first five minutes; with C1 alone the day's broker used 23 s
# of CPU instead of 41 (benchmarks/RESULTS.md). A large broker on its own cores wants C2: set
# KAFKA_JIT_OPTS="" there.
KAFKA_JIT_OPTS="${KAFKA_JIT_OPTS--XX:TieredStopAtLevel=1}"
JAVA="${JAVA:-java}"
PYTHON="${PYTHON:-python3}"

KAFKA_DIR="$RUN_DIR/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_LOGS="$KAFKA_DIR/logs"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
KAFKA_PIDFILE="$KAFKA_DIR/kafka.pid"
KAFKA_CLUSTER_ID_FILE="$KAFKA_DIR/cluster-id"
KAFKA_BROKERS="${KAFKA_BROKERS:-1}"
KAFKA_NODE_ID=1
KAFKA_NODE_PORTS=()
KAFKA_NODE_CONTROLLER_PORTS=()
if [[ "$KAFKA_BROKERS" != 1 ]]; then
    [[ "$KAFKA_BROKERS" == 3 ]] || { echo "KAFKA_BROKERS must be 1 or 3" >&2; exit 2; }
    IFS=, read -r -a KAFKA_NODE_PORTS <<<"${KAFKA_PORTS:-$KAFKA_PORT,$((KAFKA_PORT + 10)),$((KAFKA_PORT + 20))}"
    IFS=, read -r -a KAFKA_NODE_CONTROLLER_PORTS <<<"${KAFKA_CONTROLLER_PORTS:-$KAFKA_CONTROLLER_PORT,$((KAFKA_CONTROLLER_PORT + 10)),$((KAFKA_CONTROLLER_PORT + 20))}"
fi

# PostgreSQL runs as the postgres OS user, which must reach its data folder. A checkout under a
# private directory (mode 700: a CI workspace, `mktemp -d`) gets its own folder under /var/tmp.
if [[ -z "${PG_DIR:-}" ]]; then
    PG_DIR="$RUN_DIR/postgres"
    if (( EUID == 0 )) && id postgres >/dev/null 2>&1 &&
        ! runuser -u postgres -- test -x "$(dirname "$RUN_DIR")" 2>/dev/null; then
        PG_DIR="/var/tmp/deskpemilu-$(printf '%s' "$RUN_DIR" | sha1sum | cut -c1-10)/postgres"
    fi
fi
PG_DATA="$PG_DIR/data"
PG_SOCK="$PG_DIR/sock"
PG_LOG="$PG_DIR/postgres.log"
PG_DB=deskpemilu
PG_USER=deskpemilu
PG_PASSWORD=deskpemilu

LOCAL_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"  # the node the kafka_* functions act on (kafka_node)
OWN_BOOTSTRAP="$LOCAL_BOOTSTRAP"         # what this script provides: every node
if (( KAFKA_BROKERS > 1 )); then
    OWN_BOOTSTRAP="$(printf '127.0.0.1:%s,' "${KAFKA_NODE_PORTS[@]}")"
    OWN_BOOTSTRAP="${OWN_BOOTSTRAP%,}"
fi
LOCAL_DATABASE_URL="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"

# ----------------------------------------------------------------- helpers

log() { echo "$*"; }
err() { echo "$*" >&2; }

elapsed() {  # seconds since $1 (an $EPOCHREALTIME value), one decimal
    awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

port_in_use() {  # true if something accepts TCP connections on 127.0.0.1:$1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

proc_alive() {  # $1 = pid. Like `kill -0`, but a zombie (killed, not yet reaped) counts as dead.
    local state
    [[ "$1" =~ ^[0-9]+$ ]] || return 1
    state="$(sed -E 's/.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

wait_port_free() {  # $1 = port, $2 = seconds. A just-killed process may hold it briefly.
    local deadline=$(( ${EPOCHREALTIME%.*} + $2 ))
    while port_in_use "$1"; do
        (( ${EPOCHREALTIME%.*} < deadline )) || return 1
        sleep 0.2
    done
}

port_owner() {  # best-effort "pid=123 (java)" for a listening port
    command -v ss >/dev/null || return 0
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(.*)' | head -n1 || true
}

ensure_run_dir() {
    mkdir -p "$RUN_DIR"
    # World-traversable: the postgres OS user must reach $RUN_DIR/postgres.
    chmod 755 "$RUN_DIR"
    # Self-ignoring runtime dir: protects the shared working tree from an
    # accidental `git add -A` of jars / database files even before the
    # top-level .gitignore lists `.run/`.
    [[ -f "$RUN_DIR/.gitignore" ]] || echo '*' >"$RUN_DIR/.gitignore"
}

take_lock() {
    # Serialise start/stop: two test sessions calling `start` at once must not
    # both launch a broker or both run initdb.
    ensure_run_dir
    exec 9>"$RUN_DIR/.stack.lock"
    flock -w 300 9 || { err "stack: could not get $RUN_DIR/.stack.lock within 300s"; exit 1; }
}

show_log_tail() {  # $1 = label, rest = files
    local label="$1" f; shift
    for f in "$@"; do
        [[ -s "$f" ]] || continue
        err "---- $label: last 40 lines of $f ----"
        tail -n 40 "$f" >&2
    done
}

kafka_external() {
    [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" && "$KAFKA_BOOTSTRAP_SERVERS" != "$OWN_BOOTSTRAP" ]]
}

pg_external() {
    [[ -n "${DATABASE_URL:-}" && "$DATABASE_URL" != "$LOCAL_DATABASE_URL" ]]
}

# ------------------------------------------------------------------- kafka

kafka_java() {  # run a Kafka main class with the fetched jars (StorageTool, tools)
    # Tools log WARN+ to stderr: with the broker's log4j2.yaml they would append
    # to the broker's server.log.
    "$JAVA" -Dlog4j2.configurationFile="$SCRIPT_DIR/kafka/tools-log4j2.yaml" \
        -cp "$KAFKA_LIBS/*" "$@"
}

kafka_pid() {
    # Prints the broker pid if the pid file points at OUR live broker. A pid file
    # whose process is gone (kill -9, reboot) or was reused by an unrelated
    # process is stale: remove it so the next start proceeds.
    [[ -f "$KAFKA_PIDFILE" ]] || return 1
    local pid
    pid="$(cat "$KAFKA_PIDFILE" 2>/dev/null || true)"
    if proc_alive "$pid" &&
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $KAFKA_PROPS"; then
        echo "$pid"
        return 0
    fi
    # stderr: callers capture stdout as the pid.
    err "kafka: removing stale pid file (pid ${pid:-?} is not running)"
    rm -f "$KAFKA_PIDFILE"
    return 1
}

kafka_healthy() {
    "$PYTHON" "$SCRIPT_DIR/lib/kafka_probe.py" --quiet --timeout 2 "$LOCAL_BOOTSTRAP"
}

kafka_node() {  # $1 = node id: point the kafka_* functions at that node of the cluster
    local n="$1" i=$(( $1 - 1 ))
    KAFKA_NODE_ID="$n"
    KAFKA_PORT="${KAFKA_NODE_PORTS[$i]}"
    KAFKA_CONTROLLER_PORT="${KAFKA_NODE_CONTROLLER_PORTS[$i]}"
    LOCAL_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
    local dir="$KAFKA_DIR/node-$n"
    KAFKA_DATA="$dir/data"
    KAFKA_LOGS="$dir/logs"
    KAFKA_PROPS="$dir/server.properties"
    KAFKA_PIDFILE="$dir/kafka.pid"
}

kafka_voters() {  # 1@127.0.0.1:c1,2@127.0.0.1:c2,...
    local i out=""
    for i in "${!KAFKA_NODE_CONTROLLER_PORTS[@]}"; do
        out+="$((i + 1))@127.0.0.1:${KAFKA_NODE_CONTROLLER_PORTS[$i]},"
    done
    echo "${out%,}"
}

kafka_render_props() {
    mkdir -p "$KAFKA_DATA" "$KAFKA_LOGS"
    if (( KAFKA_BROKERS > 1 )); then
        sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
            -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
            -e "s|@KAFKA_LOG_DIR@|$KAFKA_DATA|g" \
            -e "s|@NODE_ID@|$KAFKA_NODE_ID|g" \
            -e "s|@VOTERS@|$(kafka_voters)|g" \
            "$SCRIPT_DIR/kafka/server.cluster.properties.template" >"$KAFKA_PROPS"
        return
    fi
    sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
        -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
        -e "s|@KAFKA_LOG_DIR@|$KAFKA_DATA|g" \
        "$SCRIPT_DIR/kafka/server.properties.template" >"$KAFKA_PROPS"
}

kafka_format() {
    # KRaft storage must be formatted once with a cluster id before first start.
    # --standalone makes this node the single voter of a dynamic quorum (pairs
    # with controller.quorum.bootstrap.servers); --ignore-formatted makes a
    # repeat harmless, but we skip the ~1s JVM entirely when already formatted.
    # (Changing KAFKA_CONTROLLER_PORT later is fine: verified that the single
    # voter finds itself by node id + directory id and the broker comes up.)
    [[ -f "$KAFKA_DATA/meta.properties" ]] && return 0
    local cid
    if [[ -s "$KAFKA_CLUSTER_ID_FILE" ]]; then
        cid="$(cat "$KAFKA_CLUSTER_ID_FILE")"
    else
        cid="$(kafka_java kafka.tools.StorageTool random-uuid)"
        echo "$cid" >"$KAFKA_CLUSTER_ID_FILE"
    fi
    log "kafka: formatting storage (cluster id $cid)..."
    local quorum=(--standalone)  # a cluster's static voters come from controller.quorum.voters
    (( KAFKA_BROKERS > 1 )) && quorum=()
    if ! kafka_java kafka.tools.StorageTool format -t "$cid" -c "$KAFKA_PROPS" \
        "${quorum[@]}" --ignore-formatted >"$KAFKA_LOGS/format.log" 2>&1; then
        err "kafka: storage format FAILED"
        show_log_tail kafka "$KAFKA_LOGS/format.log"
        return 1
    fi
}

KAFKA_LAUNCH_T0=""

kafka_launch() {
    # Starts the JVM without waiting for health (kafka_wait does that), so that
    # `start all` can bring PostgreSQL up while the broker boots.
    local pid
    if pid="$(kafka_pid)"; then
        log "kafka: already running (pid $pid, $LOCAL_BOOTSTRAP)"
        return 0
    fi
    if ! "$SCRIPT_DIR/kafka/fetch-jars.sh"; then
        err "kafka: could not fetch the broker jars (see $KAFKA_DIR/fetch.log)"
        return 1
    fi
    local port
    for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
        if ! wait_port_free "$port" 10; then
            err "kafka: port $port is already in use by another process $(port_owner "$port")"
            err "kafka: stop it, or pick other ports (KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
            return 1
        fi
    done
    kafka_render_props
    kafka_format || return 1

    KAFKA_LAUNCH_T0=$EPOCHREALTIME
    log "kafka: starting (127.0.0.1:$KAFKA_PORT, controller :$KAFKA_CONTROLLER_PORT)..."
    # setsid: own session/process group, so a Ctrl-C in the calling terminal or a
    # test runner killing its process group does not take the broker down; its
    # lifetime is managed only through this script. stdout/stderr go to
    # kafka.out to catch JVM errors that happen before log4j is up. 9>&-: the
    # broker must not inherit (and hold forever) the stack lock's descriptor.
    # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS and KAFKA_JIT_OPTS are intentionally word-split
    setsid "$JAVA" $KAFKA_HEAP_OPTS $KAFKA_JIT_OPTS -server \
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
        -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError \
        -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$SCRIPT_DIR/kafka/log4j2.yaml" \
        -Dkafka.logs.dir="$KAFKA_LOGS" \
        -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS" \
        >>"$KAFKA_LOGS/kafka.out" 2>&1 </dev/null 9>&- &
    # No job control in a script, so the background child is not a process-group
    # leader and setsid exec()s in place: $! is the JVM's pid.
    echo $! >"$KAFKA_PIDFILE"
}

kafka_wait() {
    # Healthy = the broker answers a Metadata request listing itself and an
    # active controller (deploy/lib/kafka_probe.py), not merely "port open".
    [[ -n "$KAFKA_LAUNCH_T0" ]] || return 0  # nothing was launched (already running)
    local pid deadline
    pid="$(cat "$KAFKA_PIDFILE")"
    deadline=$(( ${EPOCHREALTIME%.*} + KAFKA_START_TIMEOUT ))
    while ! kafka_healthy; do
        if ! proc_alive "$pid"; then
            err "kafka: broker process $pid exited during startup"
            rm -f "$KAFKA_PIDFILE"
            show_log_tail kafka "$KAFKA_LOGS/kafka.out" "$KAFKA_LOGS/server.log"
            return 1
        fi
        if (( ${EPOCHREALTIME%.*} >= deadline )); then
            err "kafka: not healthy after ${KAFKA_START_TIMEOUT}s (pid $pid left running; see logs)"
            show_log_tail kafka "$KAFKA_LOGS/kafka.out" "$KAFKA_LOGS/server.log"
            return 1
        fi
        sleep 0.2
    done
    log "kafka: started in $(elapsed "$KAFKA_LAUNCH_T0")s (pid $pid, $LOCAL_BOOTSTRAP)"
    KAFKA_LAUNCH_T0=""
}

kafka_start() {
    if kafka_external; then
        log "kafka: external KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS, not starting a local broker"
        return 0
    fi
    kafka_launch && kafka_wait
}

kafka_stop() {  # $1 = TERM (graceful, default) or KILL (simulated crash)
    local sig="${1:-TERM}" pid t0
    if kafka_external; then
        log "kafka: external KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS, not stopping it"
        return 0
    fi
    if ! pid="$(kafka_pid)"; then
        log "kafka: not running"
        return 0
    fi
    t0=$EPOCHREALTIME
    log "kafka: stopping pid $pid (SIG$sig)..."
    kill "-$sig" "$pid" 2>/dev/null || true
    # Controlled shutdown of a combined node normally takes a few seconds.
    local deadline=$(( ${EPOCHREALTIME%.*} + KAFKA_STOP_TIMEOUT ))
    while proc_alive "$pid"; do
        if (( ${EPOCHREALTIME%.*} >= deadline )); then
            err "kafka: still running after ${KAFKA_STOP_TIMEOUT}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            deadline=$(( ${EPOCHREALTIME%.*} + 10 ))
        fi
        sleep 0.1
    done
    rm -f "$KAFKA_PIDFILE"
    log "kafka: stopped in $(elapsed "$t0")s"
}

kafka_status() {
    if kafka_external; then
        if "$PYTHON" "$SCRIPT_DIR/lib/kafka_probe.py" --quiet "${KAFKA_BOOTSTRAP_SERVERS%%,*}"; then
            log "kafka:    external ($KAFKA_BOOTSTRAP_SERVERS), healthy"; return 0
        fi
        log "kafka:    external ($KAFKA_BOOTSTRAP_SERVERS), NOT reachable"; return 1
    fi
    local pid info
    if ! pid="$(kafka_pid)"; then
        log "kafka:    stopped"; return 1
    fi
    if info="$("$PYTHON" "$SCRIPT_DIR/lib/kafka_probe.py" --timeout 2 "$LOCAL_BOOTSTRAP" 2>&1)"; then
        log "kafka:    running, healthy (pid $pid, $LOCAL_BOOTSTRAP, $info)"; return 0
    fi
    log "kafka:    running, NOT healthy (pid $pid, $LOCAL_BOOTSTRAP: $info)"; return 1
}

# ------------------------------------------------------ kafka cluster (KAFKA_BROKERS=3)

declare -A KAFKA_NODE_T0=()

kafka_cluster_launch() {  # every node, without waiting (a node needs a quorum to be healthy)
    local n
    for n in $(seq 1 "$KAFKA_BROKERS"); do
        kafka_node "$n"
        kafka_launch || return 1
        KAFKA_NODE_T0[$n]="$KAFKA_LAUNCH_T0"
        KAFKA_LAUNCH_T0=""
    done
}

kafka_cluster_wait() {
    local n
    for n in $(seq 1 "$KAFKA_BROKERS"); do
        kafka_node "$n"
        KAFKA_LAUNCH_T0="${KAFKA_NODE_T0[$n]:-}"
        kafka_wait || return 1
        KAFKA_NODE_T0[$n]=""
    done
}

kafka_cluster_stop() {  # $1 = TERM or KILL; every node at once (the last ones lose their quorum)
    local sig="${1:-TERM}" n pid pids=() t0=$EPOCHREALTIME
    for n in $(seq 1 "$KAFKA_BROKERS"); do
        kafka_node "$n"
        if pid="$(kafka_pid)"; then
            kill "-$sig" "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    (( ${#pids[@]} )) || { log "kafka: not running"; return 0; }
    log "kafka: stopping ${#pids[@]} node(s) (SIG$sig)..."
    local deadline=$(( ${EPOCHREALTIME%.*} + KAFKA_STOP_TIMEOUT ))
    for pid in "${pids[@]}"; do
        while proc_alive "$pid"; do
            if (( ${EPOCHREALTIME%.*} >= deadline )); then
                kill -KILL "$pid" 2>/dev/null || true
            fi
            sleep 0.1
        done
    done
    for n in $(seq 1 "$KAFKA_BROKERS"); do rm -f "$KAFKA_DIR/node-$n/kafka.pid"; done
    log "kafka: stopped in $(elapsed "$t0")s"
}

kafka_cluster_status() {
    local n rc=0
    for n in $(seq 1 "$KAFKA_BROKERS"); do
        kafka_node "$n"
        printf 'node %s ' "$n"
        kafka_status || rc=1
    done
    return "$rc"
}

kafka_cluster_restart_node() {  # $1 = node id or empty (random); $2 = TERM or KILL
    local n="${1:-$(( RANDOM % KAFKA_BROKERS + 1 ))}"
    (( n >= 1 && n <= KAFKA_BROKERS )) || { err "kafka: no node $n"; return 2; }
    kafka_node "$n"
    log "kafka: node $n ($LOCAL_BOOTSTRAP)"
    kafka_stop "$2"
    kafka_start
}

# ---------------------------------------------------------------- postgres

as_pg() {
    # PostgreSQL refuses to run as root: as root, run its tools as the
    # `postgres` OS user; as anyone else, run them as that user directly.
    if (( EUID == 0 )); then
        (cd / && runuser -u postgres -- "$@")  # its cwd may be a folder postgres cannot enter
    else
        "$@"
    fi
}

pg_check_binaries() {
    [[ -x "$PG_BIN/postgres" ]] && return 0
    err "postgres: server binaries not found in $PG_BIN (run: deploy/stack.sh install)"
    return 1
}

pg_running() {
    # Not `pg_ctl status`: right after a kill -9 it still reports the unreaped
    # (zombie) postmaster as running. Check the postmaster.pid process is alive
    # and really is a postgres serving OUR data dir (pid reuse).
    local pid
    pid="$(pg_postmaster_pid)"
    proc_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-D $PG_DATA"
}

pg_postmaster_pid() {
    head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || true
}

pg_clear_stale_pidfile() {
    # After a kill -9 the dead postmaster stays a zombie until init reaps it
    # (observed ~0.5-1 s here); PostgreSQL's own lock-file check sees that pid
    # as alive and refuses to start ("lock file postmaster.pid already exists").
    # Wait for the reap; if the pid was reused by an unrelated process, the
    # lock file is stale and can go.
    local pid deadline
    pid="$(pg_postmaster_pid)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    deadline=$(( ${EPOCHREALTIME%.*} + 15 ))
    while [[ -e "/proc/$pid" ]] && ! proc_alive "$pid"; do
        (( ${EPOCHREALTIME%.*} < deadline )) || break
        sleep 0.1
    done
    if proc_alive "$pid"; then
        err "postgres: removing stale postmaster.pid (pid $pid is not our postmaster)"
        rm -f "$PG_DATA/postmaster.pid"
    fi
}

pg_prepare_dirs() {
    mkdir -p "$PG_DIR" "$PG_SOCK"
    if (( EUID == 0 )); then
        chown postgres:postgres "$PG_DIR" "$PG_SOCK"
        if ! runuser -u postgres -- test -w "$PG_DIR"; then
            err "postgres: the postgres OS user cannot reach $PG_DIR (a parent directory is not traversable);"
            err "postgres: set RUN_DIR to a path under e.g. /tmp or /var/tmp"
            return 1
        fi
    fi
    chmod 700 "$PG_DIR"
    # Unix socket paths are limited to 107 bytes.
    if (( ${#PG_SOCK} + 20 > 107 )); then
        err "postgres: socket dir path too long for a unix socket: $PG_SOCK (shorten RUN_DIR)"
        return 1
    fi
}

pg_init() {
    [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
    local t0=$EPOCHREALTIME
    log "postgres: initdb $PG_DATA..."
    # Local socket: trust (only the postgres OS user can enter the 0700 dir).
    # TCP loopback: scram-sha-256, so DATABASE_URL's password is really checked.
    # C.UTF-8: UTF-8 data with byte-order collation, no locale packages needed.
    if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1; then
        err "postgres: initdb FAILED"
        show_log_tail postgres "$PG_DIR/initdb.log"
        return 1
    fi
    echo "include_if_exists = 'deskpemilu.conf'   # managed by deploy/stack.sh" >>"$PG_DATA/postgresql.conf"
    log "postgres: initdb done in $(elapsed "$t0")s"
}

pg_psql() {  # superuser psql over the private unix socket
    as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres
}

pg_ensure_app_db() {
    # Idempotent (cheap, so done on every start): the app role, with CREATEDB so
    # tests can create scratch databases, and its database.
    pg_psql <<SQL >/dev/null
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  ELSE
    ALTER ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$PG_DB')\gexec
SQL
}

pg_start() {
    if pg_external; then
        log "postgres: external DATABASE_URL is set, not starting a local server"
        return 0
    fi
    pg_check_binaries || return 1
    if pg_running; then
        log "postgres: already running (pid $(pg_postmaster_pid), 127.0.0.1:$PG_PORT)"
        return 0
    fi
    if ! wait_port_free "$PG_PORT" 10; then
        err "postgres: port $PG_PORT is already in use by another process $(port_owner "$PG_PORT") (set PG_PORT)"
        return 1
    fi
    pg_prepare_dirs || return 1
    pg_init || return 1
    pg_clear_stale_pidfile
    # Copied on every start so edits to deploy/postgres/postgresql.conf apply.
    install -m 600 -o "$(stat -c %U "$PG_DATA")" "$SCRIPT_DIR/postgres/postgresql.conf" "$PG_DATA/deskpemilu.conf"

    local t0=$EPOCHREALTIME
    log "postgres: starting (127.0.0.1:$PG_PORT)..."
    # Port/listen/socket on the command line (not in the conf) so PG_PORT and
    # RUN_DIR overrides take effect on an existing data dir. A postmaster.pid
    # left by a kill -9 was dealt with above (pg_clear_stale_pidfile).
    # setsid, 9>&-: see kafka_launch.
    if ! as_pg setsid "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$PG_START_TIMEOUT" \
        -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_SOCK" >/dev/null 2>"$PG_DIR/pg_ctl.err" 9>&-; then
        err "postgres: start FAILED"
        show_log_tail postgres "$PG_DIR/pg_ctl.err" "$PG_LOG"
        return 1
    fi
    if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 10; then
        err "postgres: pg_isready says not accepting connections"
        show_log_tail postgres "$PG_LOG"
        return 1
    fi
    if ! pg_ensure_app_db; then
        err "postgres: could not create role/database $PG_USER/$PG_DB"
        return 1
    fi
    log "postgres: started in $(elapsed "$t0")s (pid $(pg_postmaster_pid), 127.0.0.1:$PG_PORT, db $PG_DB)"
}

pg_stop() {  # $1 = fast (default; clean shutdown) or immediate (crash-like, recovery on next start)
    local mode="${1:-fast}" t0
    if pg_external; then
        log "postgres: external DATABASE_URL is set, not stopping it"
        return 0
    fi
    if ! pg_running; then
        log "postgres: not running"
        return 0
    fi
    t0=$EPOCHREALTIME
    log "postgres: stopping pid $(pg_postmaster_pid) (-m $mode)..."
    # fast = SIGINT (abort sessions, clean checkpoint); immediate = SIGQUIT.
    if ! as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m "$mode" -w -t "$PG_STOP_TIMEOUT" >/dev/null 2>&1; then
        err "postgres: not stopped after ${PG_STOP_TIMEOUT}s, sending SIGKILL"
        local pid
        pid="$(pg_postmaster_pid)"
        [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
        sleep 1
    fi
    log "postgres: stopped in $(elapsed "$t0")s"
}

pg_status() {
    if pg_external; then
        if "$PG_BIN/pg_isready" -q -d "$DATABASE_URL" -t 3; then
            log "postgres: external (DATABASE_URL), accepting connections"; return 0
        fi
        log "postgres: external (DATABASE_URL), NOT accepting connections"; return 1
    fi
    if ! pg_running; then
        log "postgres: stopped"; return 1
    fi
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 3; then
        log "postgres: running, accepting connections (pid $(pg_postmaster_pid), 127.0.0.1:$PG_PORT)"; return 0
    fi
    log "postgres: running, NOT accepting connections (pid $(pg_postmaster_pid), 127.0.0.1:$PG_PORT)"; return 1
}

# ---------------------------------------------------------------- commands

services_of() {  # normalise the optional service argument
    case "${1:-all}" in
        all) echo "kafka postgres" ;;
        kafka | postgres) echo "$1" ;;
        *) err "unknown service '$1' (kafka|postgres|all)"; exit 2 ;;
    esac
}

cmd_start() {
    local svcs rc=0
    svcs="$(services_of "${1:-all}")"
    take_lock
    if (( KAFKA_BROKERS > 1 )) && ! kafka_external; then
        if [[ "$svcs" == *kafka* ]]; then kafka_cluster_launch || rc=1; fi
        if [[ "$svcs" == *postgres* ]]; then pg_start || rc=1; fi
        if [[ "$svcs" == *kafka* ]]; then kafka_cluster_wait || rc=1; fi
    elif [[ "$svcs" == "kafka postgres" ]]; then
        # Overlap: the broker JVM boots while PostgreSQL starts.
        if kafka_external; then
            kafka_start || rc=1
        else
            kafka_launch || rc=1
        fi
        pg_start || rc=1
        (( rc == 0 )) && { kafka_wait || rc=1; }
        # If PostgreSQL failed, still wait for the broker so it is not left half-started.
        (( rc != 0 )) && [[ -n "$KAFKA_LAUNCH_T0" ]] && { kafka_wait || true; }
    else
        case "$svcs" in
            kafka) kafka_start || rc=1 ;;
            postgres) pg_start || rc=1 ;;
        esac
    fi
    return "$rc"
}

cmd_stop() {
    local svcs rc=0 s
    svcs="$(services_of "${1:-all}")"
    take_lock
    for s in $svcs; do
        if [[ "$s" == kafka ]] && (( KAFKA_BROKERS > 1 )) && ! kafka_external; then
            kafka_cluster_stop TERM || rc=1
            continue
        fi
        case "$s" in
            kafka) kafka_stop TERM || rc=1 ;;
            postgres) pg_stop fast || rc=1 ;;
        esac
    done
    return "$rc"
}

cmd_status() {
    local rc=0
    if (( KAFKA_BROKERS > 1 )) && ! kafka_external; then
        kafka_cluster_status || rc=3
    else
        kafka_status || rc=3
    fi
    pg_status || rc=3
    return "$rc"
}

cmd_env() {
    local bootstrap="$OWN_BOOTSTRAP" url="$LOCAL_DATABASE_URL"
    kafka_external && bootstrap="$KAFKA_BOOTSTRAP_SERVERS"
    pg_external && url="$DATABASE_URL"
    printf "export KAFKA_BOOTSTRAP_SERVERS='%s'\n" "$bootstrap"
    printf "export DATABASE_URL='%s'\n" "$url"
}

cmd_restart_kafka() {
    take_lock
    if kafka_external; then
        err "kafka: external broker ($KAFKA_BOOTSTRAP_SERVERS); cannot restart it from here"
        return 1
    fi
    local sig=TERM node=""
    while (( $# )); do
        case "$1" in
            --hard) sig=KILL ;;
            --node) node="${2:-}"; shift ;;
            *) err "restart-kafka: unknown option $1"; return 2 ;;
        esac
        shift
    done
    if (( KAFKA_BROKERS > 1 )); then
        kafka_cluster_restart_node "$node" "$sig"
        return
    fi
    kafka_stop "$sig"
    kafka_start
}

cmd_restart_postgres() {
    take_lock
    if pg_external; then
        err "postgres: external DATABASE_URL; cannot restart it from here"
        return 1
    fi
    if [[ "${1:-}" == "--hard" ]]; then pg_stop immediate; else pg_stop fast; fi
    pg_start
}

cmd_logs() {
    local s
    for s in $(services_of "${1:-all}"); do
        case "$s" in
            kafka) show_log_tail kafka "$KAFKA_LOGS/kafka.out" "$KAFKA_LOGS/server.log" 2>&1 ;;
            postgres) show_log_tail postgres "$PG_LOG" 2>&1 ;;
        esac
    done
}

cmd_kafka_run_class() {
    (( $# )) || { err "usage: stack.sh kafka-run-class <main-class> [args...]"; return 2; }
    "$SCRIPT_DIR/kafka/fetch-jars.sh" >&2 || return 1
    kafka_java "$@"
}

cmd_install() {
    local pkgs=()
    [[ -x "$PG_BIN/postgres" ]] || pkgs+=(postgresql)
    command -v "$JAVA" >/dev/null || pkgs+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null || pkgs+=(maven)
    # The dashboard's browser test drives Debian's Chromium (never a downloaded browser).
    command -v chromium >/dev/null || pkgs+=(chromium)
    # Prometheus (and promtool for the rule tests); `deskpemilu up` runs it as a local process.
    command -v prometheus >/dev/null && command -v promtool >/dev/null || pkgs+=(prometheus)
    # curl fetches the s3proxy jar from Maven Central (over HTTPS: the CA certificates).
    command -v curl >/dev/null || pkgs+=(curl)
    [[ -f /etc/ssl/certs/ca-certificates.crt ]] || pkgs+=(ca-certificates)
    if (( ${#pkgs[@]} )); then
        log "install: apt-get install ${pkgs[*]}..."
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y --no-install-recommends "${pkgs[@]}" ||
            { apt-get update && apt-get install -y --no-install-recommends "${pkgs[@]}"; }
    else
        log "install: postgresql, java, maven, chromium, prometheus and curl already present"
    fi
    prometheus_disable_system_service
    ensure_run_dir
    "$SCRIPT_DIR/kafka/fetch-jars.sh"
    # The S3 server the photo store is tested against (and may run on one machine): s3proxy,
    # one jar from Maven Central, checked against its .sha1, cached outside the checkout.
    "$SCRIPT_DIR/s3/install-s3proxy.sh"
}

prometheus_disable_system_service() {
    # Debian's package enables a system-wide prometheus on :9090 (and may start it under
    # systemd): the desk runs its own, so that one must neither run nor hold the port.
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null &&
        systemctl list-unit-files prometheus.service >/dev/null 2>&1; then
        systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    elif [[ -x /etc/init.d/prometheus ]] && command -v update-rc.d >/dev/null; then
        /etc/init.d/prometheus stop >/dev/null 2>&1 || true
        update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

main() {
    local cmd="${1:-}"
    (( $# )) && shift
    case "$cmd" in
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        status) cmd_status ;;
        env) cmd_env ;;
        restart-kafka) cmd_restart_kafka "$@" ;;
        restart-postgres) cmd_restart_postgres "$@" ;;
        logs) cmd_logs "$@" ;;
        kafka-run-class) cmd_kafka_run_class "$@" ;;
        install) cmd_install ;;
        -h | --help | help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
