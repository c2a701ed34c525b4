#!/usr/bin/env bash
# Installs what longtail needs that `go` does not fetch by itself: the ONNX Runtime shared
# library, taken from the npm package onnxruntime-node at a pinned version and checked
# against a pinned sha256, into .ort/ (git-ignored), and a copy into the user's cache
# directory (${XDG_CACHE_HOME:-~/.cache}/longtail/ort/), where an installed binary finds it
# from anywhere. Safe to run again: it does nothing when the library is already in place
# and intact.
#
# Elsewhere you may point longtail at any ONNX Runtime >= 1.24 instead, e.g. an official
# release tarball's lib/libonnxruntime.so:
#   export LONGTAIL_ORT_LIBRARY=/opt/onnxruntime/lib/libonnxruntime.so
# or set runtime.library in the config.
#
# --gpu also installs, into .ort/gpu/ (git-ignored), an ONNX Runtime with the CUDA execution
# provider: the core library of onnxruntime-node@1.29.0, which is built with the CUDA provider
# bridge, and beside it libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so
# (ORT 1.29.0, CUDA 13) from the npm package com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9
# (about 290 MB to download), each checked against a pinned sha256. CUDA 13 and cuDNN 9 come
# from your system; `longtail doctor --set runtime.provider=cuda` says which of them load. With
# runtime.provider cuda, longtail uses .ort/gpu/libonnxruntime.so.1 by itself unless
# runtime.library or LONGTAIL_ORT_LIBRARY names another library.
set -euo pipefail
cd "$(dirname "$0")/.."

gpu=false
for arg in "$@"; do
  case "$arg" in
    --gpu) gpu=true ;;
    *) echo "setup: unknown argument $arg; usage: scripts/setup.sh [--gpu]" >&2; exit 2 ;;
  esac
done

ORT_NPM_VERSION=1.24.3
LIB_SHA256=92ba8e44d31b80a34f5e805076a044122c3be1fffe0d88ed790de7267b0b2682
dest=.ort
lib=$dest/libonnxruntime.so.1

have() { [ -f "$lib" ] && echo "$LIB_SHA256  $lib" | sha256sum -c --status; }

if have; then
  echo "setup: ONNX Runtime $ORT_NPM_VERSION already in $lib"
else
  command -v npm >/dev/null || { echo "setup: npm is needed to fetch onnxruntime-node (apt-get install npm)" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "setup: fetching onnxruntime-node@$ORT_NPM_VERSION with npm pack"
  (cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_NPM_VERSION" >/dev/null)
  tar --no-same-owner -xzf "$tmp"/onnxruntime-node-"$ORT_NPM_VERSION".tgz -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  got=$(sha256sum "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" | cut -d' ' -f1)
  if [ "$got" != "$LIB_SHA256" ]; then
    echo "setup: checksum mismatch for libonnxruntime.so.1: got $got, want $LIB_SHA256" >&2
    exit 1
  fi
  mkdir -p "$dest"
  mv "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$lib.tmp"
  mv "$lib.tmp" "$lib"
  echo "setup: installed ONNX Runtime $ORT_NPM_VERSION to $lib"
fi

# A copy in the user's cache directory (Go's os.UserCacheDir on Linux), where longtail looks
# after the checkout, so that a binary built or `go install`ed elsewhere finds it from any
# directory. LONGTAIL_NO_CACHE_COPY=1 skips it.
if [ "${LONGTAIL_NO_CACHE_COPY:-}" != 1 ]; then
  cache_base=${XDG_CACHE_HOME:-}
  case "$cache_base" in /*) ;; *) cache_base=${HOME:?setup: HOME is not set}/.cache ;; esac
  cached=$cache_base/longtail/ort/libonnxruntime.so.1
  if [ -f "$cached" ] && echo "$LIB_SHA256  $cached" | sha256sum -c --status; then
    echo "setup: ONNX Runtime $ORT_NPM_VERSION already in $cached"
  else
    mkdir -p "$(dirname "$cached")"
    cp "$lib" "$cached.tmp.$$"
    mv "$cached.tmp.$$" "$cached"
    echo "setup: copied ONNX Runtime $ORT_NPM_VERSION to $cached (found from any directory)"
  fi
fi

# fetch PACKAGE@VERSION DEST [FILE SHA256]...: extracts each package/FILE into DEST after checking it.
fetch() {
  local pkg=$1 dest=$2
  shift 2
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
  while [ $# -gt 0 ]; do
    local file=$1 sum=$2
    shift 2
    # npm packs files as uid 501; as root, tar would keep that owner.
    tar --no-same-owner -xzf "$tmp"/*.tgz -C "$tmp" "package/$file"
    local got
    got=$(sha256sum "$tmp/package/$file" | cut -d' ' -f1)
    if [ "$got" != "$sum" ]; then
      echo "setup: checksum mismatch for $pkg $file: got $got, want $sum" >&2
      rm -rf "$tmp"
      exit 1
    fi
    mkdir -p "$dest"
    mv "$tmp/package/$file" "$dest/$(basename "$file").tmp"
    mv "$dest/$(basename "$file").tmp" "$dest/$(basename "$file")"
  done
  rm -rf "$tmp"
}

if $gpu; then
  g=$dest/gpu
  core=bin/napi-v6/linux/x64/libonnxruntime.so.1
  x64=Plugins/Linux/x64
  # The pins; scripts/gpu-check.sh carries the same three.
  core_sum=89688f5cf51c7e31befbb7b9101bc027799009b18d1baa9a5b1146a72e69538d
  shared_sum=c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772
  cuda_sum=56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037
  command -v npm >/dev/null || { echo "setup: npm is needed to fetch the GPU build (apt-get install npm)" >&2; exit 1; }
  ok() { [ -f "$g/$1" ] && echo "$2  $g/$1" | sha256sum -c --status; }
  # The asus4 core library of earlier set-ups has no CUDA provider bridge.
  rm -f "$g/libonnxruntime.so"
  if ok libonnxruntime.so.1 "$core_sum"; then
    echo "setup: ONNX Runtime 1.29.0 core (CUDA provider bridge) already in $g"
  else
    echo "setup: fetching onnxruntime-node@1.29.0 with npm pack"
    fetch onnxruntime-node@1.29.0 "$g" "$core" "$core_sum"
  fi
  if ok libonnxruntime_providers_shared.so "$shared_sum" && ok libonnxruntime_providers_cuda.so "$cuda_sum"; then
    echo "setup: CUDA execution provider already in $g"
  else
    echo "setup: fetching the CUDA execution provider (ORT 1.29.0, CUDA 13) with npm pack"
    fetch com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 "$g" \
      "$x64/libonnxruntime_providers_shared.so" "$shared_sum" "$x64/libonnxruntime_providers_cuda.so" "$cuda_sum"
  fi
  echo "setup: GPU build in $g; longtail uses $g/libonnxruntime.so.1 with runtime.provider: cuda"
fi
echo "setup: downloading the Go modules (go mod download; quiet, and quick once they are cached)"
go mod download
echo "setup: done"
