#!/usr/bin/env bash
# `make image`: build the API and operator images from the Dockerfile's two targets.
#
#   <IMAGE_PREFIX>changetrail-api:<IMAGE_TAG>        (target api)
#   <IMAGE_PREFIX>changetrail-operator:<IMAGE_TAG>   (target operator)
#
# IMAGE_TAG defaults to the release version (the Dockerfile's VERSION, which is also the
# chart's appVersion), so the chart's default values find the images; IMAGE_PREFIX (empty by
# default) names a registry, e.g. registry.example.com/platform/.
#
# Docker builds them when a Docker engine answers. Otherwise buildah builds the same
# Dockerfile without a daemon (IMAGE_BUILDER=buildah picks it even beside Docker):
#
# - on the base image PYTHON_IMAGE names; when unset, a local Debian base with Debian's Python
#   (scripts/build-base-image.sh), since the official Python image needs a registry;
# - RUN steps use the host's network, and see the host's CA bundle (and uv set to trust it)
#   through read-only mounts that never become part of a layer;
# - the images are exported as OCI archives to IMAGE_OUTPUT (default build/images), whose size
#   and Debian and Python packages are printed (scripts/image_contents.py).
#
# Where neither builds, this says so and fails rather than build nothing quietly.
set -euo pipefail
cd "$(dirname "$0")/.."

version="$(sed -n 's/^ARG VERSION=//p' Dockerfile)"
tag="${IMAGE_TAG:-$version}"
prefix="${IMAGE_PREFIX:-}"
builder="${IMAGE_BUILDER:-}"

if [[ -z "${builder}" ]]; then
    if command -v docker >/dev/null 2>&1; then
        if docker info >/dev/null 2>&1; then
            builder=docker
        elif command -v buildah >/dev/null 2>&1; then
            echo "make image: no Docker engine answers; building with buildah" >&2
            builder=buildah
        else
            echo "make image: docker is installed but no Docker engine answers (is the daemon running?)" >&2
            exit 1
        fi
    elif command -v buildah >/dev/null 2>&1; then
        builder=buildah
    elif [[ "${EUID}" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        scripts/ensure-debian-packages.sh buildah:buildah
        builder=buildah
    else
        echo "make image: no image builder found: install Docker or buildah to build the images." >&2
        echo "make image-check checks the Dockerfile and replays its build stage without one." >&2
        exit 1
    fi
fi

if [[ "${builder}" == docker ]]; then
    for target in api operator; do
        image="${prefix}changetrail-${target}:${tag}"
        echo "make image: building ${image} (target ${target})" >&2
        docker build --target "$target" --tag "$image" .
    done
    exit 0
fi

# buildah.
started=$(date +%s)
output="${IMAGE_OUTPUT:-build/images}"
base="${PYTHON_IMAGE:-}"
pull=()
if [[ -z "${base}" ]]; then
    base="$(scripts/build-base-image.sh)"
    pull=(--pull=never)
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
mounts=()
ca_bundle="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
if [[ -f "${ca_bundle}" ]]; then
    # pip reads the system bundle; uv reads it when told to use the system's certificates.
    printf 'system-certs = true\n' >"${work}/uv.toml"
    mounts+=(--volume "${ca_bundle}:/etc/ssl/certs/ca-certificates.crt:ro")
    mounts+=(--volume "${work}/uv.toml:/etc/uv/uv.toml:ro")
fi
runtime=()
# runc rather than crun, which cannot run containers on hosts with hybrid cgroups.
if runc="$(command -v runc || command -v /usr/sbin/runc)"; then
    runtime=(--runtime "${runc}")
fi

# One snapshot of the build context for both images, so they hold the same sources even when
# files change during the build: what .dockerignore lets in (its "!" lines), with it.
context="${work}/context"
mkdir -p "${context}"
cp Dockerfile .dockerignore "${context}/"
sed -n 's/^!//p' .dockerignore | while read -r path; do cp -a "${path}" "${context}/"; done

log="${work}/build.log"
bud() {
    if ! buildah bud --layers --network host "${pull[@]}" "${runtime[@]}" "${mounts[@]}" \
        --build-arg "PYTHON_IMAGE=${base}" "$@" "${context}" >>"${log}" 2>&1; then
        tail -n 60 "${log}" >&2
        echo "make image: buildah bud $* failed (the end of its output is above)" >&2
        exit 1
    fi
}

# The build stage gets a name of its own, so the layer cache it holds survives the pruning
# of superseded images below.
echo "make image: building the build stage on ${base}" >&2
bud --target build --tag localhost/changetrail-build-stage:latest
mkdir -p "${output}"
archives=()
for target in api operator; do
    image="${prefix}changetrail-${target}:${tag}"
    echo "make image: building ${image} (target ${target})" >&2
    bud --target "$target" --tag "$image"
    archive="${output}/changetrail-${target}-${tag}.oci.tar"
    rm -f "${archive}"
    buildah push --quiet "${image}" "oci-archive:${archive}:${image}"
    archives+=("${archive}")
done
buildah rmi --prune >/dev/null 2>&1 || true
echo "make image: built with buildah in $(($(date +%s) - started))s" >&2
python3 scripts/image_contents.py "${archives[@]}"
