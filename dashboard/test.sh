#!/usr/bin/env bash
# The dashboard's browser suite, as test.sh's EXTRA_SUITES runs it: builds
# the binaries the tests start (`vayu dashboard`, `vayu-agent`), then runs
# dashboard/tests/run.mjs with Debian's Chromium. Its log goes to
# $VAYU_TEST_LOGS/dashboard.log, whose closing line test.sh counts.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ ! -d dashboard/node_modules/playwright-core ]]; then
  # The locked packages, from the npm registry; never a browser download.
  (cd dashboard && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund) || {
    echo "npm ci in dashboard/ failed; the browser tests need its packages" >&2
    exit 1
  }
fi
if ! command -v chromium >/dev/null 2>&1; then
  echo "chromium is missing: apt-get install chromium (.ci/run does)" >&2
  exit 1
fi
cargo build -q --bins || exit 1
node dashboard/tests/run.mjs 2>&1 | tee "${VAYU_TEST_LOGS:-${TMPDIR:-/tmp}}/dashboard.log"
exit "${PIPESTATUS[0]}"
