#!/usr/bin/env bash
# `make kind-e2e`: the e2e suite against a kind cluster, for machines with Docker and kind.
#
# Creates the cluster (the HPA controller off, because the HPA scenarios play the
# autoscaler themselves), builds both images and loads them into kind, then runs the same
# pytest suite as `make e2e`. The suite installs the chart with helm, so the chart's
# own API and operator run in kind with the images just built; the suite's API and
# operator still run locally, the operator with a token of the chart's ServiceAccount.
# KEEP_CLUSTER=1 leaves the cluster running afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

cluster="${KIND_CLUSTER_NAME:-changetrail-e2e}"
image_tag="e2e"
for tool in docker kind kubectl; do
    command -v "$tool" >/dev/null || { echo "kind-e2e needs $tool on PATH" >&2; exit 1; }
done

if ! kind get clusters | grep -qx "$cluster"; then
    kind create cluster --name "$cluster" --wait 180s --config - <<'KIND'
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
kubeadmConfigPatches:
  - |
    kind: ClusterConfiguration
    controllerManager:
      extraArgs:
        controllers: "*,-horizontal-pod-autoscaler-controller"
KIND
fi
if [[ "${KEEP_CLUSTER:-0}" != 1 ]]; then
    trap 'kind delete cluster --name "$cluster"' EXIT
fi

IMAGE_TAG="$image_tag" scripts/build-images.sh
for component in api operator; do
    kind load docker-image "changetrail-${component}:${image_tag}" --name "$cluster"
done
# The scenarios roll out registry.example.com/shop/api:<tag>, which no registry serves:
# on kind, where kubelets really pull, those tags are the pause image loaded in advance.
docker pull registry.k8s.io/pause:3.10
for tag in 1.0.0 1.1.0 1.2.0; do
    docker tag registry.k8s.io/pause:3.10 "registry.example.com/shop/api:${tag}"
    kind load docker-image "registry.example.com/shop/api:${tag}" --name "$cluster"
done

kubeconfig="$(mktemp)"
kind get kubeconfig --name "$cluster" >"$kubeconfig"
scripts/ensure-postgres.sh

CHANGETRAIL_E2E_KUBECONFIG="$kubeconfig" CHANGETRAIL_E2E_IMAGE_TAG="$image_tag" \
    .venv/bin/python -m pytest tests/e2e -v "$@"
