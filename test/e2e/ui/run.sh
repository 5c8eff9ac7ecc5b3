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
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  fi
fi
export CHROMIUM

(cd "$root/ui" && npm ci --no-audit --no-fund --loglevel=error && npm test)
# CHECK_UI_DIST=1 (CI): rebuild ui/dist and fail when the committed build is stale.
if [ "${CHECK_UI_DIST:-0}" = 1 ]; then
  (cd "$root/ui" && npm run build >/dev/null)
  if [ -n "$(cd "$root" && git status --porcelain -- ui/dist)" ]; then
    (cd "$root" && git status --short -- ui/dist) >&2
    echo "ui/dist is stale: run 'make ui' and commit ui/dist" >&2
    exit 1
  fi
fi
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
export SCREENSHOT_DIR="${SCREENSHOT_DIR:-/tmp}"
cd "$here" && node --test --test-concurrency=1 --test-timeout=300000 dashboard.test.mjs
