#!/usr/bin/env bash
# The GPU check, run on a machine with an NVIDIA GPU, NVIDIA's CUDA 13 + cuDNN 9 pip packages
# in its Python, and neither Go nor a network. What it runs comes packed by scripts/gpu-pack.sh
# (on a machine with Go) as parts in .gpu-pack/, copied into this checkout; see README.md
# "Checking a GPU machine that has no Go and no network".
#
#   scripts/gpu-check.sh stash   copies the parts in .gpu-pack/ to $LONGTAIL_GPU_STASH
#                                (default /tmp/longtail-gpu-parts), checking each against
#                                PARTS.sha256, and says which parts are still missing: for
#                                parts copied over one at a time;
#   scripts/gpu-check.sh [run]   stashes, joins the parts, unpacks them to
#                                $LONGTAIL_GPU_STASH/unpacked, checks SHA256SUMS and the
#                                ONNX Runtime libraries against the pins in scripts/setup.sh,
#                                puts the Python environment's NVIDIA libraries on
#                                LD_LIBRARY_PATH, then runs in one go:
#     1. nvidia-smi, and longtail doctor with the cuda provider (which CUDA libraries load,
#        which graph nodes ORT placed on the CPU instead of the GPU, from its profile);
#     2. the GPU-vs-CPU gradient test (graphs TestGPUGradientsMatchCPU, full float32, < 1e-4);
#     3. the ResNet-32 training step at batch 128 (pipeline BenchmarkTrainStep, split and
#        fused, weighted CE) next to PyTorch eager on the same GPU (scripts/torch_gpu_bench.py),
#        with runtime.tf32 off and on, and the ratios;
#     4. a short training run (configs/quickstart.yaml's two variants with ResNet-32,
#        LONGTAIL_GPU_EPOCHS epochs, default 30) and its metrics.
# Everything goes to stdout and to gpu-check.log in $LONGTAIL_GPU_OUT (default ./gpu-check-out/;
# $OUT when set, the folder some batch systems collect a job's files from), with the run
# directories and the JSON results beside it. A step that fails is reported and the next runs;
# the exit status is the number of failed steps. The steps together stay within
# LONGTAIL_GPU_BUDGET_S (default 480) seconds, unpacking excluded (about 10 s).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
mode=${1:-run}
stash=${LONGTAIL_GPU_STASH:-/tmp/longtail-gpu-parts}
pack=.gpu-pack
out=${LONGTAIL_GPU_OUT:-${OUT:-$repo/gpu-check-out}}
mkdir -p "$stash" "$out"

die() { echo "gpu-check: $*" >&2; exit 1; }

# stash copies and checks the parts copied into .gpu-pack/; the list of parts comes from PARTS.sha256.
do_stash() {
  if [ -f "$pack/PARTS.sha256" ]; then
    if [ -f "$stash/PARTS.sha256" ] && ! cmp -s "$pack/PARTS.sha256" "$stash/PARTS.sha256"; then
      echo "gpu-check: $pack/PARTS.sha256 differs from the stashed one (a new pack): dropping the old parts"
      rm -rf "$stash"
      mkdir -p "$stash"
    fi
    cp "$pack/PARTS.sha256" "$stash/PARTS.sha256"
  fi
  [ -f "$stash/PARTS.sha256" ] || die "no $pack/PARTS.sha256 here or in $stash: copy it from the machine that ran scripts/gpu-pack.sh"
  local p
  for p in "$pack"/longtail-gpu.tar.xz.part*; do
    [ -f "$p" ] || continue
    cp "$p" "$stash/$(basename "$p").tmp" && mv "$stash/$(basename "$p").tmp" "$stash/$(basename "$p")"
  done
  local missing=() name sum
  while read -r sum name; do
    if [ ! -f "$stash/$name" ]; then
      missing+=("$name")
    elif ! echo "$sum  $stash/$name" | sha256sum -c --status; then
      echo "gpu-check: $stash/$name does not match PARTS.sha256 (want $sum): removed; copy it again" >&2
      rm -f "$stash/$name"
      missing+=("$name")
    fi
  done <"$stash/PARTS.sha256"
  echo "gpu-check: stashed in $stash: $(cd "$stash" && ls longtail-gpu.tar.xz.part* 2>/dev/null | tr '\n' ' ')"
  if [ ${#missing[@]} -gt 0 ]; then
    echo "gpu-check: still missing: ${missing[*]}"
    return 1
  fi
  echo "gpu-check: all parts present"
}

case "$mode" in
  stash)
    do_stash
    exit 0
    ;;
  run) ;;
  *) die "unknown mode $mode; usage: scripts/gpu-check.sh [stash|run]" ;;
