#!/usr/bin/env bash
# Build SeaweedFS's `weed` (the S3 server the photo store's tests run against) from the Go module
# proxy, once: the binary is kept in a cache folder outside the checkout, so a second run (and a
# fresh clone on the same machine) only links it. Debian 12 has no seaweedfs package.
#
#   deploy/s3/install-seaweedfs.sh     -> $RUN_DIR/tools/bin/weed
#
# Environment: SEAWEEDFS_VERSION (Go pseudo-version), DESKPEMILU_TOOLS_CACHE (default
# ~/.cache/deskpemilu/tools), RUN_DIR (default <repo>/.run).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
RUN_DIR="${RUN_DIR:-$REPO_ROOT/.run}"
VERSION="${SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}"
CACHE="${DESKPEMILU_TOOLS_CACHE:-${HOME:-/root}/.cache/deskpemilu/tools}"
BUILT="$CACHE/seaweedfs-$VERSION/weed"
LINK="$RUN_DIR/tools/bin/weed"

log() { printf '[install-seaweedfs] %s\n' "$*" >&2; }

if [[ ! -x "$BUILT" ]]; then
    GO="$(command -v go || echo /usr/local/go/bin/go)"
    [[ -x "$GO" ]] || { log "no Go toolchain: cannot build weed (S3 tests will skip)"; exit 1; }
    log "building weed $VERSION from the Go module proxy (takes minutes the first time)..."
    # The module has replace directives, so `go install mod@version` refuses it: download the
    # module, build it as the main module from a writable copy.
    src_dir="$("$GO" mod download -json "github.com/seaweedfs/seaweedfs@$VERSION" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
    [[ -d "$src_dir" ]] || { log "module download failed"; exit 1; }
    # A fixed folder: a rebuild after an interrupted one reuses Go's build cache.
    work="$CACHE/seaweedfs-src-$VERSION"
    rm -rf "$work"
    mkdir -p "$work"
    cp -r "$src_dir/." "$work/"
    chmod -R u+w "$work"
    mkdir -p "$(dirname "$BUILT")"
    (cd "$work" && GOFLAGS=-mod=mod nice "$GO" build -o "$BUILT.tmp" ./weed)
    mv "$BUILT.tmp" "$BUILT"
    rm -rf "$work"
fi
mkdir -p "$(dirname "$LINK")"
ln -sfn "$BUILT" "$LINK"
log "weed ready: $LINK -> $BUILT"
