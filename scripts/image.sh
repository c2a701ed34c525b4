#!/usr/bin/env bash
# Builds the container image that runs any sweep shard (Containerfile): the longtail binary is
# built here on the host (cgo, glibc), the ONNX Runtime library comes from scripts/setup.sh, and
# both go with configs/ into a staged build context (.image/, git-ignored) that Podman or Docker
# builds from. The base image is a build argument (default debian:bookworm-slim); the build runs
# nothing inside the image, so it needs no network beyond fetching the base, and none at all
# with a base that is already local.
#
#   scripts/image.sh [--engine podman|docker] [--base IMAGE] [--tag TAG] [-- ENGINE-BUILD-ARGS...]
#
# e.g. scripts/image.sh --tag registry.example/longtail:v1 && podman push registry.example/longtail:v1
set -euo pipefail
cd "$(dirname "$0")/.."

engine=${LONGTAIL_ENGINE:-}
base=debian:bookworm-slim
tag=longtail:latest
extra=()
usage="usage: scripts/image.sh [--engine podman|docker] [--base IMAGE] [--tag TAG] [-- ENGINE-BUILD-ARGS...]"
while [ $# -gt 0 ]; do
  case "$1" in
    --engine) engine=${2:?--engine needs podman or docker}; shift 2 ;;
    --base) base=${2:?--base needs an image}; shift 2 ;;
    --tag | -t) tag=${2:?--tag needs a name}; shift 2 ;;
    -h | --help) echo "$usage"; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "image.sh: unknown argument $1; $usage" >&2; exit 2 ;;
  esac
done
if [ -z "$engine" ]; then
  if command -v podman >/dev/null; then engine=podman
  elif command -v docker >/dev/null; then engine=docker
  else echo "image.sh: neither podman nor docker found (apt-get install podman)" >&2; exit 1
  fi
fi
command -v "$engine" >/dev/null || { echo "image.sh: $engine not found" >&2; exit 1; }

./scripts/setup.sh
ctx=.image
rm -rf "$ctx"
mkdir -p "$ctx/lib"
echo "image.sh: building longtail for the image"
CGO_ENABLED=1 go build -trimpath -o "$ctx/longtail" ./cmd/longtail
cp -L .ort/libonnxruntime.so.1 "$ctx/lib/"
cp -R configs "$ctx/configs"
cp Containerfile "$ctx/Containerfile"
echo "image.sh: $engine build --build-arg BASE=$base -t $tag ${extra[*]}"
"$engine" build --build-arg BASE="$base" -t "$tag" -f "$ctx/Containerfile" "${extra[@]}" "$ctx"
echo "image.sh: built $tag; check it with: $engine run --rm $tag doctor"
