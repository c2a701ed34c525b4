#!/usr/bin/env bash
# Times a ResNet-32 training step at batch 128 with longtail (ONNX Runtime) and,
# in the same command, with the PyTorch anchor when it is available, and prints
# the ratio. Usage: scripts/bench.sh [threads] (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
anchor=${LONGTAIL_ANCHOR:-../shared/anchors/torch_resnet32.py}
go_ips=$(LONGTAIL_THREADS=$threads go test -run '^$' -bench 'BenchmarkTrainStep$' -benchtime 8x -benchmem ./pipeline |
  tee /dev/stderr | awk '/BenchmarkTrainStep/ { for (i = 1; i <= NF; i++) if ($(i+1) == "images/s") print $i }')
echo "longtail: $go_ips images/s ($threads threads)"
if [ -f "$anchor" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  out=$(/usr/bin/python3 "$anchor" bench --threads "$threads" --batch 128 --steps 8)
  echo "pytorch:  $out"
  pt_ips=$(echo "$out" | sed -n 's/.*"images_per_s": \([0-9.]*\).*/\1/p')
  awk -v a="$go_ips" -v b="$pt_ips" 'BEGIN { printf "ratio longtail/pytorch: %.2f\n", a / b }'
else
  echo "pytorch anchor not available (needs $anchor and Debian's python3-torch)"
fi
