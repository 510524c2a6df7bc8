#!/usr/bin/env bash
# Builds the images of the real-node e2e (make e2e-node) that take long, with buildah (no daemon, no registry), into
#   $WEIGHBRIDGE_CACHE/node-images/<key>/<name>.tar     (docker archives: `ctr images import` keeps their names)
# and prints that directory on stdout (everything else goes to stderr). Needs root, buildah and debootstrap.
#
#   localhost/weighbridge/weighbridge:node   plugin-server, built from the repository's Dockerfile (every stage:
#                                            Maven build, jlink, connector, runtime with the AOT training run), with
#                                            the public base images replaced through its build arguments by
#                                            stand-ins made here (no registry is reachable):
#     localhost/weighbridge/base-debian:bookworm   Debian bookworm minbase by debootstrap (for debian:bookworm-slim)
#     localhost/weighbridge/base-jdk:25            that + this machine's Temurin 25 JDK + binutils (for
#                                                  eclipse-temurin:25-jdk, which has binutils for jlink --strip-debug)
#     localhost/weighbridge/base-maven:jdk25       that + Debian's Maven (for maven:3.9-eclipse-temurin-21)
#     localhost/weighbridge/base-go:local          base-debian + this machine's Go (for golang:1.26)
#
# <key> hashes the sources the Dockerfile's stages read (Dockerfile, .dockerignore, pom.xml, proto/, plugin-server/,
# connector/: tracked and untracked files, as git ls-files lists them), the stand-ins' recipe and this script, so an
# unchanged checkout finds its image at once. The Debian root file system is
# cached beside (debian-bookworm/), buildah's storage and the Dockerfile's cache mounts (Maven, Go) in buildah/.
# Cold: debootstrap ~3 min, the Dockerfile ~10-20 min on a loaded 2-core machine (Maven Central and the Go module
# proxy are reached from RUN steps with --network host).
#
# Environment: WEIGHBRIDGE_CACHED_ONLY=1 exits 3 instead of building; WEIGHBRIDGE_CACHE (default
# ~/.cache/weighbridge), JDK25 (default /usr/lib/jvm/temurin-25-jdk-amd64),
# GOROOT_LOCAL (default: the GOROOT of `go` on PATH or /usr/local/go).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${WEIGHBRIDGE_CACHE:-$HOME/.cache/weighbridge}/node-images
log() { echo "node-images: $*" >&2; }
mkdir -p "$cache"

jdk=${JDK25:-/usr/lib/jvm/temurin-25-jdk-amd64}
goroot=${GOROOT_LOCAL:-$( (command -v go >/dev/null && go env GOROOT) || echo /usr/local/go)}
[[ -x "$jdk/bin/jlink" ]] || { log "no JDK 25 at $jdk (set JDK25=/path/to/jdk-25)"; exit 1; }
[[ -x "$goroot/bin/go" ]] || { log "no Go at $goroot (set GOROOT_LOCAL)"; exit 1; }
command -v buildah >/dev/null || { log "buildah is missing: apt-get install buildah"; exit 1; }

recipe="v1 bases: debootstrap minbase bookworm; jdk $("$jdk/bin/java" -version 2>&1 | head -1); $("$goroot/bin/go" version)"
key=$(
  {
    echo "$recipe"
    cat "$here/build.sh"
    # What the Dockerfile's stages read (its Maven build is -pl plugin-server -am; the connector stage connector/).
    cd "$repo" && git ls-files -z --cached --others --exclude-standard -- Dockerfile .dockerignore pom.xml proto \
      plugin-server connector | sort -z | xargs -0 sha256sum 2>/dev/null
  } | sha256sum | cut -c1-16
)
dest="$cache/$key"
if [[ -s "$dest/weighbridge.tar" ]]; then
  log "cached: $dest"
  echo "$dest"
  exit 0
fi
if [[ -n "${WEIGHBRIDGE_CACHED_ONLY:-}" ]]; then
  log "the images (key $key) are not cached, and WEIGHBRIDGE_CACHED_ONLY says not to build them"
  exit 3
fi
exec 9>"$cache/.lock"
flock 9
if [[ -s "$dest/weighbridge.tar" ]]; then
  log "built meanwhile by another process: $dest"
  echo "$dest"
  exit 0
fi
start=$SECONDS
B=(buildah --root "$cache/buildah/storage" --runroot "$cache/buildah/run" --storage-driver overlay)
# Working containers (a failed RUN leaves its own) hold overlay mounts: remove them, and the storage's own mount,
# whatever the outcome.
cleanup() {
  "${B[@]}" rm --all >/dev/null 2>&1 || true
  umount "$cache/buildah/storage/overlay" 2>/dev/null || true
}
trap cleanup EXIT

