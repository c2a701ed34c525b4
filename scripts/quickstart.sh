#!/usr/bin/env bash
# The main job on the built-in synthetic data: installs what is missing, then
# trains configs/quickstart.yaml (Softmax + random sampling vs. the paper's
# clamped weights + balanced sampling) and prints their per-class accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
exec go run ./cmd/longtail train -c configs/quickstart.yaml "$@"
