#!/usr/bin/env bash
# Make sure commands from Debian packages are installed: each argument is COMMAND:PACKAGE
# (or a path to a file the package ships, then :PACKAGE). Installs the missing packages with
# apt when we may (root), as scripts/ensure-postgres.sh does; otherwise names them and fails.
#
#   scripts/ensure-debian-packages.sh buildah:buildah mmdebstrap:mmdebstrap
set -euo pipefail

missing=()
for wanted in "$@"; do
    command_name="${wanted%%:*}"
    package="${wanted#*:}"
    if [[ "${command_name}" == /* ]]; then
        [[ -e "${command_name}" ]] && continue
    elif command -v "${command_name}" >/dev/null 2>&1 || [[ -x "/usr/sbin/${command_name}" ]]; then
        continue
    fi
    missing+=("${package}")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ "${EUID}" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "Installing Debian packages: ${missing[*]}..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
