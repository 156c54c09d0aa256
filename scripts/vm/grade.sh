#!/usr/bin/env bash
# The grader in a cgroup v2 guest, from a student's login shell: one command.
#
#   sudo scripts/vm/grade.sh                  # amd64: provision, `cargo test` (everything), doctor,
#                                             # the limits read on the host, a reboot, quick start
#   sudo scripts/vm/grade.sh --ci             # amd64: provision, the ch02/06/07/08 graders, quick start
#   sudo VM_ARCH=arm64 scripts/vm/grade.sh    # arm64: the ch01-08 graders, cross-compiled on the host
#   ... --record                              # also write tests/guest-runs/SUITE-ARCH.md and bring back
#                                             # the snapshots the guest recorded (commit both)
#   ... --keep                                # leave the guest running (scripts/vm/guest.sh ssh, down)
#   VM_SUITE=trixie ...                       # Debian 13 (systemd 257) instead of 12 (systemd 252)
#
# Steps: build the guest image (cached: scripts/vm/build-image.sh), build the
# workspace on the host (the guest runs the host's build: under emulation a
# compile takes ten times longer), boot the guest with this checkout attached
# (scripts/vm/guest.sh), run the phases of scripts/vm/in-guest.sh over ssh, copy
# the logs back, print the summary, power off. The exit status is 0 only when
# every phase passed. Results: $WORKSHOP_VM_RUN/SUITE-ARCH/results/DATE/.
set -euo pipefail
# One compound command, read whole before it runs: editing this file while it runs
# (it runs for an hour) cannot change what it does.
{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/vm/common.sh
. "$here/common.sh"
project=$(cd "$here/../.." && pwd)
cd "$project"

mode=full record=0 keep=0
for arg in "$@"; do
  case "$arg" in
    --ci) mode=ci ;;
    --record) record=1 ;;
    --keep) keep=1 ;;
    *) echo "usage: $0 [--ci] [--record] [--keep]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || vm_die "building and booting the guest needs root: sudo $0"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

results=$VM_RUN_DIR/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$results"
total_start=$SECONDS
declare -A took

step() {
  local name=$1 start=$SECONDS
  shift
  vm_log "== $name"
  "$@"
  took[$name]=$((SECONDS - start))
}

# ---- on the host --------------------------------------------------------------
step image "$here/build-image.sh"

ci_packages=(-p ch02-pid-namespace-solution -p ch06-cgroups-solution -p ch07-overlayfs-solution -p ch08-network-solution)
build_amd64() {
  # Exactly what the guest's commands build, so that it finds each fresh: cargo
  # unifies features per command, and each set of features is a build of its own.
  if [ "$mode" = ci ]; then
    cargo test --no-run --locked --quiet "${ci_packages[@]}"
  else
    cargo test --no-run --locked --quiet
    # The runner's watch check builds a copy of chapter 01 in a target directory
    # of its own (target/workshop-tests): build its dependencies here once.
    cargo test --locked --quiet -p workshop --test runner -- watch_grades >/dev/null
    cargo build --locked --quiet -p bookcheck # the book checker on chapter 06,
    cargo build --locked --quiet -p ch06-cgroups-solution # and what it runs
  fi
  cargo build --workspace --all-targets --locked --quiet # provisioning's pre-build
  cargo build --locked --quiet -p ch02-pid-namespace-solution # the README's quick start
  cargo build --locked --quiet -p workshop # cargo workshop doctor
}
build_arm64() {
  # The chapter 01-08 solutions and their graders, cross-compiled; the list of test
  # executables (with their package's directory) goes with them to the guest.
  local linker=aarch64-linux-gnu-gcc packages=()
  vm_need "$linker" gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  rustup target list --installed | grep -qx "$VM_TRIPLE" || rustup target add "$VM_TRIPLE"
  for manifest in solutions/ch0[1-8]-*/Cargo.toml; do
    packages+=(-p "$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)")
  done
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=$linker \
    cargo test --no-run --locked --target "$VM_TRIPLE" "${packages[@]}" --message-format=json-render-diagnostics |
    python3 -c '
import json, os, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        package = os.path.dirname(m["manifest_path"])
        source = os.path.relpath(m["target"]["src_path"], package)
        name = m["package_id"].split("#")[-1].split("@")[0].replace("-", "_")
        print(package, m["executable"], name + ": " + source)
' >"target/$VM_TRIPLE/guest-tests.txt"
  vm_log "$(wc -l <"target/$VM_TRIPLE/guest-tests.txt") test executables for $VM_TRIPLE"
}
if [ "$VM_ARCH" = "$(vm_host_arch)" ]; then
  step build build_amd64
else
  step build build_arm64
fi

