#!/usr/bin/env bash
# `make e2e`: build (or take from the cache) the control plane, then run the e2e suite,
# which starts the control plane, installs the chart and runs the API and the operator.
# Extra arguments go to pytest, e.g. `e2e/run.sh -k rollout`.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
if ! bin_dir="$(e2e/build.sh)"; then
    echo "e2e: could not build the control plane" >&2
    exit 1
fi
echo "e2e: control plane binaries ready after $(($(date +%s) - started))s"
CHANGETRAIL_E2E_ALERTMANAGER_BIN="$(e2e/build-alertmanager.sh)" || { echo "e2e: could not build Alertmanager" >&2; exit 1; }; export CHANGETRAIL_E2E_ALERTMANAGER_BIN

# The API runs on PostgreSQL, started from Debian's binaries by the suite.
scripts/ensure-postgres.sh

export CHANGETRAIL_E2E_BIN="${bin_dir}"
exec .venv/bin/python -m pytest tests/e2e -v --durations=10 "$@"
