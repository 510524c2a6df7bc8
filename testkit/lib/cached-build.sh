# shellcheck shell=bash
# Sourced by testkit/controlplane/build.sh and testkit/traefik/build.sh: the part of a cached build that both share.
# A build goes to a temporary directory that is renamed to $dest when complete, so a cache entry is never half
# written; concurrent invocations serialise on a per-key flock, so a second caller waits and then reuses the first
# caller's result.
#
# The caller sets: root (the cache directory of this kind of build), key, dest ($root/$key), what (a name for the
# log), go_min (the oldest Go that builds it), and defines log (to stderr) and complete (is $dest/bin whole?).
#
#   cached_build_begin    exits 0, printing $dest/bin, when it is cached (or built meanwhile by another process);
#                         exits 3 under WEIGHBRIDGE_CACHED_ONLY=1 when it is not; otherwise holds the lock and sets
#                         GO (the Go command), tmp (the directory to build into, removed on exit) and start
#   cached_build_finish   moves $tmp into place as $dest, prints $dest/bin and exits 0

cached_build_begin() {
  if complete; then
    log "cached: $dest/bin"
    echo "$dest/bin"
    exit 0
  fi
  if [[ -n "${WEIGHBRIDGE_CACHED_ONLY:-}" ]]; then
    log "$what (key $key) is not cached, and WEIGHBRIDGE_CACHED_ONLY says not to build it"
    exit 3
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
    log "no Go toolchain found: install Go $go_min or newer, put it on PATH or set GO=/path/to/go"
    exit 1
  }
  tmp=$(mktemp -d "$root/.tmp-$key.XXXXXX")
  chmod 755 "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  start=$SECONDS
}

cached_build_finish() {
  log "downloaded and compiled in $((SECONDS - start)) s: $(cd "$tmp/bin" && du -sh -- * | tr '\t\n' ' ')"
  mv -T "$tmp" "$dest"
  trap - EXIT
  # Older keys are left alone (another checkout may still use them); `rm -rf "$root"` clears everything.
  log "ready: $dest/bin"
  echo "$dest/bin"
  exit 0
}