# ---- in the guest ---------------------------------------------------------------
down() { [ "$keep" = 1 ] || "$here/guest.sh" down; }
trap down EXIT
step boot "$here/guest.sh" up

failed=()
# phase NAME [VAR=VALUE...] -- ARGS...: in-guest.sh ARGS from a login shell on the
# guest; a failure is recorded, not fatal, so that every phase runs.
phase() {
  local name=$1 env=() start=$SECONDS
  shift
  while [ "$1" != -- ]; do env+=("$1"); shift; done
  shift
  vm_log "== $name (in the guest)"
  local ok=1
  vm_ssh "bash -lc 'cd $project && env RESULTS=/root/wk-results PHASE_NAME=$name ${env[*]} scripts/vm/in-guest.sh $*'" \
    </dev/null >"$results/$name.ssh.log" 2>&1 || ok=0
  took[$name]=$((SECONDS - start))
  vm_ssh "tar -C /root/wk-results -cf - ." | tar -C "$results" -xf - || true
  vm_log "$name: $(cat "$results/$name.rc" 2>/dev/null || tail -1 "$results/$name.ssh.log")"
  if [ "$ok" = 0 ]; then
    failed+=("$name")
    # What failed, in this log too (CI keeps only its output): cargo test's
    # failures section, or the end of the phase's output.
    if grep -q '^failures:$' "$results/$name.ssh.log"; then
      sed -n '/^failures:$/,$p' "$results/$name.ssh.log" | head -400 >&2
    else
      tail -40 "$results/$name.ssh.log" >&2
    fi
  fi
}

native=0
[ "$VM_ARCH" = "$(vm_host_arch)" ] && native=1
insta=()
[ "$record" = 1 ] && insta=(INSTA_UPDATE=always)
phase context -- context
if [ "$native" = 1 ]; then
  phase provision -- provision
else
  phase provision -- provision-cgroups
fi
phase context-provisioned -- context
phase state-before -- state before
if [ "$native" = 0 ]; then
  phase tests "${insta[@]}" -- test-binaries tests "target/$VM_TRIPLE/guest-tests.txt"
elif [ "$mode" = ci ]; then
  phase tests "${insta[@]}" -- test tests "${ci_packages[@]}"
else
  phase tests "${insta[@]}" -- test tests
fi
phase state-after -- state after
if ! diff -u "$results/state-before.txt" "$results/state-after.txt" >"$results/leftovers.diff"; then
  vm_log "the tests left these behind in the guest (+) or removed them (-):"
  cat "$results/leftovers.diff" >&2
  failed+=(leftovers)
fi
if [ "$native" = 1 ]; then
  phase quickstart -- quickstart
  if [ "$mode" = full ]; then
    phase doctor -- doctor
    phase book -- book
    phase limits -- limits
    phase missing-controller -- missing-controller
    # The controllers must still be handed down after a reboot (provisioning is
    # done once, the class VM reboots many times).
    step reboot "$here/guest.sh" reboot || failed+=(reboot)
    phase context-after-reboot -- context
    phase limits-after-reboot -- limits
  fi
fi

phase journal -- journal

