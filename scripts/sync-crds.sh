#!/usr/bin/env bash
# Copy the CustomResourceDefinitions from crds/ (their source of truth) into the chart.
#
# Helm installs whatever sits in charts/changetrail/crds/, so the chart carries its own copy;
# tests/chart checks that the copy is byte-identical. Run this after editing crds/*.yaml.
set -euo pipefail

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
source_dir="$repo_root/crds"
chart_dir="$repo_root/charts/changetrail/crds"

shopt -s nullglob
sources=("$source_dir"/*.yaml)
if ((${#sources[@]} == 0)); then
  echo "sync-crds: no CRDs in crds/ to copy" >&2
  exit 1
fi

mkdir -p "$chart_dir"
# A CRD removed from crds/ must disappear from the chart as well.
for copied in "$chart_dir"/*.yaml; do
  [[ -e "$source_dir/$(basename "$copied")" ]] || rm -f "$copied"
done
cp "${sources[@]}" "$chart_dir/"
echo "sync-crds: copied ${#sources[@]} CRD file(s) into charts/changetrail/crds/" >&2
