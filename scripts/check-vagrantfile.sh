#!/usr/bin/env bash
# Check the Vagrantfile: `vagrant validate` when vagrant is installed (as root
# with apt, it installs Debian's vagrant when neither it nor ruby is there), else a
# Ruby syntax check. Exits non-zero when the check fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -f Vagrantfile ] || { echo "check-vagrantfile: no Vagrantfile in $PWD" >&2; exit 1; }

# CI's machine may have neither: install Debian's vagrant (it brings ruby) once.
if ! command -v vagrant >/dev/null 2>&1 && ! command -v ruby >/dev/null 2>&1 &&
  [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing vagrant (apt) to validate the Vagrantfile"
  DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 install vagrant >/dev/null
fi

if command -v vagrant >/dev/null 2>&1; then
  echo "==> vagrant validate ($(vagrant --version 2>/dev/null))"
  # Keep vagrant's machine state (.vagrant/) out of the checkout.
  tmp=$(mktemp -d)
  trap 'rm -rf -- "$tmp"' EXIT
  export VAGRANT_DOTFILE_PATH="$tmp/dot" VAGRANT_CHECKPOINT_DISABLE=1
  if ! vagrant validate >"$tmp/out" 2>&1; then
    cat "$tmp/out"
    # A machine with no provider installed (no VirtualBox, no plugin) cannot
    # validate provider blocks: validate everything else.
    grep -q "No usable default provider" "$tmp/out" || exit 1
    echo "==> no provider installed here: vagrant validate --ignore-provider"
    vagrant validate --ignore-provider
  else
    cat "$tmp/out"
  fi
elif command -v ruby >/dev/null 2>&1; then
  echo "==> ruby -c Vagrantfile (vagrant not installed)"
  ruby -c Vagrantfile
else
  echo "check-vagrantfile: neither vagrant nor ruby is installed" >&2
  exit 1
fi
