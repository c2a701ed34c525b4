#!/usr/bin/env bash
# Times a ResNet-32 training step at batch 128 with longtail (ONNX Runtime, split
# and fused step) and, in the same command, with the PyTorch anchor when it is
# available; prints images/s, the ratio, and each process's peak resident memory.
# Usage: scripts/bench.sh [threads] (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
steps=${LONGTAIL_BENCH_STEPS:-8}
anchor=${LONGTAIL_ANCHOR:-../shared/anchors/torch_resnet32.py}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/pipeline.test" ./pipeline
peak() { /usr/bin/time -f '%M' -o "$tmp/rss" "$@" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; exit 1; }; echo $(( $(cat "$tmp/rss") / 1024 )); }
for mode in split fused; do
  mib=$(LONGTAIL_THREADS=$threads peak "$tmp/pipeline.test" -test.run '^$' -test.bench "BenchmarkTrainStep/$mode\$" -test.benchtime "${steps}x")
  ips=$(awk '/BenchmarkTrainStep/ { for (i = 1; i <= NF; i++) if ($(i+1) == "images/s") print $i }' "$tmp/out")
  echo "longtail $mode: $ips images/s, peak RSS $mib MiB ($threads threads)"
  eval "ips_$mode=$ips"
done
if [ -f "$anchor" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  mib=$(peak /usr/bin/python3 "$anchor" bench --threads "$threads" --batch 128 --steps "$steps")
  pt=$(sed -n 's/.*"images_per_s": \([0-9.]*\).*/\1/p' "$tmp/out")
  echo "pytorch $(sed -n 's/.*"torch": "\([^"]*\)".*/\1/p' "$tmp/out"): $pt images/s, peak RSS $mib MiB ($threads threads)"
  awk -v s="$ips_split" -v f="$ips_fused" -v p="$pt" 'BEGIN { printf "ratio to pytorch: split %.2f, fused %.2f\n", s / p, f / p }'
else
  echo "pytorch anchor not available (needs $anchor and Debian's python3-torch)"
fi
