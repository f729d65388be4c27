#!/usr/bin/env bash
# Make sure Debian's Chromium is installed; the browser tests drive it headless through
# Playwright (whose own browser download needs hosts we do not reach). Installs only when
# missing and we may (root); without it, CI fails here rather than skipping the browser tests.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "Chromium is missing: install Debian's 'chromium' package." >&2
  [ "${CI:-}" = "true" ] && exit 1
  exit 0
fi
echo "Installing Chromium (Debian package 'chromium')..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
