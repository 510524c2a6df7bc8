#!/usr/bin/env bash
# Resolves the upstream files that Weighbridge's tests, e2e and demo install (CRDs, Argo's install manifest) from the
# Go modules pinned in go.sum beside this script, into
#   $WEIGHBRIDGE_CACHE/upstream/<key>/
#     crds/gateway-api-<version>-standard.yaml      config/crd/standard/gateway*.yaml of sigs.k8s.io/gateway-api
#     crds/gateway-api-<version>-experimental.yaml  config/crd/experimental/gateway*.yaml (both: CRDs only)
#     crds/argo-rollouts-<version>-crds.yaml        manifests/crds/*-crd.yaml of github.com/argoproj/argo-rollouts
#     manifests/argo-rollouts-<version>-install.yaml  manifests/install.yaml of argo-rollouts, unchanged
#     VERSIONS                                      each module@version and its checksum
# and prints that directory on stdout (everything else goes to stderr).
#
# A bundle is what upstream's own release assembles (gateway-api's hack/build-install-yaml.sh concatenates
# config/crd/<channel>/gateway*.yaml) minus documents that are not CRDs: from v1.5 the channel folders also hold a
# ValidatingAdmissionPolicy (…_vap_safeupgrades.yaml), which is left out and named on stderr.
#
# Every module@version listed in go.sum is downloaded with `go mod download`, which checks it against go.sum and
# fails on a mismatch; this script checks the reported hash against go.sum once more. <key> is a hash of go.mod,
# go.sum and this script, so a pin change resolves a new directory while an unchanged one returns at once (no Go
# call at all). Concurrent callers serialise on a per-key flock, like ../controlplane/build.sh.
#
# Environment: WEIGHBRIDGE_CACHE (default ~/.cache/weighbridge), GO (default: what scripts/find-go finds),
# GOPROXY/GOMODCACHE as usual for Go.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${WEIGHBRIDGE_CACHE:-$HOME/.cache/weighbridge}
log() { echo "upstream: $*" >&2; }

cd "$here"
key=$(cat go.mod go.sum "$here/$(basename "${BASH_SOURCE[0]}")" | sha256sum | cut -c1-16)
root="$cache/upstream"
dest="$root/$key"

if [[ -s "$dest/VERSIONS" ]]; then
  log "cached: $dest"
  echo "$dest"
  exit 0
fi

mkdir -p "$root"
exec 9>"$root/.lock-$key"
if ! flock -n 9; then
  log "another resolve of $key is running; waiting for it"
  flock 9
fi
if [[ -s "$dest/VERSIONS" ]]; then
  log "resolved meanwhile by another process: $dest"
  echo "$dest"
  exit 0
fi

GO=${GO:-$("$here/../../scripts/find-go")}

tmp=$(mktemp -d "$root/.tmp-$key.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/crds" "$tmp/manifests"
start=$SECONDS

# Appends the CRD files $3... of module $1 (its folder $2) to bundle file $out, each under a comment naming its
# source; a file without a CRD is skipped (named on stderr), a file mixing CRDs and other kinds is an error.
bundle() {
  local module=$1 dir=$2 out=$3 f kinds
  shift 3
  for f in "$@"; do
    kinds=$(grep -E '^kind:' "$f" | sort -u)
    if [[ "$kinds" != *CustomResourceDefinition* ]]; then
      log "leaving out $module ${f#"$dir"/} (not a CRD: ${kinds//$'\n'/, })"
      continue
    fi
    [[ "$kinds" == "kind: CustomResourceDefinition" ]] || {
      log "${f#"$dir"/} of $module mixes CRDs with ${kinds//$'\n'/, }; cannot bundle it"
      exit 1
    }
    printf -- '---\n# %s %s\n' "$module" "${f#"$dir"/}"
    sed '1{/^---$/d}' "$f"
  done >>"$out"
}

# go.sum lines without /go.mod are the pinned modules' own hashes.
while read -r path version sum; do
  [[ "$version" == */go.mod ]] && continue
  info=$(GOWORK=off "$GO" mod download -json "$path@$version") || {
    log "go mod download $path@$version failed (its error is above): $info"
    exit 1
  }
  dir=$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"$info")
  got=$(sed -n 's/^\t"Sum": "\(.*\)",$/\1/p' <<<"$info")
  [[ "$got" == "$sum" && -d "$dir" ]] || {
    log "$path@$version: go mod download reported hash '$got' (dir '$dir'), go.sum pins $sum; refusing it"
    exit 1
  }
  echo "$path $version $sum" >>"$tmp/VERSIONS.tmp"
  case "$path" in
    sigs.k8s.io/gateway-api)
      for channel in standard experimental; do
        bundle "$path@$version" "$dir" "$tmp/crds/gateway-api-$version-$channel.yaml" \
          "$dir"/config/crd/"$channel"/gateway*.yaml
      done
      ;;
    github.com/argoproj/argo-rollouts)
      bundle "$path@$version" "$dir" "$tmp/crds/argo-rollouts-$version-crds.yaml" "$dir"/manifests/crds/*-crd.yaml
      cp "$dir/manifests/install.yaml" "$tmp/manifests/argo-rollouts-$version-install.yaml"
      ;;
    *)
      log "go.sum pins $path, which this script does not know what to take from; add a case for it"
      exit 1
      ;;
  esac
done <go.sum
chmod -R a+rX,go-w "$tmp"
mv "$tmp/VERSIONS.tmp" "$tmp/VERSIONS"
log "resolved in $((SECONDS - start)) s: $(cd "$tmp" && ls crds manifests | grep -c yaml) files"

mv -T "$tmp" "$dest"
trap - EXIT
# Older keys are left alone (another checkout may still use them); `rm -rf "$root"` clears everything.
log "ready: $dest"
echo "$dest"
