#!/usr/bin/env bash
# Builds Traefik v3.6.12 (github.com/traefik/traefik/v3/cmd/traefik), the real north/south gateway of `make demo` and
# `make e2e`, into
#   $WEIGHBRIDGE_CACHE/traefik/<key>/bin/traefik
# and prints that bin directory on stdout (everything else goes to stderr).
#
# <key> is a hash of this module's go.mod, go.sum and the build recipe, so a version bump builds a new directory
# while an unchanged module finds its binary in the cache and returns at once (no Go call at all). The cache, lock and
# temporary-directory handling is testkit/lib/cached-build.sh, shared with the control plane's build.sh. Cold: ~9 min
# on 2 idle cores (a 170 MB compile), longer on a loaded machine; see e2e/README.md for measured timings.
#
# Environment: WEIGHBRIDGE_CACHED_ONLY=1 exits 3 instead of building; WEIGHBRIDGE_CACHE (default
# ~/.cache/weighbridge), GO (default: `go` on PATH, /usr/local/go/bin/go), GOFLAGS/GOMAXPROCS/GOPROXY as usual for Go.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${WEIGHBRIDGE_CACHE:-$HOME/.cache/weighbridge}
log() { echo "traefik: $*" >&2; }

# What is built and how; part of the cache key, so changing it rebuilds.
recipe="v1 CGO_ENABLED=0 -trimpath -buildvcs=false -ldflags=-s -w (+version stamp) github.com/traefik/traefik/v3/cmd/traefik"

cd "$here"
key=$({
  printf '%s\n' "$recipe"
  cat go.mod go.sum
} | sha256sum | cut -c1-16)
root="$cache/traefik"
dest="$root/$key"

complete() { [[ -x "$dest/bin/traefik" ]]; }
what="Traefik"
go_min=1.25
# shellcheck source=../lib/cached-build.sh
source "$here/../lib/cached-build.sh"
cached_build_begin

log "building traefik (key $key) with $("$GO" version); with cold Go caches this downloads modules and compiles" \
  "for 9 minutes or more"
tver=$("$GO" list -m -f '{{.Version}}' github.com/traefik/traefik/v3)
CGO_ENABLED=0 "$GO" build -trimpath -buildvcs=false -o "$tmp/bin/" \
  -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$tver" \
  github.com/traefik/traefik/v3/cmd/traefik
{
  echo "key: $key"
  echo "go: $("$GO" version)"
  echo "github.com/traefik/traefik/v3 $tver"
} >"$tmp/VERSIONS"
cached_build_finish
