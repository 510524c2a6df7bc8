#!/usr/bin/env bash
# Builds the pinned control-plane binaries that Weighbridge's tests run, into
#   $WEIGHBRIDGE_CACHE/controlplane/<key>/bin/
# and prints that bin directory on stdout (everything else goes to stderr).
#
#   build.sh        kube-apiserver and etcd (the integration tests)
#   build.sh e2e    those plus kube-controller-manager (this module), kwok (./kwok, its own module: KWOK builds
#                   against a newer Kubernetes client) and Argo's rollouts-controller v1.9.1 (./rollouts, its own
#                   module with Argo's replace directives); the end-to-end tests
#   build.sh kubectl   kubectl of the same Kubernetes release (./kubectl, its own module: kubectl's dependencies
#                   are not in this module's go.sum, and changing it would rebuild every set); the operator-doc
#                   test (charts OperatorDocsIT) runs the docs' kubectl commands with it
#   build.sh rollouts-v1.10
#                   only Argo's rollouts-controller v1.10.2 (./rollouts-v1.10, its own module; Argo v1.10 needs Go >=
#                   1.26.10, so this set builds with GOTOOLCHAIN=go1.27.3, which the Go module proxy serves); the
#                   e2e scenarios on the newest supported Argo take the rest from `build.sh e2e` (make e2e-argo110)
#   build.sh node   kubelet, kube-proxy and kube-scheduler of the same Kubernetes release (./node, its own module:
#                   kubelet needs go.sum entries this module lacks, and changing it would rebuild every set) plus
#                   pause (./node/pause, the sandbox image's one static binary); the real-node e2e (make e2e-node)
#                   takes the rest from `build.sh e2e`
#   build.sh helm   the helm CLI v3.19.5 (./helm, its own module); make e2e-node installs charts/weighbridge with it
#
# <key> is a hash of the set, the modules' go.mod, go.sum, Go sources and build recipe, so a version bump builds a new
# directory while an unchanged module finds its binaries in the cache and returns at once (no Go call at all).
# A build goes to a temporary directory that is renamed into place when complete; concurrent invocations
# serialise on a per-key flock, so a second caller waits and then reuses the first caller's result
# (testkit/lib/cached-build.sh, shared with testkit/traefik/build.sh).
#
# Environment: WEIGHBRIDGE_CACHED_ONLY=1 exits 3 instead of building a set that is not cached (CI asks so before it
# runs make e2e-node); WEIGHBRIDGE_CACHE (default ~/.cache/weighbridge), GO (default: `go` on PATH, /usr/local/go/bin/go),
# GOFLAGS/GOMAXPROCS/GOPROXY as usual for Go. The Go module and build caches stay in their defaults, so a rebuild
# after a version bump only recompiles what changed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${WEIGHBRIDGE_CACHE:-$HOME/.cache/weighbridge}
log() { echo "controlplane: $*" >&2; }

set_=${1:-core}
# What is built and how; part of the cache key, so changing it rebuilds.
recipe="v1 CGO_ENABLED=0 -trimpath -buildvcs=false -ldflags=-s -w (+version stamps) ./cmd/etcd k8s.io/kubernetes/cmd/kube-apiserver"
binaries=(etcd kube-apiserver)
files=()
modules=(.)
case "$set_" in
  core) ;;
  e2e)
    recipe+=" k8s.io/kubernetes/cmd/kube-controller-manager kwok:sigs.k8s.io/kwok/cmd/kwok+fast-stages"
    recipe+=" rollouts:github.com/argoproj/argo-rollouts/cmd/rollouts-controller"
    binaries+=(kube-controller-manager kwok rollouts-controller)
    files=(kwok-stages.yaml)
    modules+=(kwok rollouts)
    ;;
  kubectl)
    recipe="v1 CGO_ENABLED=0 -trimpath -buildvcs=false -ldflags=-s -w (+version stamps) kubectl:."
    binaries=(kubectl)
    modules=(kubectl)
    ;;
  rollouts-v1.10)
    # Its own key (only this module): the core and e2e sets and their caches are untouched by it.
    recipe="v1 CGO_ENABLED=0 -trimpath -buildvcs=false -ldflags=-s -w (+version stamp) GOTOOLCHAIN=go1.27.3"
    recipe+=" rollouts-v1.10:github.com/argoproj/argo-rollouts/cmd/rollouts-controller"
    binaries=(rollouts-controller)
    modules=(rollouts-v1.10)
    export GOTOOLCHAIN=go1.27.3
    ;;
  node)
    # Its own key (only ./node): the core and e2e sets and their caches are untouched by it.
    recipe="v1 CGO_ENABLED=0 -trimpath -buildvcs=false -ldflags=-s -w (+version stamps) node:k8s.io/kubernetes/cmd/kubelet"
    recipe+=" node:k8s.io/kubernetes/cmd/kube-proxy node:k8s.io/kubernetes/cmd/kube-scheduler node:./pause"
    binaries=(kubelet kube-proxy kube-scheduler pause)
    modules=(node)
    ;;
  helm)
    recipe="v1 CGO_ENABLED=0 -trimpath -buildvcs=false -ldflags=-s -w (+version stamp) helm:helm.sh/helm/v3/cmd/helm"
    binaries=(helm)
    modules=(helm)
    ;;
  *)
    log "unknown set '$set_': use no argument (kube-apiserver, etcd), 'e2e' (plus kube-controller-manager, kwok," \
      "rollouts-controller), 'kubectl', 'rollouts-v1.10' (only rollouts-controller v1.10.2) , 'node' (kubelet," \
      "kube-proxy, kube-scheduler, pause) or 'helm'"
    exit 2
    ;;
