#!/usr/bin/env bash
# Make sure Debian's PostgreSQL server binaries are installed; the test harness starts its own
# throwaway server from them. Installs only when missing and we may (root or CI).
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "PostgreSQL server binaries are missing: install Debian's 'postgresql' package." >&2
  [ "${CI:-}" = "true" ] && exit 1
  exit 0
fi
echo "Installing PostgreSQL (Debian package 'postgresql')..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql >/dev/null
