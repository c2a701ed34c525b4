#!/usr/bin/env bash
# Times a ResNet-32 training step (batch 128, CIFAR shapes) with longtail and with the
# PyTorch anchor in interleaved rounds, each run its own process: per round longtail's
# fused step, PyTorch fp32, longtail's split step, PyTorch's fastest CPU mode (bf16
# autocast with channels-last tensors, "pytorch-bf16"), and longtail's fused step on the
# standard-op path (runtime.custom_ops off). Every longtail row gets its ratio to both. The machine's load drifts and PyTorch's
# speed is bimodal on shared cores, so compare only within rounds: the script prints
# each round, the median ratio to PyTorch with its min and max, the best round against
# the best round, and each one's peak resident memory.
#
# Usage: scripts/bench.sh [rounds] [threads]   (defaults: 5 rounds, all cores)
# LONGTAIL_BENCH_STEPS sets the timed steps per run (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
threads=${2:-$(nproc)}
steps=${LONGTAIL_BENCH_STEPS:-20}
anchor=${LONGTAIL_ANCHOR:-../shared/anchors/torch_resnet32.py}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
./scripts/setup.sh >/dev/null
go test -c -o "$tmp/pipeline.test" ./pipeline
torch=false
if [ -f "$anchor" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  torch=true
else
  echo "bench: no PyTorch anchor (needs $anchor and Debian's python3-torch); timing longtail only" >&2
fi

# run NAME CMD...: runs CMD under /usr/bin/time, appends "NAME IPS MIB" to $tmp/runs.
run() {
  local name=$1
  shift
  /usr/bin/time -f '%M' -o "$tmp/rss" "$@" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; exit 1; }
  local ips
  if [ "${name#pytorch}" != "$name" ]; then
    ips=$(sed -n 's/.*"images_per_s": \([0-9.]*\).*/\1/p' "$tmp/out")
  else
    ips=$(awk '/BenchmarkTrainStep/ { for (i = 1; i <= NF; i++) if ($(i+1) == "images/s") print $i }' "$tmp/out")
  fi
  [ -n "$ips" ] || { echo "bench: no images/s from $name:" >&2; cat "$tmp/out" >&2; exit 1; }
  echo "$r $name $ips $(( $(cat "$tmp/rss") / 1024 ))" >>"$tmp/runs"
  printf '  %-15s %7.1f images/s  %5d MiB\n' "$name" "$ips" $(( $(cat "$tmp/rss") / 1024 ))
}
# longtail MODE CUSTOM_OPS: the command line of one longtail run.
longtail() {
  echo env LONGTAIL_THREADS="$threads" LONGTAIL_CUSTOM_OPS="$2" "$tmp/pipeline.test" -test.run '^$' \
    -test.bench "BenchmarkTrainStep/$1\$" -test.benchtime "${steps}x"
}

echo "ResNet-32, batch 128, $threads threads, $steps steps per run, $rounds interleaved rounds"
: >"$tmp/runs"
for r in $(seq 1 "$rounds"); do
  echo "round $r"
  run fused $(longtail fused auto)
  $torch && run pytorch /usr/bin/python3 "$anchor" bench --threads "$threads" --batch 128 --steps "$steps"
  run split $(longtail split auto)
  $torch && run pytorch-bf16 /usr/bin/python3 "$anchor" bench --threads "$threads" --batch 128 --steps "$steps" --bf16 --channels-last
  run fused-standard $(longtail fused off)
done
$torch && /usr/bin/python3 -c 'import torch; print("pytorch", torch.__version__)'
awk -v torch="$torch" '
  { ips[$2, $1] = $3; if ($3 > best[$2]) best[$2] = $3; if ($4 > rss[$2]) rss[$2] = $4; rounds = $1 }
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    split("fused split fused-standard", names, " ")
    for (k = 1; k <= 3; k++) {
      m = names[k]
      for (r = 1; r <= rounds; r++) v[r] = ips[m, r]
      line = sprintf("%-15s median %6.1f images/s, best %6.1f", m, median(v, rounds), best[m])
      if (torch == "true") {
        split("pytorch pytorch-bf16", base, " ")
        for (b = 1; b <= 2; b++) {
          lo = 1e9; hi = 0
          for (r = 1; r <= rounds; r++) { q[r] = ips[m, r] / ips[base[b], r]; if (q[r] < lo) lo = q[r]; if (q[r] > hi) hi = q[r] }
          line = line sprintf("; to %s: median %.2f (min %.2f, max %.2f), best vs best %.2f", base[b], median(q, rounds), lo, hi, best[m] / best[base[b]])
        }
      }
      print line "; peak RSS " rss[m] " MiB"
    }
    if (torch == "true") {
      split("pytorch pytorch-bf16", base, " ")
      for (b = 1; b <= 2; b++) {
        for (r = 1; r <= rounds; r++) v[r] = ips[base[b], r]
        printf "%-15s median %6.1f images/s, best %6.1f; peak RSS %d MiB\n", base[b], median(v, rounds), best[base[b]], rss[base[b]]
      }
    }
  }' "$tmp/runs"
