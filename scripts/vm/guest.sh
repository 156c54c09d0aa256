#!/usr/bin/env bash
# Starts, enters and stops a guest built by build-image.sh (cgroup v2, systemd).
#
#   sudo scripts/vm/guest.sh up        # attach this checkout as a second disk, boot, wait for ssh
#   scripts/vm/guest.sh ssh [CMD]      # a login on the guest (root, a systemd session scope)
#   scripts/vm/guest.sh reboot         # reboot the guest (its disk changes are kept), wait for ssh
#   scripts/vm/guest.sh down           # power off; the guest's changes are discarded
#   scripts/vm/guest.sh console        # its serial console (leave with Ctrl-])
#   scripts/vm/guest.sh status
#
# The system disk boots as a throwaway snapshot (qemu's snapshot=on): every `up`
# starts from the cached image, whatever the last run did to it. The checkout
# (with its target/ directory: the guest runs what the host built) and the host's
# Rust toolchain go on a second disk, mounted in the guest at the same paths as
# on the host, so that cargo finds its build fresh and compiled-in paths hold.
# VM_ARCH=arm64: the checkout only, with target/aarch64-unknown-linux-gnu (the
# host cross-compiles; no toolchain runs in the guest).
# See common.sh for the settings.
set -euo pipefail
# One compound command, read whole before it runs: an edit of this file while it
# runs cannot change what it does.
{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/vm/common.sh
. "$here/common.sh"
project=$(cd "$here/../.." && pwd)

# The same paths as on the host: cargo's fingerprints hold absolute paths of the
# registry's sources, and the grader was compiled with the checkout's path.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}

make_work_disk() {
  local disk=$VM_RUN_DIR/work.img target_dir
  target_dir=$(cd "$project" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])') || target_dir=$project/target
  local toolchain=""
  if [ "$VM_ARCH" = "$(vm_host_arch)" ]; then
    toolchain=$(cd "$project" && rustup show active-toolchain | cut -d' ' -f1)
    [ -d "$rustup_home/toolchains/$toolchain" ] || vm_die "no toolchain $toolchain in $rustup_home"
  fi
  start=$(date +%s)
  rm -f "$disk"
  truncate -s 64G "$disk"
  # A staging tree of bind mounts, in a mount namespace of its own: it vanishes
  # with this command, so nothing is left mounted on the host whatever happens.
  # What the guest does not need is covered with an empty tmpfs.
  local stage=$VM_RUN_DIR/stage
  mkdir -p "$stage"
  unshare --mount --propagation private -- bash -euc '
    stage=$1 project=$2 target=$3 cargo_home=$4 rustup_home=$5 toolchain=$6 disk=$7
    mount -t tmpfs -o mode=755 stage "$stage"
    mkdir -p "$stage/project"
    mount --bind "$project" "$stage/project"
    hide() { [ -d "$1" ] && mount -t tmpfs -o mode=755 hidden "$1" || true; }
    inner=$stage/project${target#"$project"}
    # Builds the guest cannot use: the other architecture'"'"'s, release (the
    # benchmark), the aarch64 clippy check, and every incremental cache.
    if [ -n "$toolchain" ]; then hide "$inner/aarch64-unknown-linux-gnu"; else hide "$inner/debug"; fi
    hide "$inner/release"
    hide "$inner/aarch64-check"
    find "$inner" -maxdepth 4 -type d -name incremental -prune | while read -r dir; do hide "$dir"; done
    if [ -n "$toolchain" ]; then
      mkdir -p "$stage/cargo" "$stage/rustup"
      mount --bind "$cargo_home" "$stage/cargo"
      mount --bind "$rustup_home" "$stage/rustup"
      for dir in "$stage/rustup/toolchains"/*/; do
        [ "$(basename "$dir")" = "$toolchain" ] || hide "$dir"
      done
      hide "$stage/rustup/downloads"
      hide "$stage/rustup/tmp"
    fi
    mkfs.ext4 -q -F -L wk-work -E lazy_itable_init=1 -d "$stage" "$disk"
  ' bash "$stage" "$project" "$target_dir" "$cargo_home" "$rustup_home" "$toolchain" "$disk"
  rmdir "$stage"
  vm_log "work disk: $project${toolchain:+ and the $toolchain toolchain} in $(($(date +%s) - start)) s ($(du -h "$disk" | cut -f1))"
}

wait_for_ssh() {
  local start
  start=$(date +%s)
  until vm_ssh true 2>/dev/null; do
    vm_running || { tail -30 "$VM_RUN_DIR/console.log" >&2; vm_die "qemu exited (console above, $VM_RUN_DIR/qemu.log)"; }
    if [ $(($(date +%s) - start)) -gt "${VM_BOOT_TIMEOUT:-900}" ]; then
      tail -30 "$VM_RUN_DIR/console.log" >&2
      vm_die "no ssh after ${VM_BOOT_TIMEOUT:-900} s (console above)"
    fi
    sleep 2
  done
  vm_log "ssh answers after $(($(date +%s) - start)) s"
}

# The work disk at the host's paths, through fstab (so a reboot mounts it again),
# and a login shell that finds cargo there.
mount_work_disk() {
  local binds="" profile=""
  binds+="/mnt/wk-work/project $project none bind,x-systemd.requires-mounts-for=/mnt/wk-work 0 0"$'\n'
  if [ "$VM_ARCH" = "$(vm_host_arch)" ]; then
    binds+="/mnt/wk-work/cargo $cargo_home none bind,x-systemd.requires-mounts-for=/mnt/wk-work 0 0"$'\n'
    binds+="/mnt/wk-work/rustup $rustup_home none bind,x-systemd.requires-mounts-for=/mnt/wk-work 0 0"$'\n'
    profile="export CARGO_HOME=$cargo_home RUSTUP_HOME=$rustup_home PATH=$cargo_home/bin:\$PATH"
  fi
  # Under emulation everything is slower: the grader's guards against hung runs
  # wait four times as long (tests/src/sandbox.rs).
  [ "$(vm_accel)" = tcg ] && profile+=$'\n'"export WORKSHOP_TEST_TIMEOUT_SCALE=4"
  vm_ssh "set -e
    mkdir -p /mnt/wk-work '$project' '$cargo_home' '$rustup_home'
    grep -q wk-work /etc/fstab || printf '%s\n%s' 'LABEL=wk-work /mnt/wk-work ext4 defaults 0 0' '$binds' >>/etc/fstab
    echo '$profile' >/etc/profile.d/workshop-guest.sh
    systemctl daemon-reload
    mount -a"
}

boot() {
  if vm_running; then
    vm_log "already running (pid $(cat "$VM_RUN_DIR/qemu.pid"))"
    return
  fi
  [ -f "$VM_IMAGE_DIR/system.img" ] || vm_die "no image in $VM_IMAGE_DIR: run scripts/vm/build-image.sh first"
  vm_need "$VM_QEMU" "$VM_QEMU_PACKAGE"
  vm_need socat socat
  mkdir -p "$VM_RUN_DIR"
  make_work_disk
  local accel
  case "$(vm_accel)" in
    kvm) accel=(-accel kvm -cpu host) ;;
    tcg) accel=(-accel "tcg,thread=multi,tb-size=1024" -cpu max) ;;
    *) vm_die "VM_ACCEL must be kvm or tcg" ;;
  esac
  rm -f "$VM_RUN_DIR/ttyS.sock" "$VM_RUN_DIR/monitor.sock"
  : >"$VM_RUN_DIR/console.log"
  vm_log "starting $VM_NAME: ${accel[*]} -m $VM_MEM -smp $VM_SMP, ssh on 127.0.0.1:$VM_SSH_PORT"
  # In the background: the serial console goes to a socket (and a log), the
  # monitor to another, so that `down` can quit qemu if the guest hangs.
  setsid "$VM_QEMU" "${VM_MACHINE[@]}" "${accel[@]}" -m "$VM_MEM" -smp "$VM_SMP" -nographic \
    -kernel "$VM_IMAGE_DIR/vmlinuz" -initrd "$VM_IMAGE_DIR/initrd.img" \
    -append "console=$VM_CONSOLE root=LABEL=wk-system rw systemd.unified_cgroup_hierarchy=1 ${VM_APPEND:-}" \
    -drive "file=$VM_IMAGE_DIR/system.img,format=raw,if=virtio,snapshot=on" \
    -drive "file=$VM_RUN_DIR/work.img,format=raw,if=virtio,cache=unsafe" \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$VM_SSH_PORT-:22" -device virtio-net-pci,netdev=n0 \
    -chardev "socket,id=s0,path=$VM_RUN_DIR/ttyS.sock,server=on,wait=off,logfile=$VM_RUN_DIR/console.log" \
    -serial chardev:s0 -monitor "unix:$VM_RUN_DIR/monitor.sock,server,nowait" \
    -pidfile "$VM_RUN_DIR/qemu.pid" </dev/null >"$VM_RUN_DIR/qemu.log" 2>&1 &
  for _ in $(seq 1 20); do vm_running && break; sleep 0.5; done
  vm_running || { cat "$VM_RUN_DIR/qemu.log" >&2; vm_die "qemu did not start"; }
  wait_for_ssh
  mount_work_disk
}

down() {
  if vm_running; then
    vm_ssh 'systemctl poweroff' >/dev/null 2>&1 || true
    for _ in $(seq 1 90); do vm_running || break; sleep 1; done
    if vm_running; then
      vm_log "no clean poweroff after 90 s: quitting qemu"
      echo quit | socat - "UNIX-CONNECT:$VM_RUN_DIR/monitor.sock" >/dev/null 2>&1 || true
      for _ in $(seq 1 10); do vm_running || break; sleep 1; done
      vm_running && kill "$(cat "$VM_RUN_DIR/qemu.pid")"
    fi
  fi
  rm -f "$VM_RUN_DIR/qemu.pid" "$VM_RUN_DIR/work.img"
  vm_log "$VM_NAME stopped"
}

case "${1:-}" in
  up) boot ;;
  ssh) shift; vm_ssh "$@" ;;
  reboot)
    vm_ssh 'systemctl reboot' || true
    sleep 5
    wait_for_ssh
    ;;
  down) down ;;
  console) exec socat -,raw,echo=0,escape=0x1d "UNIX-CONNECT:$VM_RUN_DIR/ttyS.sock" ;;
  status)
    if vm_running; then echo "$VM_NAME: running (pid $(cat "$VM_RUN_DIR/qemu.pid"), ssh 127.0.0.1:$VM_SSH_PORT)"; else echo "$VM_NAME: stopped"; fi
    ;;
  *)
    echo "usage: $0 up|ssh [CMD]|reboot|down|console|status" >&2
    exit 2
    ;;
esac
exit
}
