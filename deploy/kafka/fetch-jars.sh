#!/usr/bin/env bash
# Copy every runtime jar of the pinned Kafka broker (deploy/kafka/pom.xml) into
# $RUN_DIR/kafka/libs, so `java -cp "$libs/*" kafka.Kafka` works without the
# Apache tarball (not reachable here; Maven Central is).
#
# Fast paths, in order:
#   1. libs/ populated and its stamp == sha256(pom.xml)   -> nothing to do (no JVM).
#   2. classpath list cached for this pom sha, all jars   -> plain cp from ~/.m2
#      still in ~/.m2 (e.g. after `rm -rf .run`)             (~0.2 s, no Maven JVM).
#   3. mvn -o (offline) from ~/.m2                        -> ~5 s, no network.
#   4. mvn online                                         -> first run only.
# Usage: deploy/kafka/fetch-jars.sh [--force]   (--force: skip 1 and 2)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
RUN_DIR="${RUN_DIR:-$REPO_ROOT/.run}"
POM="$SCRIPT_DIR/pom.xml"
LIBS="$RUN_DIR/kafka/libs"
STAMP="$RUN_DIR/kafka/libs.stamp"
FETCH_LOG="$RUN_DIR/kafka/fetch.log"
# Outside RUN_DIR on purpose: survives `rm -rf .run`, like ~/.m2 itself.
CP_CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/deskpemilu"
# Extra Maven flags, e.g. MVN_EXTRA_ARGS="-Dmaven.repo.local=/tmp/m2" to time a cold fetch.
MVN_EXTRA_ARGS="${MVN_EXTRA_ARGS:-}"
TMP_LIBS=""  # global: the EXIT trap runs after main() has returned

log() { echo "kafka: $*"; }

pom_sha() { sha256sum "$POM" | cut -d' ' -f1; }

up_to_date() {
    [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(pom_sha)" ]] &&
        compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null
}

copy_from_classpath_cache() {  # $1 = output dir, $2 = cached classpath file
    local out="$1" cpfile="$2" jar
    local -a jars
    [[ -s "$cpfile" ]] || return 1
    # mapfile, not `while read`: Maven writes the file without a trailing
    # newline, and `read` silently drops such a last entry (it was log4j-core).
    mapfile -t jars < <(tr ':' '\n' <"$cpfile")
    mkdir -p "$out"
    for jar in "${jars[@]}"; do
        [[ -n "$jar" ]] || continue
        [[ -f "$jar" ]] || return 1  # pruned from ~/.m2: let Maven redo it
        cp "$jar" "$out/"
    done
    # Same number of jars as classpath entries, or fall back to Maven.
    (( $(find "$out" -name '*.jar' | wc -l) == ${#jars[@]} ))
}

maven_copy() {  # $1 = output dir, $2 = classpath file to write, rest = extra mvn flags
    local out="$1" cpfile="$2"; shift 2
    # One Maven run, two goals: copy the jars, and record where they live in
    # ~/.m2 (the classpath file) for fast path 2 next time.
    # -B: no ANSI colours in logs; --no-transfer-progress keeps online runs quiet.
    # shellcheck disable=SC2086  # MVN_EXTRA_ARGS is intentionally word-split
    mvn -B -q --no-transfer-progress -f "$POM" "$@" $MVN_EXTRA_ARGS \
        dependency:copy-dependencies dependency:build-classpath \
        -DincludeScope=runtime -DoutputDirectory="$out" -Dmdep.outputFile="$cpfile"
}

main() {
    local force=0
    [[ "${1:-}" == "--force" ]] && force=1
    if (( !force )) && up_to_date; then
        log "jars up to date ($(find "$LIBS" -name '*.jar' | wc -l) in $LIBS)"
        return 0
    fi

    mkdir -p "$RUN_DIR/kafka" "$CP_CACHE_DIR"
    local sha cpfile
    sha="$(pom_sha)"
    cpfile="$CP_CACHE_DIR/kafka-classpath-$sha.txt"
    # Build into a temp dir and swap it in, so an interrupted fetch never leaves a
    # half-populated libs/ that a later start would happily put on the classpath.
    TMP_LIBS="$RUN_DIR/kafka/libs.tmp.$$"
    local tmp="$TMP_LIBS"
    rm -rf "$tmp"
    trap 'rm -rf "$TMP_LIBS"' EXIT

    local t0=$EPOCHREALTIME mode
    if (( !force )) && copy_from_classpath_cache "$tmp" "$cpfile"; then
        mode="copied from ~/.m2 via cached classpath"
    else
        rm -rf "$tmp"
        command -v mvn >/dev/null || { echo "kafka: mvn not found (deploy/stack.sh install)" >&2; return 1; }
        mode=offline
        log "fetching jars (trying offline from ~/.m2 first)..."
        if ! maven_copy "$tmp" "$cpfile" -o >"$FETCH_LOG" 2>&1; then
            mode=online
            log "not all jars cached, downloading from Maven Central..."
            rm -rf "$tmp"
            if ! maven_copy "$tmp" "$cpfile" >>"$FETCH_LOG" 2>&1; then
                rm -f "$cpfile"
                echo "kafka: jar fetch FAILED; last lines of $FETCH_LOG:" >&2
                tail -n 30 "$FETCH_LOG" >&2
                return 1
            fi
        fi
    fi
    rm -rf "$LIBS"
    mv "$tmp" "$LIBS"
    echo "$sha" >"$STAMP"
    local version
    version="$(basename "$(compgen -G "$LIBS/kafka_2.13-*.jar")" .jar)"
    log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars ($version, $mode) in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')s"
}

main "$@"
