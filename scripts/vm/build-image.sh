#!/usr/bin/env bash
# Builds the system disk of a Debian guest that boots systemd on the unified
# cgroup v2 hierarchy, as the class VM does: debootstrap into a directory, apt for
# the workshop's packages, a few configuration files, then `mkfs.ext4 -d` turns
# the directory into a raw disk image.
#
#   sudo scripts/vm/build-image.sh                       # amd64 bookworm (the host's arch)
#   sudo VM_ARCH=arm64 VM_SUITE=trixie scripts/vm/build-image.sh
#
# The image is cached in $WORKSHOP_VM_CACHE/SUITE-ARCH/ and rebuilt only when its
# inputs change (this script, common.sh, the package list of provision.sh, the
# suite, the architecture, the mirror), or with --force. The guest already holds
# every package provision.sh installs, so provisioning inside it needs no download
# (dpkg under emulation is slow). The project itself is not in the image: guest.sh
# attaches it as a second disk at each boot.
#
# Output: system.img, vmlinuz, initrd.img, versions.txt (kernel, systemd), inputs.sha256.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/vm/common.sh
. "$here/common.sh"

force=0
[ "${1:-}" = --force ] && force=1
[ "$(id -u)" -eq 0 ] || vm_die "debootstrap needs root: sudo $0"

