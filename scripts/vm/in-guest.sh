#!/usr/bin/env bash
# Runs INSIDE a guest (grade.sh calls it over ssh, from a login shell, as a
# student's terminal): one phase at a time, each with its log and its exit status
# and time in $RESULTS (default /root/wk-results).
#
#   in-guest.sh context                 where we are: cgroup mode, this shell's cgroup, versions
#   in-guest.sh provision               scripts/provision.sh, as the README says
#   in-guest.sh provision-cgroups       only the cgroup delegation and the rootfs (guests without cargo)
#   in-guest.sh state NAME              scripts/host-state.sh, to compare before and after
#   in-guest.sh test NAME [ARGS...]     cargo test --no-fail-fast ARGS
#   in-guest.sh test-binaries NAME LIST the test executables listed in LIST (cross-built: no cargo here)
#   in-guest.sh quickstart              the README's first `cargo run` command
#   in-guest.sh doctor                  cargo workshop doctor
#   in-guest.sh book                    the book checker on chapter 06 (its cgroup v2 blocks)
#   in-guest.sh limits                  the cgroup v2 limits, read on the host while a container runs
#   in-guest.sh missing-controller      without the delegation: the runtime's and doctor's answer
set -uo pipefail
# One compound command, read whole before it runs: an edit of this file while it
# runs cannot change what it does.
{
cd "$(dirname "$0")/../.." || exit 1
RESULTS=${RESULTS:-/root/wk-results}
mkdir -p "$RESULTS"
phase=${1:?phase}
shift

# timed NAME CMD...: CMD's output to NAME.log (and the terminal), "rc= seconds=" to NAME.rc.
timed() {
  # The caller may name the results (the same phase run twice, e.g. after a reboot).
  local name=${PHASE_NAME:-$1} start=$SECONDS rc
  shift
  "$@" 2>&1 | tee "$RESULTS/$name.log"
  rc=${PIPESTATUS[0]}
  echo "rc=$rc seconds=$((SECONDS - start))" | tee "$RESULTS/$name.rc"
  return "$rc"
}

# limits: a chapter 06 container under each limit, and what the host's cgroup
# files say while it runs and when it ends (the kernel's own counters).
limits() {
  local run=(target/debug/ch06-cgroups-solution run --rootfs /var/lib/workshop/busybox)
  local id dir
  show() { # show ID FILE...: the files of the container's cgroup, read on the host
    for file in "${@:2}"; do printf '    %s: %s\n' "$file" "$(tr '\n' ' ' <"/sys/fs/cgroup/workshop/$1/$file")"; done
  }
  echo "== --memory 32m, a shell that fills 64 MiB of memory"
  "${run[@]}" --memory 32m -- sh -c 'x=$(head -c 67108864 /dev/zero | tr "\\0" a); echo survived'
  echo "    exit status: $?"
  echo "== --pids-limit 16: a shell starts 64 sleepers"
  # (In a subshell: busybox's sh gives up when it cannot fork.)
  "${run[@]}" --pids-limit 16 -- sh -c '(for i in $(seq 64); do sleep 5 & done) 2>/dev/null; read n </sys/fs/cgroup/pids.current; read e </sys/fs/cgroup/pids.events; echo "inside: pids.current $n, pids.events $e"'
  echo "    exit status: $?"
  echo "== --cpus 0.5 --cpuset-cpus 0 --memory 64m --pids-limit 32: two busy loops for 4 s, files read on the host"
  "${run[@]}" --cpus 0.5 --cpuset-cpus 0 --memory 64m --pids-limit 32 -- sh -c 'for i in 1 2; do timeout 4 sh -c "while :; do :; done" & done; wait' &
  sleep 2.5
  for dir in /sys/fs/cgroup/workshop/*/; do
    id=$(basename "$dir")
    show "$id" memory.max memory.swap.max cpu.max pids.max pids.current cpuset.cpus.effective cpu.stat
  done
  wait
}

# missing_controller: a machine that was not provisioned, as far as cgroups go:
# without the delegation drop-in systemd stops handing cpuset down; the runtime
# must refuse --cpuset-cpus with 125 and the fix, and doctor must say the same.
# The drop-in is put back at the end.
missing_controller() {
  local dropin=/etc/systemd/system/user@.service.d/workshop-delegate.conf rc ok=1
  mv "$dropin" /root/workshop-delegate.conf.saved
  # systemd applies a removed delegation when the unit starts again: a new login.
  systemctl daemon-reload
  systemctl restart "user@$(id -u).service"
  echo "without the drop-in, the root hands down: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
  grep -qw cpuset /sys/fs/cgroup/cgroup.subtree_control && { echo "cpuset is still handed down"; ok=0; }
  target/debug/ch06-cgroups-solution run --rootfs /var/lib/workshop/busybox --cpuset-cpus 0 -- true
  rc=$?
  echo "exit status: $rc"
  [ "$rc" = 125 ] || ok=0
  target/debug/workshop doctor | grep -A1 -E '^cgroup controllers|\[fail\] cgroup controllers'
  mv /root/workshop-delegate.conf.saved "$dropin"
  systemctl daemon-reload
  echo "with the drop-in back, the root hands down: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
  grep -qw cpuset /sys/fs/cgroup/cgroup.subtree_control || ok=0
  [ "$ok" = 1 ]
}

case "$phase" in
  context)
    {
      echo "date: $(date -u +%FT%TZ)"
      echo "os: $(. /etc/os-release && echo "$PRETTY_NAME") $(dpkg --print-architecture)"
      echo "kernel: $(uname -r)"
      echo "systemd: $(systemctl --version | head -1)"
      echo "system: $(systemctl is-system-running)"
      echo "/sys/fs/cgroup: $(stat -fc %T /sys/fs/cgroup)"
      echo "root hands down: $(cat /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null)"
      echo "this shell's cgroup: $(cat /proc/self/cgroup)"
      echo "cpus: $(nproc), memory: $(free -m | awk '/Mem:/ {print $2}') MiB"
      echo "cargo: $(cargo --version 2>/dev/null || echo none)"
    } | tee "$RESULTS/${PHASE_NAME:-context}.txt"
    ;;
  provision)
    timed provision scripts/provision.sh
    ;;
  provision-cgroups)
    timed provision bash -c 'scripts/delegate-cgroups.sh && scripts/make-rootfs.sh /var/lib/workshop/busybox'
    ;;
  state)
    # What runs and tests may leave behind, and the class registry (the tests
    # must not stop it).
    { scripts/host-state.sh; echo "service docker-registry $(systemctl is-active docker-registry)"; } \
      >"$RESULTS/state-${1:?name}.txt"
    ;;
  journal)
    # For a post-mortem: the kernel's OOM kills and the registry service's log.
    { dmesg | grep -iE 'out of memory|killed process' | grep -v 'Memory cgroup' | tail -20
      journalctl -b --no-pager -u docker-registry | tail -40; } >"$RESULTS/journal.log" 2>&1
    ;;
  test)
    name=${1:?name}
    shift
    timed "$name" cargo test --no-fail-fast "$@"
    ;;
  test-binaries)
    # Each line of LIST: the package's directory, its test executable, and what to
    # call it. cargo would run each from its package's directory: so do we.
    name=${1:?name}
    list=${2:?list}
    run_all() {
      local failed=0 dir exe label
      while read -r dir exe label; do
        echo "     Running $label ($exe)"
        (cd "$dir" && "$exe") || failed=1
      done <"$list"
      return "$failed"
    }
    timed "$name" run_all
    ;;
  quickstart)
    # The README's own line, so that a change to the README is what is run.
    command=$(grep -m1 '^cargo run -p ch02-pid-namespace-solution' README.md)
    [ -n "$command" ] || { echo "no quick-start command in README.md" >&2; exit 1; }
    echo "\$ $command"
    timed quickstart bash -c "$command"
    ;;
  doctor)
    timed doctor cargo workshop doctor
    ;;
  book)
    # Chapter 06's commands, as the page prints them for a cgroup v2 host.
    timed book scripts/check-book-commands.sh --page ch06-cgroups.md
    ;;
  limits)
    timed limits limits
    ;;
  missing-controller)
    timed missing-controller missing_controller
    ;;
  *)
    echo "unknown phase: $phase" >&2
    exit 2
    ;;
esac
exit
}
