#!/usr/bin/env bash
# Builds Prometheus Alertmanager for the end-to-end suite from the pinned Go module
# next to this script (e2e/alertmanager), and prints the directory holding the binary.
#
# Pinned to v0.28.1: later releases no longer ship the web UI's built assets in the Go
# module, so `go build` of their cmd/alertmanager fails outside a checkout of the repo.
#
# Cached like e2e/build.sh: under a directory named after a hash of the module files,
# this script and the Go version, so it is rebuilt only when one of those changes.
# Progress goes to stderr; stdout carries only the binary directory.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
export PATH="/usr/local/go/bin:${PATH}"
command -v go >/dev/null || { echo "e2e/build-alertmanager.sh: go is not installed" >&2; exit 1; }

version="0.28.1"
module="${here}/alertmanager"

key="$({
    go version
    cat "${here}/build-alertmanager.sh" "${module}/go.mod" "${module}/go.sum"
} | sha256sum | cut -c1-16)"
cache_root="${XDG_CACHE_HOME:-${HOME}/.cache}/changetrail-e2e"
bin_dir="${cache_root}/alertmanager-${key}/bin"

if [[ -f "${bin_dir}/.complete" ]]; then
    echo "e2e/build-alertmanager.sh: alertmanager cached in ${bin_dir}" >&2
    echo "${bin_dir}"
    exit 0
fi

started=$(date +%s)
staging="${cache_root}/alertmanager-${key}/bin.partial"
rm -rf "${staging}"
mkdir -p "${staging}"

# The version variables make the binary report its release (`--version`, the webhook's
# User-Agent); -s -w keeps the link short.
version_pkg="github.com/prometheus/common/version"
ldflags="-s -w -X ${version_pkg}.Version=${version} -X ${version_pkg}.Branch=HEAD"
ldflags+=" -X ${version_pkg}.Revision=v${version}"

echo "e2e/build-alertmanager.sh: building alertmanager ${version} (module e2e/alertmanager)" >&2
# nice: a first build takes minutes and must not starve whatever else runs on the machine.
(cd "${module}" && nice -n 19 go build -trimpath -ldflags "${ldflags}" \
    -o "${staging}/alertmanager" github.com/prometheus/alertmanager/cmd/alertmanager)

"${staging}/alertmanager" --version >/dev/null 2>&1 \
    || { echo "e2e/build-alertmanager.sh: the built alertmanager does not run" >&2; exit 1; }
touch "${staging}/.complete"
rm -rf "${bin_dir}"
mv "${staging}" "${bin_dir}"
echo "e2e/build-alertmanager.sh: built alertmanager in $(($(date +%s) - started))s into ${bin_dir}" >&2
echo "${bin_dir}"