esac

do_stash || die "parts missing: copy them into $pack/ (scripts/gpu-check.sh stash keeps each), then run again"
exec > >(tee "$out/gpu-check.log") 2>&1

# Unpack once per pack: the stamp is the parts' checksum list.
u=$stash/unpacked
if ! cmp -s "$stash/PARTS.sha256" "$u/.parts" 2>/dev/null; then
  rm -rf "$u"
  mkdir -p "$u"
  if command -v xz >/dev/null; then
    cat "$stash"/longtail-gpu.tar.xz.part* | xz -dc -T0 | tar -C "$u" -xf - || die "unpacking the parts failed"
  else
    cat "$stash"/longtail-gpu.tar.xz.part* | python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.stdin.buffer), sys.stdout.buffer)' |
      tar -C "$u" -xf - || die "unpacking the parts failed"
  fi
  cp "$stash/PARTS.sha256" "$u/.parts"
fi
g=$u/longtail-gpu
(cd "$g" && sha256sum -c --quiet SHA256SUMS) || die "$g: files do not match SHA256SUMS"
# The libraries must be the ones scripts/setup.sh --gpu pins.
eval "$(grep -E '^ *(core|shared|cuda)_sum=[0-9a-f]{64}$' scripts/setup.sh)"
for pin in "$core_sum libonnxruntime.so.1" "$shared_sum libonnxruntime_providers_shared.so" "$cuda_sum libonnxruntime_providers_cuda.so"; do
  set -- $pin
  echo "$1  $g/lib/$2" | sha256sum -c --status || die "$g/lib/$2 does not match the pin in scripts/setup.sh ($1)"
done
echo "gpu-check: unpacked and checked $g"

# NVIDIA's pip packages keep their libraries in site-packages/nvidia/<name>/lib (CUDA 13
# wheels: nvidia/cu13/lib); every folder there holding a shared library goes on the path.
py=${LONGTAIL_PYTHON:-python3}
nvlibs=$("$py" - <<'PY'
import glob, os, site, sys
roots = []
try:
    import nvidia
    roots += list(nvidia.__path__)
except Exception:
    pass
for sp in site.getsitepackages() + [site.getusersitepackages()]:
    roots.append(os.path.join(sp, "nvidia"))
dirs = []
for r in roots:
    for f in glob.glob(os.path.join(r, "**", "lib*.so*"), recursive=True):
        d = os.path.realpath(os.path.dirname(f))
        if d not in dirs:
            dirs.append(d)
print(":".join(sorted(dirs)))
PY
)
[ -n "$nvlibs" ] || echo "gpu-check: no NVIDIA pip libraries found by $py; relying on the system's"
export LD_LIBRARY_PATH=$nvlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LONGTAIL_ORT_LIBRARY=$g/lib/libonnxruntime.so.1
export LONGTAIL_REQUIRE_ORT=1
echo "gpu-check: LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
bin=$g/bin
# LONGTAIL_GPU_CHECK_PROVIDER=cpu rehearses the script on a machine without a GPU (with
# LONGTAIL_GPU_BENCH_STEPS=2 LONGTAIL_GPU_EPOCHS=1): doctor, the benchmark and the training
# run then use the CPU provider; the gradient test and PyTorch still ask for CUDA and fail.
provider=${LONGTAIL_GPU_CHECK_PROVIDER:-cuda}