# Debian bookworm minbase, once per machine.
rootfs="$cache/debian-bookworm"
if [[ ! -e "$rootfs/etc/debian_version" ]]; then
  command -v debootstrap >/dev/null || { log "debootstrap is missing: apt-get install debootstrap"; exit 1; }
  log "debootstrap --variant=minbase bookworm (a few minutes, once)"
  rm -rf "$rootfs.tmp"
  debootstrap --variant=minbase bookworm "$rootfs.tmp" http://deb.debian.org/debian >&2
  rm -rf "$rootfs.tmp"/var/cache/apt/archives/*.deb "$rootfs.tmp"/var/lib/apt/lists/*
  mv -T "$rootfs.tmp" "$rootfs"
fi

# The stand-in bases, one function each: a working container from scratch or from a base made before, the
# files of this machine copied in, then committed under the image name the Dockerfile's build arguments give.
# commit_as IMAGE CONTAINER: commits the working container as IMAGE and removes it.
commit_as() {
  "${B[@]}" commit --quiet "$2" "$1" >/dev/null
  "${B[@]}" rm "$2" >/dev/null
}
base_debian() {
  local c
  c=$("${B[@]}" from scratch)
  "${B[@]}" copy "$c" "$rootfs/" / >/dev/null
  "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/bash "$c"
  commit_as localhost/weighbridge/base-debian:bookworm "$c"
}
base_jdk() {
  local c
  c=$("${B[@]}" from localhost/weighbridge/base-debian:bookworm)
  "${B[@]}" copy "$c" "$jdk" /opt/java/openjdk >/dev/null
  # Debian's Temurin links lib/security/cacerts to the system's Java trust store: bring that along.
  "${B[@]}" copy "$c" "$(readlink -f "$jdk/lib/security/cacerts")" /etc/ssl/certs/java/cacerts >/dev/null
  # jlink --strip-debug runs objcopy: eclipse-temurin's images carry binutils for it.
  "${B[@]}" run --isolation oci --network host "$c" -- sh -c \
    'apt-get update -qq && apt-get install -y -qq --no-install-recommends binutils >/dev/null && rm -rf /var/lib/apt/lists/*' >&2
  "${B[@]}" config --env JAVA_HOME=/opt/java/openjdk \
    --env PATH=/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
  commit_as localhost/weighbridge/base-jdk:25 "$c"
}
base_maven() {
  local c
  c=$("${B[@]}" from localhost/weighbridge/base-jdk:25)
  "${B[@]}" copy "$c" /usr/share/maven /usr/share/maven >/dev/null
  "${B[@]}" copy "$c" /usr/share/java /usr/share/java >/dev/null # Debian's Maven links its libraries from here
  "${B[@]}" copy "$c" /etc/maven /etc/maven >/dev/null             # and its m2.conf and settings.xml
  "${B[@]}" copy "$c" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt >/dev/null
  "${B[@]}" config --env MAVEN_HOME=/usr/share/maven \
    --env PATH=/opt/java/openjdk/bin:/usr/share/maven/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
  commit_as localhost/weighbridge/base-maven:jdk25 "$c"
}
base_go() {
  local c
  c=$("${B[@]}" from localhost/weighbridge/base-debian:bookworm)
  "${B[@]}" copy "$c" "$goroot" /usr/local/go >/dev/null
  "${B[@]}" copy "$c" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt >/dev/null
  "${B[@]}" config --env PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env GOTOOLCHAIN=local "$c"
  commit_as localhost/weighbridge/base-go:local "$c"
}
log "stand-in base images"
have() { "${B[@]}" inspect --type image "$1" >/dev/null 2>&1; }
have localhost/weighbridge/base-debian:bookworm || base_debian
base_jdk
base_maven
have localhost/weighbridge/base-go:local || base_go

log "plugin-server image from the Dockerfile (buildah bud)"
"${B[@]}" bud --isolation oci --network host --layers --force-rm \
  --build-arg JAVA_BUILD_IMAGE=localhost/weighbridge/base-maven:jdk25 \
  --build-arg JDK_IMAGE=localhost/weighbridge/base-jdk:25 \
  --build-arg GO_IMAGE=localhost/weighbridge/base-go:local \
  --build-arg RUNTIME_BASE=localhost/weighbridge/base-debian:bookworm \
  --build-arg VERSION="$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo dev)" \
  --build-arg REVISION="$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" \
  -f "$repo/Dockerfile" -t localhost/weighbridge/weighbridge:node "$repo" >&2

tmp=$(mktemp -d "$cache/.tmp-$key.XXXXXX")
trap 'rm -rf "$tmp"; cleanup' EXIT
"${B[@]}" push --quiet localhost/weighbridge/weighbridge:node \
  "docker-archive:$tmp/weighbridge.tar:localhost/weighbridge/weighbridge:node"
mv -T "$tmp" "$dest"
trap cleanup EXIT
log "built in $((SECONDS - start)) s: $dest"
echo "$dest"
