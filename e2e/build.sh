#!/usr/bin/env bash
# Builds the control plane used by the end-to-end suite (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kwok) from the pinned Go
# modules next to this script, and prints the directory holding the binaries.
#
# The binaries are cached under a directory named after a hash of the module
# files, this script and the Go version, so they are rebuilt only when one of
# those changes. Go's own module and build caches stay where Go keeps them.
# Progress goes to stderr; stdout carries only the binary directory.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
export PATH="/usr/local/go/bin:${PATH}"
command -v go >/dev/null || { echo "e2e/build.sh: go is not installed" >&2; exit 1; }

kube_version="v1.34.4"
components=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)

key="$({
    go version
    cat "${here}/build.sh"
    for module in controlplane etcd kwok; do
        cat "${here}/${module}/go.mod" "${here}/${module}/go.sum"
    done
} | sha256sum | cut -c1-16)"
cache_root="${XDG_CACHE_HOME:-${HOME}/.cache}/changetrail-e2e"
bin_dir="${cache_root}/${key}/bin"

if [[ -f "${bin_dir}/.complete" ]]; then
    echo "e2e/build.sh: control plane binaries cached in ${bin_dir}" >&2
    echo "${bin_dir}"
    exit 0
fi

started=$(date +%s)
staging="${cache_root}/${key}/bin.partial"
rm -rf "${staging}"
mkdir -p "${staging}"

# The version variables make kube-apiserver report a real release, which helm
# needs to check a chart's kubeVersion constraint; -s -w keeps the link short.
version_pkg="k8s.io/component-base/version"
kube_ldflags="-s -w -X ${version_pkg}.gitVersion=${kube_version}"
kube_ldflags+=" -X ${version_pkg}.gitMajor=1 -X ${version_pkg}.gitMinor=34"
kube_ldflags+=" -X ${version_pkg}.gitTreeState=clean"

# nice: the first build takes a long while on a small machine and must not
# starve whatever else runs there.
build() {
    local module="$1" ldflags="$2" output="$3"
    shift 3
    echo "e2e/build.sh: building $* (module e2e/${module})" >&2
    (cd "${here}/${module}" && nice -n 19 go build -trimpath -ldflags "${ldflags}" -o "${output}" "$@")
}

build controlplane "${kube_ldflags}" "${staging}/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl
build etcd "-s -w" "${staging}/etcd" go.etcd.io/etcd/server/v3
build kwok "-s -w" "${staging}/kwok" sigs.k8s.io/kwok/cmd/kwok

for component in "${components[@]}"; do
    test -x "${staging}/${component}" || { echo "e2e/build.sh: ${component} missing" >&2; exit 1; }
done
touch "${staging}/.complete"
rm -rf "${bin_dir}"
mv "${staging}" "${bin_dir}"
echo "e2e/build.sh: built the control plane in $(($(date +%s) - started))s into ${bin_dir}" >&2
echo "${bin_dir}"
