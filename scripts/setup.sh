#!/usr/bin/env bash
# Installs what longtail needs that `go` does not fetch by itself: the ONNX Runtime shared
# library, taken from the npm package onnxruntime-node at a pinned version and checked
# against a pinned sha256, into .ort/ (git-ignored). Safe to run again: it does nothing
# when the library is already in place and intact.
#
# Elsewhere you may point longtail at any ONNX Runtime >= 1.24 instead, e.g. an official
# release tarball's lib/libonnxruntime.so:
#   export LONGTAIL_ORT_LIBRARY=/opt/onnxruntime/lib/libonnxruntime.so
# or set runtime.library in the config.
set -euo pipefail
cd "$(dirname "$0")/.."

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
  tar -xzf "$tmp"/onnxruntime-node-"$ORT_NPM_VERSION".tgz -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
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
go mod download
