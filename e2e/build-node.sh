#!/usr/bin/env bash
# Builds what the e2e suite's real node runs, and prints the directory holding it:
#
#   bin/kubelet, bin/kube-proxy   k8s.io/kubernetes, from e2e/controlplane's module, so they
#                                 are the control plane's release, built the same way
#   bin/crictl                    sigs.k8s.io/cri-tools (e2e/crictl)
#   bin/coredns                   CoreDNS with the plugins cluster DNS needs (e2e/coredns)
#   bin/local-path-provisioner    rancher's local-path-provisioner (e2e/local-path)
#   cni/bridge, cni/host-local, cni/loopback
#                                 github.com/containernetworking/plugins (e2e/cni)
#   images/pause.tar              Kubernetes' pause (build/pause/linux/pause.c of the same
#                                 k8s.io/kubernetes module), as an OCI archive
#
# Each part is cached on its own under ${XDG_CACHE_HOME:-~/.cache}/changetrail-e2e/<part>-<hash>,
# the hash covering what the part is built from (module files, sources), its build command
# and the compiler's version: changing CoreDNS's version rebuilds CoreDNS only. Builds run
# under nice. Progress goes to stderr; stdout carries only the directory.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
export PATH="/usr/local/go/bin:${PATH}"
command -v go >/dev/null || { echo "e2e/build-node.sh: go is not installed" >&2; exit 1; }

# The Kubernetes release, as e2e/build.sh stamps it into the control plane.
kube_version="$(sed -n 's/^kube_version="\(.*\)"$/\1/p' "${here}/build.sh")"
kube_minor="$(echo "${kube_version}" | cut -d. -f2)"
version_pkg="k8s.io/component-base/version"
kube_ldflags="-s -w -X ${version_pkg}.gitVersion=${kube_version}"
kube_ldflags+=" -X ${version_pkg}.gitMajor=1 -X ${version_pkg}.gitMinor=${kube_minor}"
kube_ldflags+=" -X ${version_pkg}.gitTreeState=clean"

cache_root="${XDG_CACHE_HOME:-${HOME}/.cache}/changetrail-e2e"
go_version="$(go version)"
started=$(date +%s)

# part_dir NAME RECIPE: the cache directory of a part, named after a hash of its recipe.
part_dir() {
    local key
    key="$(printf '%s\n%s\n' "$1" "$2" | sha256sum | cut -c1-16)"
    echo "${cache_root}/$1-${key}"
}

# module_sources MODULE: everything a Go module folder of e2e/ builds from.
module_sources() {
    (cd "${here}/$1" && cat go.mod go.sum && find . -name '*.go' -type f | sort | xargs -r cat)
}

# finish STAGING DIR: mark a part complete and move it into place atomically.
finish() {
    touch "$1/.complete"
    rm -rf "$2"
    mv "$1" "$2"
}

# go_part NAME MODULE LDFLAGS PACKAGE...: go build the packages of e2e/MODULE into NAME's bin/.
go_part() {
    local name="$1" module="$2" ldflags="$3"
    shift 3
    local dir
    dir="$(part_dir "${name}" "$(
        echo "${go_version}"
        module_sources "${module}"
        echo "go build -trimpath -ldflags '${ldflags}' $*"
    )")"
    if [[ ! -f "${dir}/.complete" ]]; then
        local part_started
        part_started=$(date +%s)
        echo "e2e/build-node.sh: building $* (module e2e/${module})" >&2
        rm -rf "${dir}.partial"
        mkdir -p "${dir}.partial/bin"
        (cd "${here}/${module}" &&
            nice -n 19 go build -trimpath -ldflags "${ldflags}" -o "${dir}.partial/bin/" "$@")
        finish "${dir}.partial" "${dir}"
        echo "e2e/build-node.sh: ${name} built in $(($(date +%s) - part_started))s" >&2
    fi
    echo "${dir}"
}