if [ "$record" = 1 ]; then
  # The snapshots a v2 host records for itself (tests/src/snapshots/*_v2.snap):
  # new or changed ones come back into this checkout, to be reviewed and committed.
  snapshots=$(mktemp -d)
  vm_ssh "tar -C $project -cf - tests/src/snapshots" | tar -C "$snapshots" -xf -
  for file in "$snapshots"/tests/src/snapshots/*.snap; do
    mine=tests/src/snapshots/$(basename "$file")
    if ! cmp -s "$file" "$mine"; then
      cp "$file" "$mine"
      vm_log "snapshot recorded in the guest: $mine"
    fi
  done
  rm -rf "$snapshots"
fi

# ---- the summary ------------------------------------------------------------------
# Per test binary: passed, failed, ignored, from the `cargo test` log (or the
# cross-built executables' log, which has the same lines).
per_binary() {
  awk '
    /^ *Running / {
      exe = $0; sub(/.*\(/, "", exe); sub(/\)$/, "", exe); n = split(exe, parts, "/"); crate = parts[n]
      sub(/-[0-9a-f]+$/, "", crate)
      source = $0; sub(/^ *Running (unittests )?/, "", source); sub(/ \(.*/, "", source)
      # An integration test binary is named after its file: name it by its
      # package, whose unit tests cargo runs just before.
      if ($0 ~ /Running unittests /) package = crate
      name = (package != "" ? package : crate) ": " source
      if (source ~ /: /) name = source # the cross-built list names its binaries itself
    }
    /^ *Doc-tests / { name = "doc-tests: " $2 }
    /^test result:/ {
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^passed/) p = $(i-1); if ($i ~ /^failed/) f = $(i-1); if ($i ~ /^ignored/) g = $(i-1)
      }
      if (p + f + g > 0) printf "| %s | %d | %d | %d |\n", name, p, f, g
      tp += p; tf += f; tg += g
    }
    /^test .* \.\.\. FAILED$/ { sub(/^test /, ""); sub(/ \.\.\. FAILED$/, ""); failures = failures "\n- " $0 }
    END {
      printf "| **total** | **%d** | **%d** | **%d** |\n", tp, tf, tg
      if (failures != "") printf "\nFailed:%s\n", failures
    }' "$1"
}
rc_of() { sed -n 's/^rc=\([0-9]*\).*/\1/p' "$results/$1.rc" 2>/dev/null; }
verdict() { case "$(rc_of "$1")" in 0) echo passed ;; "") echo "not run" ;; *) echo "FAILED (exit $(rc_of "$1"))" ;; esac; }
summary=$results/summary.md
{
  echo "# $VM_NAME: the grader in a cgroup v2 guest"
  echo
  echo "- when: $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "- command: \`sudo ${VM_SUITE:+VM_SUITE=$VM_SUITE }${VM_ARCH:+VM_ARCH=$VM_ARCH }scripts/vm/grade.sh$([ "$mode" = ci ] && echo ' --ci')\` ($(vm_accel))"
  sed -n 's/^\(os\|kernel\|systemd\|\/sys\/fs\/cgroup\|this shell.s cgroup\): /- \1: /p' "$results/context.txt" 2>/dev/null
  echo "- root hands down: $(sed -n 's/^root hands down: //p' "$results/context.txt" 2>/dev/null) before provisioning," \
    "$(sed -n 's/^root hands down: //p' "$results/context-provisioned.txt" 2>/dev/null) after"
  [ -f "$results/context-after-reboot.txt" ] || true
  echo "- provisioning: $(verdict provision); leftovers after the tests: $([ -s "$results/leftovers.diff" ] && echo 'SOME (see leftovers.diff)' || echo none)"
  [ "$native" = 1 ] && echo "- README quick start: $(verdict quickstart)"
  [ -f "$results/doctor.rc" ] && echo "- \`cargo workshop doctor\`: $(verdict doctor)"
  [ -f "$results/limits-after-reboot.rc" ] && echo "- after a reboot: root hands down $(sed -n 's/^root hands down: //p' "$results/context-after-reboot.txt" 2>/dev/null); limits: $(verdict limits-after-reboot)"
  echo "- time: $(for k in "${!took[@]}"; do printf '%s %ss, ' "$k" "${took[$k]}"; done | sed 's/, $//')"
  echo
  echo "| test binary | passed | failed | ignored |"
  echo "|---|---|---|---|"
  [ -f "$results/tests.log" ] && per_binary "$results/tests.log"
} >"$summary"
cat "$summary"
if [ "$record" = 1 ]; then
  mkdir -p tests/guest-runs
  cp "$summary" "tests/guest-runs/$VM_NAME.md"
  # One row per guest in the table the book's Troubleshooting page includes.
  context() { sed -n "s/^$1: //p" "$results/context.txt" 2>/dev/null; }
  totals=$(per_binary "$results/tests.log" 2>/dev/null | sed -n 's/^| \*\*total\*\* | \*\*\([0-9]*\)\*\* | \*\*\([0-9]*\)\*\* .*/\1 passed, \2 failed/p')
  scope="everything (\`cargo test\`)"
  [ "$native" = 0 ] && scope="chapters 01-08"
  [ "$mode" = ci ] && scope="chapters 02, 06, 07, 08"
  row="| $VM_NAME | $(context os) | $(context kernel) | $(context systemd | awk '{print $1, $2}') | $(date -u +%F) | \`$(git rev-parse --short HEAD)\` | $scope: ${totals:-no result} | $([ -f "$results/doctor.rc" ] && verdict doctor || echo -) |"
  table=tests/guest-runs/proven.md
  {
    echo "| guest | system | kernel | init | date | commit | grader | doctor |"
    echo "|---|---|---|---|---|---|---|---|"
    { grep '^| [a-z]*-[a-z0-9]* |' "$table" 2>/dev/null | grep -v "^| $VM_NAME |" || true; echo "$row"; } | sort
  } >"$table.new"
  mv "$table.new" "$table"
  vm_log "recorded: tests/guest-runs/$VM_NAME.md and its row in $table"
fi
vm_log "results in $results ($((SECONDS - total_start)) s in all)"
if [ "${#failed[@]}" -gt 0 ]; then
  vm_log "FAILED: ${failed[*]}"
  exit 1
fi
exit 0
}
