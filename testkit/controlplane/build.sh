#!/usr/bin/env bash
# Builds the pinned control-plane binaries (kube-apiserver, etcd) that Weighbridge's tests run, into
#   $WEIGHBRIDGE_CACHE/controlplane/<key>/bin/
# and prints that bin directory on stdout (everything else goes to stderr).
#
# <key> is a hash of this module's go.mod, go.sum, Go sources and build recipe, so a version bump builds a new
# directory while an unchanged module finds its binaries in the cache and returns at once (no Go call at all).
# A build goes to a temporary directory that is renamed into place when complete; concurrent invocations
# serialise on a per-key flock, so a second caller waits and then reuses the first caller's result.
#
# Environment: WEIGHBRIDGE_CACHE (default ~/.cache/weighbridge), GO (default: `go` on PATH, /usr/local/go/bin/go),
# GOFLAGS/GOMAXPROCS/GOPROXY as usual for Go. The Go module and build caches stay in their defaults, so a rebuild
# after a version bump only recompiles what changed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${WEIGHBRIDGE_CACHE:-$HOME/.cache/weighbridge}
log() { echo "controlplane: $*" >&2; }

# What is built and how; part of the cache key, so changing it rebuilds.
recipe="v1 CGO_ENABLED=0 -trimpath -buildvcs=false -ldflags=-s -w (+version stamps) ./cmd/etcd k8s.io/kubernetes/cmd/kube-apiserver"
binaries=(etcd kube-apiserver)

cd "$here"
key=$(
  {
    printf '%s\n' "$recipe"
    cat go.mod go.sum
    find cmd -name '*.go' -print0 | sort -z | xargs -0 cat
  } | sha256sum | cut -c1-16
)
root="$cache/controlplane"
dest="$root/$key"

complete() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$dest/bin/$b" ]] || return 1; done
}

if complete; then
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
if complete; then
  log "built meanwhile by another process: $dest/bin"
  echo "$dest/bin"
  exit 0
fi

GO=${GO:-$(command -v go || true)}
[[ -n "$GO" ]] || { [[ -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go; }
[[ -n "$GO" ]] || {
  log "no Go toolchain found: install Go 1.24 or newer, put it on PATH or set GO=/path/to/go"
  exit 1
}

tmp=$(mktemp -d "$root/.tmp-$key.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

log "building kube-apiserver and etcd (key $key) with $("$GO" version); with cold Go caches this downloads modules" \
  "and compiles for several minutes"
start=$SECONDS

# Stamp the Kubernetes version the way its own build does, so /version reports v1.34.1 rather than v0.0.0-master.
kver=$("$GO" list -m -f '{{.Version}}' k8s.io/kubernetes)
kminor=${kver#v1.}
kminor=${kminor%%.*}
stamp=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamp+=" -X $pkg.gitVersion=$kver -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kminor -X $pkg.gitTreeState=clean"
done

CGO_ENABLED=0 "$GO" build -trimpath -buildvcs=false -ldflags "-s -w$stamp" -o "$tmp/bin/" \
  ./cmd/etcd k8s.io/kubernetes/cmd/kube-apiserver
{
  echo "key: $key"
  echo "go: $("$GO" version)"
  "$GO" list -m -f '{{.Path}} {{.Version}}' k8s.io/kubernetes go.etcd.io/etcd/server/v3
} >"$tmp/VERSIONS"
log "downloaded and compiled in $((SECONDS - start)) s: $(cd "$tmp/bin" && du -sh -- * | tr '\t\n' ' ')"

mv -T "$tmp" "$dest"
trap - EXIT
# Older keys are left alone (another checkout may still use them); `rm -rf "$root"` clears everything.
log "ready: $dest/bin"
echo "$dest/bin"
