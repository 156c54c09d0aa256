#!/usr/bin/env bash
# Checks that the workspace builds for aarch64 (the class VM on Apple Silicon)
# from this x86_64 machine: clippy over every crate and target for
# aarch64-unknown-linux-gnu (no arch-specific syscall numbers or constants may
# slip in), then the unit tests that need no namespaces, run under qemu-user
# (qemu cannot emulate clone(2) with namespace flags, so the grader itself runs
# only on a real arm64 machine). Installs what it needs once: the aarch64
# standard library (rustup), a cross linker and qemu-user (apt). CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=aarch64-unknown-linux-gnu

if [ "$(uname -m)" = aarch64 ]; then
  echo "check-aarch64: this machine is aarch64: plain cargo test covers it"
  exit 0
fi
missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 install "${missing[@]}" >/dev/null
fi
rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}/aarch64-check

echo "==> cargo clippy --workspace --all-targets --target $TARGET -- -D warnings"
cargo clippy --workspace --all-targets --locked --target "$TARGET" -- -D warnings

# The library unit tests: reference parsing, platform choice (this_platform() must
# answer linux/arm64/v8 here), digests, cgroup limit files, hint parsing...
echo "==> unit tests for $TARGET, under qemu-aarch64"
packages=()
for manifest in solutions/*/Cargo.toml; do
  packages+=(-p "$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)")
done
cargo test --locked --target "$TARGET" --lib "${packages[@]}" -p chaptergen
