#!/usr/bin/env bash
# Builds Traefik v3.6.12 (github.com/traefik/traefik/v3/cmd/traefik), the real north/south gateway of `make demo` and
# `make e2e`, into
#   $WEIGHBRIDGE_CACHE/traefik/<key>/bin/traefik
# and prints that bin directory on stdout (everything else goes to stderr).
#
# <key> is a hash of this module's go.mod, go.sum and the build recipe, so a version bump builds a new directory
# while an unchanged module finds its binary in the cache and returns at once (no Go call at all). A build goes to a
# temporary directory that is renamed into place when complete; concurrent invocations serialise on a per-key flock,
# so a second caller waits and then reuses the first caller's result. Cold: ~9 min on 2 idle cores (a 170 MB
# compile), longer on a loaded machine; see e2e/README.md for measured timings.
#
# Environment: WEIGHBRIDGE_CACHE (default ~/.cache/weighbridge), GO (default: `go` on PATH, /usr/local/go/bin/go),
# GOFLAGS/GOMAXPROCS/GOPROXY as usual for Go.
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

if [[ -x "$dest/bin/traefik" ]]; then
  log "cached: $dest/bin"
  echo "$dest/bin"
  exit 0
fi

mkdir -p "$root"
exec 9>"$root/.lock-$key"
if ! flock -n 9; then
  log "another build of $key is running; waiting for it"
  flock 9
fi
if [[ -x "$dest/bin/traefik" ]]; then
  log "built meanwhile by another process: $dest/bin"
  echo "$dest/bin"
  exit 0
fi

GO=${GO:-$(command -v go || true)}
[[ -n "$GO" ]] || { [[ -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go; }
[[ -n "$GO" ]] || {
  log "no Go toolchain found: install Go 1.25 or newer, put it on PATH or set GO=/path/to/go"
  exit 1
}

tmp=$(mktemp -d "$root/.tmp-$key.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

log "building traefik (key $key) with $("$GO" version); with cold Go caches this downloads modules and compiles" \
  "for 9 minutes or more"
start=$SECONDS
tver=$("$GO" list -m -f '{{.Version}}' github.com/traefik/traefik/v3)
CGO_ENABLED=0 "$GO" build -trimpath -buildvcs=false -o "$tmp/bin/" \
  -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$tver" \
  github.com/traefik/traefik/v3/cmd/traefik
{
  echo "key: $key"
  echo "go: $("$GO" version)"
  echo "github.com/traefik/traefik/v3 $tver"
} >"$tmp/VERSIONS"
log "downloaded and compiled in $((SECONDS - start)) s: $(du -sh "$tmp/bin/traefik" | cut -f1)"

mv -T "$tmp" "$dest"
trap - EXIT
# Older keys are left alone (another checkout may still use them); `rm -rf "$root"` clears everything.
log "ready: $dest/bin"
echo "$dest/bin"
