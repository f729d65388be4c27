#!/usr/bin/env bash
# `make image`: build the API and operator images from the Dockerfile's two targets.
#
#   <IMAGE_PREFIX>changetrail-api:<IMAGE_TAG>        (target api)
#   <IMAGE_PREFIX>changetrail-operator:<IMAGE_TAG>   (target operator)
#
# IMAGE_TAG defaults to the release version (the Dockerfile's VERSION, which is also the
# chart's appVersion), so the chart's default values find the images; IMAGE_PREFIX (empty by
# default) names a registry, e.g. registry.example.com/platform/. Docker builds them; where
# there is no Docker, this says so and fails rather than build nothing quietly.
set -euo pipefail
cd "$(dirname "$0")/.."

version="$(sed -n 's/^ARG VERSION=//p' Dockerfile)"
tag="${IMAGE_TAG:-$version}"
prefix="${IMAGE_PREFIX:-}"

if ! command -v docker >/dev/null 2>&1; then
  echo "make image: no image builder found: install Docker to build the images." >&2
  echo "make image-check checks the Dockerfile and replays its build stage without one." >&2
  exit 1
fi
if ! docker info >/dev/null 2>&1; then
  echo "make image: docker is installed but no Docker engine answers (is the daemon running?)" >&2
  exit 1
fi

for target in api operator; do
  image="${prefix}changetrail-${target}:${tag}"
  echo "make image: building ${image} (target ${target})" >&2
  docker build --target "$target" --tag "$image" .
done
