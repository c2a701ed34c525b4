#!/usr/bin/env bash
# Regenerates onnx.pb.go from the onnx.proto that Debian's libonnx-dev installs
# (apt-get install libonnx-dev protobuf-compiler; go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12).
# The proto package is renamed to longtail.onnx so that these types can live in one binary
# with onnx-go's own copy, which registers the names onnx.* in the global protobuf registry.
set -euo pipefail
cd "$(dirname "$0")"
src=${ONNX_PROTO:-/usr/include/onnx/onnx.proto}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/longtail"
sed -e 's/^package onnx;/package longtail.onnx;\noption go_package = "github.com\/longtail-ml\/longtail\/graphs\/onnxpb";/' \
  "$src" >"$tmp/longtail/onnx.proto"
protoc -I "$tmp" --go_out="$tmp" --go_opt=paths=source_relative longtail/onnx.proto
cp "$tmp/longtail/onnx.pb.go" onnx.pb.go