failed=0
# The whole check stays within LONGTAIL_GPU_BUDGET_S (default 480 s), so that a job with a time
# limit finishes; a step that would start past the budget is skipped and counted as failed.
deadline=$(($(date +%s) + ${LONGTAIL_GPU_BUDGET_S:-480}))
step() { # step NAME TIMEOUT_S LOG|- COMMAND...: runs COMMAND (its output also to LOG), counts failures
  local name=$1 limit=$2 log=$3 t0 rc left
  shift 3
  echo
  echo "=== $name"
  t0=$(date +%s)
  left=$((deadline - t0))
  if [ $left -lt 10 ]; then
    echo "=== $name: skipped, out of time (LONGTAIL_GPU_BUDGET_S)"
    failed=$((failed + 1))
    return 0
  fi
  [ $limit -le $left ] || limit=$left
  if [ "$log" = - ]; then
    timeout "$limit" "$@"
    rc=$?
  else
    timeout "$limit" "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
  fi
  echo "=== $name: exit $rc after $(($(date +%s) - t0)) s"
  [ $rc -eq 0 ] || failed=$((failed + 1))
  return 0
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "gpu-check: nvidia-smi failed"

mkdir -p "$out/profile"
step "doctor ($provider)" 120 - "$bin/longtail" doctor --set runtime.provider=$provider --set runtime.profile="$out/profile/doctor"
# Which nodes ran where: ORT's profile records each node's provider.
"$py" - "$out/profile" <<'PY' || true
import collections, glob, json, sys
count, cpu = collections.Counter(), collections.Counter()
for f in glob.glob(sys.argv[1] + "/*.json"):
    for ev in json.load(open(f)):
        a = ev.get("args") or {}
        if ev.get("cat") == "Node" and "provider" in a and ev.get("name", "").endswith("_kernel_time"):
            count[a["provider"]] += 1
            if a["provider"] == "CPUExecutionProvider":
                cpu[a.get("op_name", "?")] += 1
print("node runs by provider (doctor's ResNet-8 step):", dict(count))
print("ops on the CPU provider:", dict(cpu) or "none")
PY

step "GPU vs CPU gradients (ResNet-32)" 300 - bash -c "cd graphs && LONGTAIL_GPU=1 '$bin/graphs.test' -test.run '^TestGPUGradientsMatchCPU\$' -test.v -test.count=1"

anchor=$g/anchor/torch_resnet32.py
steps=${LONGTAIL_GPU_BENCH_STEPS:-50}
summary=()
for tf32 in 0 1; do
  step "longtail training step, $provider, tf32=$tf32" 300 "$out/bench-longtail-tf32-$tf32.txt" \
    bash -c "cd pipeline && LONGTAIL_PROVIDER=$provider LONGTAIL_TF32=$tf32 '$bin/pipeline.test' -test.run '^\$' -test.bench 'BenchmarkTrainStep' -test.benchtime ${steps}x"
  split=$(awk '/BenchmarkTrainStep\/split/ { for (i = 1; i <= NF; i++) if ($(i+1) == "images/s") print $i }' "$out/bench-longtail-tf32-$tf32.txt")
  fused=$(awk '/BenchmarkTrainStep\/fused/ { for (i = 1; i <= NF; i++) if ($(i+1) == "images/s") print $i }' "$out/bench-longtail-tf32-$tf32.txt")
  pt=""
  if [ -f "$anchor" ]; then
    step "pytorch eager training step, cuda, tf32=$tf32" 300 "$out/bench-pytorch-tf32-$tf32.json" \
      "$py" scripts/torch_gpu_bench.py --anchor "$anchor" --tf32 "$tf32" --steps "$steps"
    pt=$(sed -n 's/.*"images_per_s": \([0-9.]*\).*/\1/p' "$out/bench-pytorch-tf32-$tf32.json")
  fi
  summary+=("$(awk -v t="$tf32" -v s="$split" -v f="$fused" -v p="$pt" 'BEGIN {
    printf "tf32=%s: longtail split %s, fused %s images/s; pytorch eager %s images/s", t, (s == "" ? "n/a" : s), (f == "" ? "n/a" : f), (p == "" ? "n/a" : p)
    if (p != "" && s != "" && f != "") printf "; ratio split %.2f, fused %.2f", s / p, f / p }')")
done

epochs=${LONGTAIL_GPU_EPOCHS:-30}
step "short training run (ResNet-32, $epochs epochs, synthetic IF 100)" 420 - "$bin/longtail" train -c configs/quickstart.yaml \
  --set runtime.provider=$provider --set model.depth=32 --set model.width=16 --epochs "$epochs" --set output.dir="$out/runs"
find "$out/runs" -name metrics.jsonl 2>/dev/null | sort | while read -r m; do
  echo "--- $m: the last epoch"
  tail -n 1 "$m"
done

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "failed steps: $failed"
exit "$failed"
