#!/usr/bin/env bash
# Proves that every chapter's grader grades: run against the *unsolved* student
# crates in chapters/, every check that belongs to an exercise must FAIL. Checks
# named regression_* test the runtime around the exercises and may pass.
# A check that passes on todo!() checks nothing: this script fails if one does.
#
# Then, exercise by exercise: in a scratch copy of the workspace where only that
# exercise is unsolved (`cargo chaptergen --only NAME`), the checks named after it
# (NAME_...) must exist and fail. This proves each check grades its own exercise.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp -d "${TMPDIR:-/tmp}/prove-graders.XXXXXX")
trap 'rm -rf "$log"' EXIT
status=0
for manifest in chapters/*/Cargo.toml; do
  crate=$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)
  # The grader is expected to fail here: keep its output out of the way.
  cargo test -p "$crate" --test grade --no-fail-fast -- --test-threads 4 >"$log/$crate" 2>&1 || true
  failed=$(grep -cE '^test [a-z0-9_]+ \.\.\. FAILED$' "$log/$crate" || true)
  passed=$(grep -E '^test [a-z0-9_]+ \.\.\. ok$' "$log/$crate" | awk '{print $2}' || true)
  wrongly=$(grep -v '^regression_' <<<"$passed" | grep . || true)
  if [ "$failed" -eq 0 ]; then
    echo "FAIL $crate: no check failed on the unsolved crate (did the grader run?)"
    tail -20 "$log/$crate"
    status=1
  elif [ -n "$wrongly" ]; then
    echo "FAIL $crate: these checks pass although the exercises are todo!(): they check nothing"
    sed 's/^/    /' <<<"$wrongly"
    status=1
  else
    echo "ok   $crate: all $failed exercise checks fail on the unsolved crate ($(grep -c . <<<"$passed" || true) regression checks pass)"
  fi
done

scratch=$PWD/target/prove-graders
rm -rf "$scratch/src"
mkdir -p "$scratch/src"
cp -a Cargo.toml Cargo.lock .cargo solutions chapters tests scripts "$scratch/src/"
for solution in solutions/*/; do
  chapter=$(basename "$solution")
  crate=$(sed -n 's/^name = "\(.*\)"/\1/p' "chapters/$chapter/Cargo.toml" | head -1)
  for exercise in $(grep -ho '// exercise([a-z0-9_]*)' "$solution"src/*.rs | sed 's/.*(\(.*\))/\1/'); do
    (
      cd "$scratch/src"
      export CARGO_TARGET_DIR="$scratch/target"
      cargo chaptergen --only "$exercise" >/dev/null
      cargo test -p "$crate" --test grade --no-fail-fast -- "$exercise" >"$log/$exercise" 2>&1 || true
    )
    mine=$(grep -E "^test ${exercise}(_[a-z0-9_]+)? \.\.\. (ok|FAILED)\$" "$log/$exercise" || true)
    failed=$(grep -c 'FAILED$' <<<"$mine" || true)
    passed=$(grep ' ok$' <<<"$mine" | awk '{print $2}' || true)
    if [ "$failed" -eq 0 ]; then
      echo "FAIL $crate: no check named ${exercise}_... fails when only \`$exercise\` is unsolved"
      tail -20 "$log/$exercise"
      status=1
    elif [ -n "$passed" ]; then
      echo "FAIL $crate: with only \`$exercise\` unsolved, these of its checks still pass:"
      sed 's/^/    /' <<<"$passed"
      status=1
    else
      echo "ok   $crate: with only \`$exercise\` unsolved, its $failed check(s) fail"
    fi
  done
done
rm -rf "$scratch/src"
exit $status