if [ -z "${VM_MIRROR:-}" ]; then
  VM_MIRROR=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  VM_MIRROR=${VM_MIRROR:-$(awk '/^deb / && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)}
  VM_MIRROR=${VM_MIRROR:-http://deb.debian.org/debian}
fi
security=${VM_MIRROR%/debian}/debian-security

# What makes a guest: the kernel, systemd with a login session manager (the
# shell of an ssh login lands in a session scope, as a student's terminal), sshd.
# debootstrap installs these; apt then adds the workshop's own packages
# (debootstrap resolves no alternatives or virtual packages; apt does).
system_packages=(linux-image-"$VM_ARCH" systemd systemd-sysv udev dbus libpam-systemd openssh-server
  ca-certificates sudo iproute2 procps psmisc kmod less file python3 e2fsprogs)
mapfile -t workshop_packages < <(bash "$here/../provision.sh" --print-packages)

inputs=$(cat "$0" "$here/common.sh"; echo "$VM_SUITE $VM_ARCH $VM_MIRROR ${system_packages[*]} ${workshop_packages[*]}")
key=$(sha256sum <<<"$inputs" | cut -d' ' -f1)
if [ "$force" = 0 ] && [ -f "$VM_IMAGE_DIR/system.img" ] && [ "$(cat "$VM_IMAGE_DIR/inputs.sha256" 2>/dev/null)" = "$key" ]; then
  vm_log "$VM_NAME: the cached image is current ($VM_IMAGE_DIR)"
  exit 0
fi

vm_need debootstrap debootstrap
vm_need mkfs.ext4 e2fsprogs
vm_need ssh-keygen openssh-client
if [ "$VM_ARCH" != "$(vm_host_arch)" ]; then
  # debootstrap's second stage and apt run the guest's programs: qemu-user through binfmt_misc.
  vm_need qemu-aarch64-static qemu-user-static binfmt-support
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable >/dev/null 2>&1 || true
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || vm_die "binfmt_misc has no qemu-aarch64 entry (update-binfmts --display)"
fi

logs=${VM_IMAGE_DIR%/*}/logs
work=$VM_IMAGE_DIR.building
root=$work/rootfs
rm -rf "$work"
mkdir -p "$work" "$logs" "$(dirname "$VM_KEY")"
# debootstrap mounts proc and sys in the target while it works: never leave one behind.
trap 'grep -o " $root/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l; rm -rf "$work"' EXIT

start=$(date +%s)
vm_log "$VM_NAME: debootstrap $VM_SUITE from $VM_MIRROR"
if ! debootstrap --arch="$VM_ARCH" --variant=minbase --include="$(IFS=,; echo "${system_packages[*]}")" \
  "$VM_SUITE" "$root" "$VM_MIRROR" >"$logs/$VM_NAME-debootstrap.log" 2>&1; then
  cp "$root/debootstrap/debootstrap.log" "$logs/$VM_NAME-debootstrap-inner.log" 2>/dev/null || true
  tail -20 "$logs/$VM_NAME-debootstrap.log" >&2
  vm_die "debootstrap failed (logs in $logs)"
fi
vm_log "$VM_NAME: debootstrap took $(($(date +%s) - start)) s"

start=$(date +%s)
cat >"$root/etc/apt/sources.list" <<EOF
deb $VM_MIRROR $VM_SUITE main
deb $VM_MIRROR $VM_SUITE-updates main
deb $security $VM_SUITE-security main
EOF
# No service starts in the chroot (policy-rc.d), and /proc, /sys and /dev are
# mounted in a mount namespace of this command's own: they vanish with it.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
vm_log "$VM_NAME: apt-get install ${workshop_packages[*]}"
if ! unshare --mount --propagation private -- bash -euc '
  root=$1
  shift
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q update
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends "$@"
  chroot "$root" apt-get clean
' bash "$root" "${workshop_packages[@]}" >"$logs/$VM_NAME-apt.log" 2>&1; then
  tail -20 "$logs/$VM_NAME-apt.log" >&2
  vm_die "apt-get install in the guest failed (log in $logs)"
fi
rm -f "$root/usr/sbin/policy-rc.d"
vm_log "$VM_NAME: apt-get took $(($(date +%s) - start)) s"

# ---- configuration: plain files ------------------------------------------------
echo workshop-guest >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 workshop-guest\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
echo 'LABEL=wk-system / ext4 rw,errors=remount-ro 0 1' >"$root/etc/fstab"
: >"$root/etc/machine-id"
# The console logs root in (for a guest whose network does not come up); ssh takes a key.
chroot "$root" passwd -d root >/dev/null
mkdir -p "$root/etc/systemd/system/serial-getty@$VM_CONSOLE.service.d"
cat >"$root/etc/systemd/system/serial-getty@$VM_CONSOLE.service.d/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 %I $TERM
EOF
# qemu's user-mode network: DHCP from 10.0.2.2, DNS at 10.0.2.3.
mkdir -p "$root/etc/systemd/network" "$root/etc/systemd/system/multi-user.target.wants"
printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n' >"$root/etc/systemd/network/20-wired.network"
ln -sf /lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/"
rm -f "$root/etc/resolv.conf"
echo 'nameserver 10.0.2.3' >"$root/etc/resolv.conf"
# No apt or man-db job starting in the middle of a test run.
for timer in apt-daily apt-daily-upgrade man-db dpkg-db-backup e2scrub_all fstrim; do
  ln -sf /dev/null "$root/etc/systemd/system/$timer.timer"
done
[ -f "$VM_KEY" ] || ssh-keygen -q -t ed25519 -N '' -C workshop-guest -f "$VM_KEY"
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$VM_KEY.pub" "$root/root/.ssh/authorized_keys"
printf 'PermitRootLogin prohibit-password\nUseDNS no\nAcceptEnv CI\n' >"$root/etc/ssh/sshd_config.d/workshop-guest.conf"
# Where this host reaches the package registries through a TLS-intercepting proxy,
# the guest (same route, through qemu's user network) must trust the same CAs.
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null 2>&1
fi
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$root/etc/pip.conf"

{
  echo "suite $VM_SUITE ($VM_ARCH)"
  echo "kernel $(basename "$(readlink -f "$root/vmlinuz")" | sed 's/^vmlinuz-//')"
  echo "systemd $(chroot "$root" dpkg-query -W -f='${Version}' systemd 2>/dev/null || echo '?')"
  echo "built $(date -u +%FT%TZ)"
} >"$work/versions.txt"
cp -L "$root/vmlinuz" "$work/vmlinuz"
cp -L "$root/initrd.img" "$work/initrd.img"

start=$(date +%s)
truncate -s 16G "$work/system.img"
mkfs.ext4 -q -F -L wk-system -d "$root" "$work/system.img"
vm_log "$VM_NAME: system.img made in $(($(date +%s) - start)) s ($(du -h "$work/system.img" | cut -f1) used)"
rm -rf "$root"
echo "$key" >"$work/inputs.sha256"
rm -rf "$VM_IMAGE_DIR"
mv "$work" "$VM_IMAGE_DIR"
vm_log "$VM_NAME: ready in $VM_IMAGE_DIR: $(paste -sd, "$VM_IMAGE_DIR/versions.txt" | sed 's/,/, /g')"
