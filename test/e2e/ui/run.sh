#!/usr/bin/env bash
# Runs the dashboard's unit tests (vitest) and browser tests (node --test + playwright-core with
# the system Chromium) against the real Trellis server. Installs what it needs: npm packages
# (npm ci) and Debian's chromium when /usr/bin/chromium is missing. Never downloads browsers
# through Playwright.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"

if [ -z "${CHROMIUM:-}" ]; then
  CHROMIUM=/usr/bin/chromium
  if [ ! -x "$CHROMIUM" ]; then
    echo "installing chromium (apt-get)" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y chromium >/dev/null; else sudo apt-get install -y chromium >/dev/null; fi
  fi
fi
export CHROMIUM

(cd "$root/ui" && npm ci --no-audit --no-fund --loglevel=error && npm test)
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
export SCREENSHOT_DIR="${SCREENSHOT_DIR:-/tmp}"
cd "$here" && node --test --test-concurrency=1 --test-timeout=300000 dashboard.test.mjs
