#!/usr/bin/env bash
# The benchmarks drive HTTP load with wrk (Debian's package): a C client never becomes the
# bottleneck that a Python client would on a small machine.
set -euo pipefail
command -v wrk >/dev/null && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "wrk is missing: install Debian's 'wrk' package to run the API benchmark." >&2
  exit 1
fi
echo "Installing wrk (Debian package 'wrk')..." >&2
DEBIAN_FRONTEND=noninteractive apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
