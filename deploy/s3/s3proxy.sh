#!/usr/bin/env bash
# Run s3proxy (fetched by deploy/s3/install-s3proxy.sh) in the foreground: an S3-compatible
# server on one machine, objects as files under a folder (jclouds' `filesystem` provider),
# requests signed with AWS v2 or v4 and checked against one identity from the environment.
#
#   S3_ACCESS_KEY=... S3_SECRET_KEY=... deploy/s3/s3proxy.sh
#
# Environment: S3_ACCESS_KEY, S3_SECRET_KEY (required; the same the desk's S3 store signs with),
#   S3PROXY_PORT (9000), S3PROXY_HOST (127.0.0.1), S3PROXY_DIR (<RUN_DIR>/s3proxy: the objects go
#   to data/, the generated configuration, mode 600, to s3proxy.properties),
#   S3PROXY_JAR (<RUN_DIR>/tools/s3proxy.jar), S3PROXY_HEAP_OPTS (-Xms64m -Xmx512m), JAVA (java),
#   LOG_LEVEL (s3proxy's, default warn).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
RUN_DIR="${RUN_DIR:-$REPO_ROOT/.run}"
PORT="${S3PROXY_PORT:-9000}"
HOST="${S3PROXY_HOST:-127.0.0.1}"
DIR="${S3PROXY_DIR:-$RUN_DIR/s3proxy}"
JAR="${S3PROXY_JAR:-$RUN_DIR/tools/s3proxy.jar}"
JAVA="${JAVA:-java}"

[[ -n "${S3_ACCESS_KEY:-}" && -n "${S3_SECRET_KEY:-}" ]] ||
    { echo "s3proxy: S3_ACCESS_KEY and S3_SECRET_KEY must be set" >&2; exit 2; }
[[ -f "$JAR" ]] || { echo "s3proxy: $JAR missing (run: deploy/stack.sh install)" >&2; exit 1; }

mkdir -p "$DIR/data"
DIR="$(cd "$DIR" && pwd)"
# The credentials go to a file only its owner reads, not to the command line (ps shows that).
(
    umask 077
    cat >"$DIR/s3proxy.properties.tmp" <<PROPS
s3proxy.endpoint=http://$HOST:$PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$S3_ACCESS_KEY
s3proxy.credential=$S3_SECRET_KEY
jclouds.provider=filesystem
jclouds.filesystem.basedir=$DIR/data
PROPS
    mv "$DIR/s3proxy.properties.tmp" "$DIR/s3proxy.properties"
)
export LOG_LEVEL="${LOG_LEVEL:-warn}"
# shellcheck disable=SC2086  # the heap options are several words
exec "$JAVA" ${S3PROXY_HEAP_OPTS:--Xms64m -Xmx512m} -jar "$JAR" --properties "$DIR/s3proxy.properties"
