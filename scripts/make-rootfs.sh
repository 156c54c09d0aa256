#!/usr/bin/env bash
# Build a minimal root filesystem from the host's static busybox.
#
#   sudo scripts/make-rootfs.sh /var/lib/workshop/busybox
#
# Result: DIR/bin/busybox plus one symlink per applet (bin/sh, bin/ls,
# usr/bin/env, ...), a minimal /etc, and empty mount points (proc, sys, dev,
# tmp). Idempotent: rerunning only refreshes what is missing or changed.
# It never deletes anything, and never writes outside DIR.
#
# Env: BUSYBOX=path to a *static* busybox (default /bin/busybox, from the
# busybox-static package on Debian/Ubuntu).
set -euo pipefail

die() { echo "make-rootfs: $*" >&2; exit 1; }

[ "$#" -eq 1 ] || die "usage: $0 DIR"
[ -n "$1" ] || die "DIR must not be empty"
[ "$(id -u)" -eq 0 ] || die "must be run as root (try: sudo $0 $1)"

dir=$(realpath -m -- "$1")
[ "$dir" != "/" ] || die "refusing to build a rootfs at /"

busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || die "$busybox not found: install busybox-static (apt-get install busybox-static)"

# ---- directories -----------------------------------------------------------
mkdir -p -- "$dir"
for d in bin sbin usr/bin usr/sbin etc proc sys dev tmp root home; do
  mkdir -p -- "$dir/$d"
done
chmod 0755 -- "$dir"
chmod 1777 -- "$dir/tmp"
# /root readable: in a user namespace (ch05) the container's root is not the
# owner of these host-root-owned files, and a 0700 /root would break `cd ~`.
chmod 0755 -- "$dir/root"

# ---- busybox binary --------------------------------------------------------
if ! cmp -s -- "$busybox" "$dir/bin/busybox"; then
  # Copy then rename: a container using the old binary keeps running.
  cp -- "$busybox" "$dir/bin/.busybox.new"
  chmod 0755 -- "$dir/bin/.busybox.new"
  mv -f -- "$dir/bin/.busybox.new" "$dir/bin/busybox"
fi

# ---- applet symlinks (relative, so they also resolve from the host) --------
# --list-full prints paths like "bin/ls", "usr/bin/env", "sbin/ifconfig".
applets=$("$dir/bin/busybox" --list-full) || die "$dir/bin/busybox --list-full failed (is $busybox static?)"
while IFS= read -r rel; do
  case "$rel" in
    "" | bin/busybox | linuxrc) continue ;;  # linuxrc: initrd only, keeps / tidy
    /* | *..*) die "unexpected applet path from busybox: $rel" ;;
  esac
  link="$dir/$rel"
  # Already a working link (resolved inside DIR, since links are relative).
  if [ -L "$link" ] && [ -e "$link" ]; then continue; fi
  # Never replace a real file someone put there.
  if [ -e "$link" ] && [ ! -L "$link" ]; then continue; fi
  # bin/ls -> busybox ; usr/bin/env -> ../../bin/busybox
  updirs=${rel//[!\/]/}         # one "/" per directory level
  prefix=${updirs//\//../}
  if [ "${rel%/*}" = bin ]; then target=busybox; else target="${prefix}bin/busybox"; fi
  ln -sfn -- "$target" "$link"
done <<<"$applets"

# ---- /etc ------------------------------------------------------------------
# write_file PATH MODE CONTENT: rewrite only when the content differs.
write_file() {
  local path=$1 mode=$2 content=$3
  if [ ! -f "$path" ] || [ "$(cat -- "$path")" != "$content" ]; then
    printf '%s\n' "$content" >"$path.new"
    chmod "$mode" -- "$path.new"
    mv -f -- "$path.new" "$path"
  fi
}
write_file "$dir/etc/passwd" 0644 "root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false"
write_file "$dir/etc/group" 0644 "root:x:0:
nogroup:x:65534:"
write_file "$dir/etc/hostname" 0644 "workshop"
write_file "$dir/etc/hosts" 0644 "127.0.0.1 localhost
::1 localhost"

# ---- check -----------------------------------------------------------------
out=$(env -i PATH=/bin:/sbin:/usr/bin:/usr/sbin chroot "$dir" /bin/sh -c 'echo ok' 2>&1) || true
[ "$out" = ok ] || die "rootfs check failed: chroot $dir /bin/sh -c 'echo ok' printed: $out"
echo "make-rootfs: $dir ready ($(find "$dir" -type l | wc -l) applet links)"
