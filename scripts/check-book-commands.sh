#!/usr/bin/env bash
# Runs the commands the book shows and checks they print what the book says
# (scripts/bookcheck does the work; it lists what it skips and why with -v).
# Needs root, as the chapter runtimes do. CI runs it (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run -q -p bookcheck -- "$@"
