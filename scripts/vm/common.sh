# Shared settings of the guest scripts (sourced, not run). A guest is a Debian
# machine booted under qemu with systemd on the unified cgroup v2 hierarchy, as
# the class VM and current distributions are; it proves the workshop where its
# students are, on a host whose own cgroups may be v1 or hybrid.
#
# Env (all optional):
#   VM_ARCH=amd64|arm64         the guest's architecture (default: the host's)
#   VM_SUITE=bookworm|trixie    the Debian release (default bookworm: systemd 252; trixie: 257)
#   VM_ACCEL=kvm|tcg            default: kvm where /dev/kvm runs a stock kernel, else tcg
#   VM_MEM=6G VM_SMP=2          the guest's memory and CPUs
#   WORKSHOP_VM_CACHE=/var/cache/workshop/vm   built images, reused until their inputs change
#   WORKSHOP_VM_RUN=/var/tmp/workshop-vm       a running guest's files (pid, sockets, work disk, logs)
#   VM_MIRROR=URL               Debian mirror (default: the host's apt source)

VM_ARCH=${VM_ARCH:-$(dpkg --print-architecture 2>/dev/null || echo amd64)}
VM_SUITE=${VM_SUITE:-bookworm}
VM_MEM=${VM_MEM:-6G}
VM_SMP=${VM_SMP:-2}
VM_NAME=$VM_SUITE-$VM_ARCH
VM_IMAGE_DIR=${WORKSHOP_VM_CACHE:-/var/cache/workshop/vm}/$VM_NAME
VM_RUN_DIR=${WORKSHOP_VM_RUN:-/var/tmp/workshop-vm}/$VM_NAME
VM_KEY=${WORKSHOP_VM_CACHE:-/var/cache/workshop/vm}/ssh/id_ed25519

case "$VM_ARCH" in
  amd64)
    VM_QEMU=qemu-system-x86_64 VM_QEMU_PACKAGE=qemu-system-x86 VM_CONSOLE=ttyS0
    VM_MACHINE=(-M q35) VM_TRIPLE=x86_64-unknown-linux-gnu VM_SSH_PORT=${VM_SSH_PORT:-10022}
    ;;
  arm64)
    VM_QEMU=qemu-system-aarch64 VM_QEMU_PACKAGE=qemu-system-arm VM_CONSOLE=ttyAMA0
    VM_MACHINE=(-M virt) VM_TRIPLE=aarch64-unknown-linux-gnu VM_SSH_PORT=${VM_SSH_PORT:-10023}
    ;;
  *) echo "VM_ARCH must be amd64 or arm64, not $VM_ARCH" >&2; exit 2 ;;
esac
case "$VM_SUITE" in
  bookworm | trixie) ;;
  *) echo "VM_SUITE must be bookworm or trixie, not $VM_SUITE" >&2; exit 2 ;;
esac

VM_SSH_OPTS=(-i "$VM_KEY" -p "$VM_SSH_PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
  -o LogLevel=ERROR -o ServerAliveInterval=30 -o ServerAliveCountMax=20 -o ConnectTimeout=10 -o BatchMode=yes)

vm_log() { printf '[%(%H:%M:%S)T] %s: %s\n' -1 "$(basename "$0" .sh)" "$*" >&2; }
vm_die() { vm_log "error: $*"; exit 1; }

# The host's architecture, as Debian names it.
vm_host_arch() { dpkg --print-architecture 2>/dev/null || uname -m; }

# kvm only for a guest of the host's own architecture, on a /dev/kvm backed by
# hardware virtualisation (kvm_intel, kvm_amd, or arm64's kvm). Some cloud machines
# have a paravirtual /dev/kvm (the kvm_pvm module) that runs only kernels built for
# it: a stock Debian kernel hangs there in early boot, so software emulation (TCG) it is.
vm_accel() {
  if [ -n "${VM_ACCEL:-}" ]; then echo "$VM_ACCEL"; return; fi
  if [ "$VM_ARCH" = "$(vm_host_arch)" ] && [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] &&
    { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ] || [ "$VM_ARCH" = arm64 ]; }; then
    echo kvm
  else
    echo tcg
  fi
}

# apt-get install what is missing: need COMMAND PACKAGE...
vm_need() {
  local command=$1
  shift
  command -v "$command" >/dev/null && return 0
  vm_log "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 install --no-install-recommends "$@" >/dev/null ||
    vm_die "apt-get install $* failed"
}

vm_running() { [ -f "$VM_RUN_DIR/qemu.pid" ] && kill -0 "$(cat "$VM_RUN_DIR/qemu.pid")" 2>/dev/null; }

# ssh into the guest as root: a real login, so pam_systemd puts the shell in a
# session scope (user-0.slice/session-N.scope), as a student's terminal is.
vm_ssh() { ssh "${VM_SSH_OPTS[@]}" root@127.0.0.1 "$@"; }
