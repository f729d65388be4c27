#!/usr/bin/env bash
# The base image for building changetrail's images where no registry serves the official
# Python image: a minimal Debian root filesystem with Debian's own Python, built here with
# mmdebstrap and imported into buildah's local storage. Prints the image's name, to pass as
# the Dockerfile's PYTHON_IMAGE build argument:
#
#   buildah bud --pull=never --build-arg PYTHON_IMAGE="$(scripts/build-base-image.sh)" ...
#
# It stands in for python:3.11-slim where the Dockerfile relies on it: `python` and
# /usr/local/bin/python name the interpreter, pip installs into it (the image belongs to the
# application, so Debian's "externally managed" marker is removed), and it carries CA
# certificates, time zones, /etc/services, the user tools (passwd) and the C++ runtime that
# manylinux wheels may rely on. Nothing else: no apt, no compiler, no documentation.
#
# The root filesystem is cached under ${XDG_CACHE_HOME:-~/.cache}/changetrail/base-<hash>,
# the hash covering the Debian release, the package list and the image's settings; a new
# one replaces the old. Delete that directory to pick up Debian's newer package versions.
# Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

suite="${DEBIAN_SUITE:-bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
# libstdc++6: manylinux wheels may link it (greenlet does); the official image has it too.
packages="python3,python3-pip,python-is-python3,libstdc++6,ca-certificates,tzdata,netbase,passwd"

# Only the Essential packages (not even apt), the listed ones and what they depend on;
# /usr merged as debootstrap does it, without the usrmerge package (and the Perl it needs).
mmdebstrap_args=(
    --variant=essential --format=tar
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
    --include="${packages}"
    --aptopt='APT::Install-Recommends "false"'
    --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/locale/*'
    --dpkgopt='path-exclude=/usr/share/info/*'
    --customize-hook='ln -sf /usr/bin/python3 "$1/usr/local/bin/python"'
    --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED'
    --customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname"'
)
sources=(
    "deb ${mirror} ${suite} main"
    "deb ${mirror} ${suite}-updates main"
    "deb ${security_mirror} ${suite}-security main"
)
# The image's settings, applied when the root filesystem is imported.
config_args=(
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    --env LANG=C.UTF-8
    --cmd '["python3"]'
)

key="$(printf '%s\n' "${suite}" "${mmdebstrap_args[@]}" "${sources[@]}" "${config_args[@]}" |
    sha256sum | cut -c1-16)"
cache_root="${XDG_CACHE_HOME:-${HOME}/.cache}/changetrail"
cache_dir="${cache_root}/base-${key}"
rootfs="${cache_dir}/rootfs.tar"
image="localhost/changetrail-python-base:${suite}-${key}"

scripts/ensure-debian-packages.sh buildah:buildah mmdebstrap:mmdebstrap >&2

if [[ ! -f "${rootfs}" ]]; then
    started=$(date +%s)
    echo "build-base-image: building a Debian ${suite} root filesystem with Python" >&2
    mkdir -p "${cache_dir}"
    rm -f "${rootfs}.partial"
    if ! nice -n 10 mmdebstrap --quiet "${mmdebstrap_args[@]}" \
        "${suite}" "${rootfs}.partial" "${sources[@]}" >"${cache_dir}/mmdebstrap.log" 2>&1; then
        tail -n 40 "${cache_dir}/mmdebstrap.log" >&2
        echo "build-base-image: mmdebstrap failed (the end of its output is above)" >&2
        exit 1
    fi
    # Device nodes belong to the runtime, which mounts its own /dev.
    tar --delete --wildcards --file "${rootfs}.partial" './dev/?*'
    mv "${rootfs}.partial" "${rootfs}"
    echo "build-base-image: root filesystem built in $(($(date +%s) - started))s" >&2
fi

if ! buildah inspect --type image "${image}" >/dev/null 2>&1; then
    container="$(buildah from scratch)"
    trap 'buildah rm "${container}" >/dev/null 2>&1 || true' EXIT
    buildah add --quiet "${container}" "${rootfs}" / >/dev/null
    python_version="$(tar --extract --to-stdout --file "${rootfs}" ./var/lib/dpkg/status |
        awk '/^Package: python3$/ {found = 1} found && /^Version:/ {print $2; exit}')"
    buildah config "${config_args[@]}" \
        --label "org.opencontainers.image.description=Debian ${suite} with Debian's Python ${python_version}" \
        "${container}"
    buildah commit --quiet --rm "${container}" "${image}" >/dev/null
    trap - EXIT
    echo "build-base-image: imported ${image}" >&2
    # Bases this script built before (another package list or release) are superseded.
    for stale in "${cache_root}"/base-*; do
        if [[ "${stale}" != "${cache_dir}" ]]; then rm -rf "${stale}"; fi
    done
    buildah images --format '{{.Name}}:{{.Tag}}' |
        grep '^localhost/changetrail-python-base:' | grep -vxF "${image}" |
        xargs -r buildah rmi >/dev/null 2>&1 || true
fi
echo "${image}"
