#!/usr/bin/env bash
# Fetch s3proxy (the S3-compatible server the photo store is tested against, and can run on one
# machine) from Maven Central, once: the jar is kept in a cache folder outside the checkout and
# checked against the .sha1 Maven Central publishes beside it; the run folder gets a link.
#
#   deploy/s3/install-s3proxy.sh     -> $RUN_DIR/tools/s3proxy.jar
#
# The default version's SHA-1 is also pinned here, so the jar must match both this script and
# Maven Central's .sha1 (another version is checked against the .sha1 alone).
#
# Environment: S3PROXY_VERSION (default 4.1.0), MAVEN_CENTRAL (default
# https://repo1.maven.org/maven2), DESKPEMILU_TOOLS_CACHE (default ~/.cache/deskpemilu/tools),
# RUN_DIR (default <repo>/.run).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
RUN_DIR="${RUN_DIR:-$REPO_ROOT/.run}"
VERSION="${S3PROXY_VERSION:-4.1.0}"
PINNED_SHA1=""
[[ "$VERSION" == 4.1.0 ]] && PINNED_SHA1=0a0b89e982bc1b1b5757d45b61109e05a840dd87
CENTRAL="${MAVEN_CENTRAL:-https://repo1.maven.org/maven2}"
CACHE="${DESKPEMILU_TOOLS_CACHE:-${HOME:-/root}/.cache/deskpemilu/tools}"
NAME="s3proxy-$VERSION-jar-with-dependencies.jar"
URL="$CENTRAL/org/gaul/s3proxy/$VERSION/$NAME"
JAR="$CACHE/$NAME"
LINK="$RUN_DIR/tools/s3proxy.jar"

log() { printf 's3proxy: %s\n' "$*" >&2; }

verified() {  # the cached jar matches the .sha1 fetched with it
    [[ -f "$JAR" && -f "$JAR.sha1" ]] &&
        [[ "$(sha1sum "$JAR" | cut -d' ' -f1)" == "$(cut -d' ' -f1 <"$JAR.sha1")" ]]
}

if ! verified; then
    mkdir -p "$CACHE"
    tmp="$(mktemp -d "$CACHE/.fetch.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    log "fetching $NAME from Maven Central..."
    curl -fsSL --retry 3 -o "$tmp/$NAME.sha1" "$URL.sha1"
    curl -fsSL --retry 3 -o "$tmp/$NAME" "$URL"
    want="$(cut -d' ' -f1 <"$tmp/$NAME.sha1" | tr -d '[:space:]')"
    got="$(sha1sum "$tmp/$NAME" | cut -d' ' -f1)"
    [[ "$want" =~ ^[0-9a-f]{40}$ && "$got" == "$want" ]] ||
        { log "checksum mismatch for $URL (got $got, Maven Central says $want)"; exit 1; }
    [[ -z "$PINNED_SHA1" || "$got" == "$PINNED_SHA1" ]] ||
        { log "checksum mismatch for $URL (got $got, pinned $PINNED_SHA1)"; exit 1; }
    mv "$tmp/$NAME.sha1" "$JAR.sha1"
    mv "$tmp/$NAME" "$JAR"
fi
mkdir -p "$(dirname "$LINK")"
ln -sfn "$JAR" "$LINK"
log "ready: $LINK -> $JAR (sha1 $(cut -d' ' -f1 <"$JAR.sha1"))"
