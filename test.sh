#!/usr/bin/env bash
# The project's test command, for humans and CI alike (.ci/run calls it):
#   ./test.sh
# Runs formatting and lint checks, every test (unit, integration against
# the real emulator, doc tests) under `cargo test`, then any extra suites. Every step runs even if an earlier one failed, so one run reports
# everything; the exit status is non-zero if any step failed.
#
# Integration tests start their own Cloud Firestore emulators; they need Java
# 17+ and the emulator jar (see emulator/README.md), nothing running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# ---------------------------------------------------------------------------
# EXTRA SUITES HOOK: further test suites (e.g. Firestore rules tests), one
# command string per entry, run with `bash -c` from the repository root after
# the Rust suites. Each must exit non-zero on failure.
# - dashboard/test.sh: the web dashboard in a real browser; needs `npm ci`
#   in dashboard/ and Chromium (.ci/run installs both). Its closing line
#   is counted below.
EXTRA_SUITES=(
  "dashboard/test.sh"
)
# ---------------------------------------------------------------------------

failed_steps=()
passed=0
failed=0
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

step() {
  local name=$1
  shift
  echo
  echo "==> $name"
  local start=$SECONDS
  if "$@"; then
    echo "<== $name: ok ($((SECONDS - start)) s)"
  else
    echo "<== $name: FAILED ($((SECONDS - start)) s)"
    failed_steps+=("$name")
  fi
}

# Adds the counts from a runner's closing line(s) in file $1 to the totals.
count_from() {
  local file=$1 pattern=$2 line n
  while IFS= read -r line; do
    n=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || true)
    passed=$((passed + ${n:-0}))
    n=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || true)
    failed=$((failed + ${n:-0}))
    n=$(grep -oE '[0-9]+ timed out' <<<"$line" | grep -oE '[0-9]+' || true)
    failed=$((failed + ${n:-0}))
  done < <(grep -E "$pattern" "$file" || true)
}

# cargo test, not nextest: it runs each test binary as one process, so
# each binary starts one emulator and its tests share it (each in its own
# database), and binaries run one after another, so a binary's timings are
# not disturbed by another's load. Doc tests are included.
rust_tests() {
  cargo test --workspace --no-fail-fast 2>&1 | tee "$log_dir/test.log"
}

# The production build (docs/production.md) leaves out the emulator
# launcher; check that it still builds, lints clean, and really has no
# launcher in its dependency graph.
production_build() {
  local tree
  cargo clippy -p vayu --no-default-features --lib --bins -- -D warnings || return 1
  tree=$(cargo tree -p vayu -e normal --no-default-features) || return 1
  if grep -q vayu-emulator <<<"$tree"; then
    echo "vayu-emulator is in the production dependency graph" >&2
    return 1
  fi
}

step "cargo fmt --check" cargo fmt --all --check
step "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
step "production build, no emulator launcher" production_build
step "cargo test" rust_tests
count_from "$log_dir/test.log" '^test result:'

export VAYU_TEST_LOGS=$log_dir
for suite in "${EXTRA_SUITES[@]}"; do
  step "extra suite: $suite" bash -c "$suite"
done
if [[ -f "$log_dir/dashboard.log" ]]; then
  count_from "$log_dir/dashboard.log" '^dashboard browser tests:'
fi

echo
if ((${#failed_steps[@]})); then
  echo "FAILED steps:"
  printf '  - %s\n' "${failed_steps[@]}"
fi
# Plain closing line, understood by CI whatever the runner.
echo "tests: $passed passed, $failed failed"
((${#failed_steps[@]} == 0))
