#!/usr/bin/env bash
# `make e2e`: build (or take from the cache) the control plane, a real node's parts and the
# images, then run the e2e suite, which starts the control plane and the node, installs the
# chart and runs the scenarios against the chart's pods.
# Extra arguments go to pytest, e.g. `e2e/run.sh -k rollout`.
#
# The real node needs root (network namespaces, mounts, cgroups). Without it the suite still
# runs, with the API and the operator as local processes, and says why the real-node
# scenarios cannot run: under CI=true they fail, elsewhere they are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

run_started=$(date +%s)
step_started=${run_started}
step() {  # step NAME: print how long the step that just ended took
    local now
    now=$(date +%s)
    echo "e2e: $1: $((now - step_started))s"
    step_started=${now}
}

if ! bin_dir="$(e2e/build.sh)"; then
    echo "e2e: could not build the control plane" >&2
    exit 1
fi
step "control plane binaries"
export CHANGETRAIL_E2E_BIN="${bin_dir}"
CHANGETRAIL_E2E_ALERTMANAGER_BIN="$(e2e/build-alertmanager.sh)" || { echo "e2e: could not build Alertmanager" >&2; exit 1; }; export CHANGETRAIL_E2E_ALERTMANAGER_BIN

if [[ "${EUID}" == 0 ]]; then
    # The node's runtime, its network tools, the pause image's compiler and the image builder.
    scripts/ensure-debian-packages.sh \
        containerd:containerd runc:runc iptables:iptables conntrack:conntrack \
        gcc:gcc /usr/include/stdio.h:libc6-dev buildah:buildah mmdebstrap:mmdebstrap
    step "Debian packages"
    node_dir="$(e2e/build-node.sh)"
    step "node parts"
    if [[ -n "${CHANGETRAIL_E2E_IMAGES:-}" ]]; then
        # Images built before (by an earlier run, or from another checkout) are used as they are.
        images="${CHANGETRAIL_E2E_IMAGES}"
        echo "e2e: using the images in ${images}"
    else
        # The images as docs/install.md names them, exported as OCI archives for the node.
        images="build/e2e-images"
        IMAGE_BUILDER=buildah IMAGE_PREFIX=registry.example.com/platform/ \
            IMAGE_OUTPUT="${images}" scripts/build-images.sh
        # The base image also serves the volume provisioner's helper pods (they need a shell).
        base="$(scripts/build-base-image.sh)"
        rm -f "${images}/base.oci.tar"
        buildah push --quiet "${base}" "oci-archive:${images}/base.oci.tar:${base}"
        step "images"
    fi
    export CHANGETRAIL_E2E_NODE="${node_dir}" CHANGETRAIL_E2E_IMAGES="${images}"
else
    echo "e2e: not root, so no real node: the scenarios run against local processes, and" \
        "the real-node scenarios $([[ "${CI:-}" == true ]] && echo fail || echo are skipped)" >&2
fi

# The API runs on PostgreSQL, started from Debian's binaries by the suite.
scripts/ensure-postgres.sh

status=0
.venv/bin/python -m pytest tests/e2e -v --durations=15 "$@" || status=$?
step "suite"
echo "e2e: $(($(date +%s) - run_started))s in all"
exit "${status}"
