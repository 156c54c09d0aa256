#!/usr/bin/env bash
# Runs the commands the book shows and checks they print what the book says
# (scripts/bookcheck does the work; it lists what it skips and why with -v).
# Needs root, as the chapter runtimes do. CI runs it (.ci/run).
#
#   scripts/check-book-commands.sh [-v] [--page PAGE]...
#
# --page checks only the pages named (repeatable), e.g. chapter 06's alone in a
# cgroup v2 guest: scripts/check-book-commands.sh --page ch06-cgroups.md
# Blocks marked <!-- bookcheck: cgroup v2 --> (or v1) run only on a host of that
# cgroup version, and are skipped elsewhere (scripts/bookcheck/src/select.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run -q -p bookcheck -- "$@"