# pause_part: Kubernetes' pause, compiled as its Makefile does (static, -Os), in an image that
# holds only /pause, like the upstream pause image.
pause_part() {
    local source_dir tag dir
    source_dir="$(cd "${here}/controlplane" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause"
    tag="$(sed -n 's/^TAG ?= //p' "${source_dir}/Makefile")"
    local cflags="-Os -Wall -Werror -static -DVERSION=v${tag}-changetrail-e2e"
    dir="$(part_dir pause "$(
        gcc --version | head -1
        buildah --version
        cat "${source_dir}/linux/pause.c"
        echo "gcc ${cflags}; image pause:${tag}"
    )")"
    if [[ ! -f "${dir}/.complete" ]]; then
        echo "e2e/build-node.sh: building the pause image ${tag}" >&2
        rm -rf "${dir}.partial"
        mkdir -p "${dir}.partial/images"
        nice -n 19 gcc ${cflags} -o "${dir}.partial/pause" "${source_dir}/linux/pause.c"
        strip "${dir}.partial/pause"
        local container
        container="$(buildah from scratch)"
        buildah copy --quiet --chmod 0755 "${container}" "${dir}.partial/pause" /pause >/dev/null
        buildah config --entrypoint '["/pause"]' --user 65535:65535 \
            --label "org.opencontainers.image.version=${tag}" "${container}"
        buildah commit --quiet --rm --format oci "${container}" \
            "oci-archive:${dir}.partial/images/pause.tar:${PAUSE_IMAGE_NAME}:${tag}" >/dev/null
        echo "${tag}" >"${dir}.partial/images/pause.tag"
        finish "${dir}.partial" "${dir}"
    fi
    echo "${dir}"
}

# The sandbox image's name in the node's containerd (and in the archive's index).
PAUSE_IMAGE_NAME="changetrail-e2e.local/pause"

kubelet_dir="$(go_part kubelet controlplane "${kube_ldflags}" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)"
crictl_dir="$(go_part crictl crictl "-s -w" sigs.k8s.io/cri-tools/cmd/crictl)"
cni_dir="$(go_part cni cni "-s -w" \
    github.com/containernetworking/plugins/plugins/main/bridge \
    github.com/containernetworking/plugins/plugins/ipam/host-local \
    github.com/containernetworking/plugins/plugins/main/loopback)"
coredns_dir="$(go_part coredns coredns "-s -w" .)"
local_path_dir="$(go_part local-path local-path "-s -w" github.com/rancher/local-path-provisioner)"
pause_dir="$(pause_part)"

# One directory naming the parts of this build, so the suite gets one path.
node_dir="$(part_dir node "$(printf '%s\n' "${kubelet_dir}" "${crictl_dir}" "${cni_dir}" \
    "${coredns_dir}" "${local_path_dir}" "${pause_dir}")")"
if [[ ! -f "${node_dir}/.complete" ]]; then
    rm -rf "${node_dir}.partial"
    mkdir -p "${node_dir}.partial/bin" "${node_dir}.partial/cni" "${node_dir}.partial/images"
    for binary in kubelet kube-proxy; do
        ln -s "${kubelet_dir}/bin/${binary}" "${node_dir}.partial/bin/${binary}"
    done
    ln -s "${crictl_dir}/bin/crictl" "${node_dir}.partial/bin/crictl"
    ln -s "${coredns_dir}/bin/coredns" "${node_dir}.partial/bin/coredns"
    ln -s "${local_path_dir}/bin/local-path-provisioner" "${node_dir}.partial/bin/"
    for plugin in bridge host-local loopback; do
        ln -s "${cni_dir}/bin/${plugin}" "${node_dir}.partial/cni/${plugin}"
    done
    ln -s "${pause_dir}/images/pause.tar" "${node_dir}.partial/images/pause.tar"
    echo "${PAUSE_IMAGE_NAME}:$(cat "${pause_dir}/images/pause.tag")" \
        >"${node_dir}.partial/images/pause.name"
    finish "${node_dir}.partial" "${node_dir}"
fi
echo "e2e/build-node.sh: node parts ready in $(($(date +%s) - started))s in ${node_dir}" >&2
echo "${node_dir}"