esac

cd "$here"
key=$(
  {
    printf '%s\n' "$recipe"
    for m in "${modules[@]}"; do cat "$m/go.mod" "$m/go.sum"; done
    [[ "$set_" != kubectl ]] || cat kubectl/main.go
    [[ "$set_" != node ]] || cat node/pause/main.go
    [[ "$set_" == rollouts-v1.10 || "$set_" == node || "$set_" == helm ]] || find cmd -name '*.go' -print0 | sort -z | xargs -0 cat
  } | sha256sum | cut -c1-16
)
root="$cache/controlplane"
dest="$root/$key"

complete() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$dest/bin/$b" ]] || return 1; done
  for b in "${files[@]}"; do [[ -s "$dest/bin/$b" ]] || return 1; done
}

what="set $set_"
go_min=1.24
# shellcheck source=../lib/cached-build.sh
source "$here/../lib/cached-build.sh"
cached_build_begin

log "building ${binaries[*]} (key $key) with $("$GO" version); with cold Go caches this downloads modules" \
  "and compiles for several minutes"
build() { CGO_ENABLED=0 "$GO" build -trimpath -buildvcs=false -o "$tmp/bin/" "$@"; }
# Argo stamps its version the way its Makefile does, so the controller logs v1.9.1 rather than v99.
build_rollouts() {
  local aver
  aver=$(cd "$1" && "$GO" list -m -f '{{.Version}}' github.com/argoproj/argo-rollouts)
  (cd "$1" && build -ldflags "-s -w -X github.com/argoproj/argo-rollouts/utils/version.version=$aver" \
    github.com/argoproj/argo-rollouts/cmd/rollouts-controller)
  (cd "$1" && "$GO" list -m -f '{{.Path}} {{.Version}}' github.com/argoproj/argo-rollouts) >>"$tmp/VERSIONS"
}
if [[ "$set_" == helm ]]; then
  echo "key: $key" >"$tmp/VERSIONS"
  echo "go: $("$GO" version)" >>"$tmp/VERSIONS"
  hver=$(cd helm && "$GO" list -m -f '{{.Version}}' helm.sh/helm/v3)
  (cd helm && build -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$hver" helm.sh/helm/v3/cmd/helm)
  (cd helm && "$GO" list -m -f '{{.Path}} {{.Version}}' helm.sh/helm/v3) >>"$tmp/VERSIONS"
  cached_build_finish
fi
if [[ "$set_" == rollouts-v1.10 ]]; then
  echo "key: $key" >"$tmp/VERSIONS"
  echo "go: $("$GO" version)" >>"$tmp/VERSIONS"
  build_rollouts rollouts-v1.10
  cached_build_finish
fi

# Stamp the Kubernetes version the way its own build does, so /version reports v1.34.1 rather than v0.0.0-master.
kver=$("$GO" list -m -f '{{.Version}}' k8s.io/kubernetes)
kminor=${kver#v1.}
kminor=${kminor%%.*}
stamp=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamp+=" -X $pkg.gitVersion=$kver -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kminor -X $pkg.gitTreeState=clean"
done

k8s=(./cmd/etcd k8s.io/kubernetes/cmd/kube-apiserver)
[[ "$set_" == e2e ]] && k8s+=(k8s.io/kubernetes/cmd/kube-controller-manager)
if [[ "$set_" == kubectl ]]; then
  (cd kubectl && build -ldflags "-s -w$stamp" .)
elif [[ "$set_" == node ]]; then
  (cd node && build -ldflags "-s -w$stamp" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy \
    k8s.io/kubernetes/cmd/kube-scheduler ./pause)
else
  build -ldflags "-s -w$stamp" "${k8s[@]}"
fi
{
  echo "key: $key"
  echo "go: $("$GO" version)"
  "$GO" list -m -f '{{.Path}} {{.Version}}' k8s.io/kubernetes go.etcd.io/etcd/server/v3
} >"$tmp/VERSIONS"
if [[ "$set_" == e2e ]]; then
  build_rollouts rollouts
  (cd kwok && build -ldflags "-s -w" sigs.k8s.io/kwok/cmd/kwok)
  # KWOK has no built-in behaviour: its "fast" Stages (node Ready at once; pod scheduled -> Running and Ready;
  # deleted pod -> gone) come with its module and are written beside the binary, as kwok-stages.yaml.
  kdir=$(cd kwok && "$GO" list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  for f in "$kdir"/kustomize/stage/node/fast/node-initialize.yaml "$kdir"/kustomize/stage/pod/fast/pod-*.yaml; do
    echo "---"
    cat "$f"
  done >"$tmp/bin/kwok-stages.yaml"
  (cd kwok && "$GO" list -m -f '{{.Path}} {{.Version}}' sigs.k8s.io/kwok) >>"$tmp/VERSIONS"
fi
cached_build_finish
