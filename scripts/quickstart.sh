#!/usr/bin/env bash
# The main job on the built-in synthetic data: installs what is missing, builds bin/longtail,
# then trains configs/quickstart.yaml (Softmax + random sampling vs. the paper's clamped
# weights + balanced sampling) and prints their per-class accuracy. Each step says what it
# does; the first build takes a few minutes (cgo and the plotting libraries), later ones
# seconds. Extra arguments go to `longtail train`, e.g. --epochs 2.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "quickstart: 1/3 set-up (./scripts/setup.sh): ONNX Runtime into .ort/, the Go modules"
./scripts/setup.sh

echo "quickstart: 2/3 building bin/longtail (go build ./cmd/longtail; the first time takes a few minutes)"
start=$SECONDS
go build -o bin/longtail ./cmd/longtail &
build=$!
trap 'kill "$build" 2>/dev/null || true' INT TERM
# A line every 30 s, so that a cold build does not look like a hang.
while kill -0 "$build" 2>/dev/null; do
  for _ in $(seq 30); do
    sleep 1
    kill -0 "$build" 2>/dev/null || break
  done
  if kill -0 "$build" 2>/dev/null; then
    echo "quickstart:   still building ($((SECONDS - start)) s)"
  fi
done
wait "$build"
trap - INT TERM
echo "quickstart: built bin/longtail in $((SECONDS - start)) s"

echo "quickstart: 3/3 training configs/quickstart.yaml: bin/longtail train -c configs/quickstart.yaml $*"
exec bin/longtail train -c configs/quickstart.yaml "$@"
