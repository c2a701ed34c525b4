#!/usr/bin/env bash
# Packs everything the one-shot GPU check (scripts/gpu-check.sh) needs on a machine that has an
# NVIDIA GPU and a Python with NVIDIA's CUDA 13 pip packages but no Go, no npm and no network:
#   bin/longtail, bin/graphs.test, bin/pipeline.test  built here (cgo, linked only against glibc;
#                                                    ONNX Runtime is dlopened from lib/)
#   lib/  the GPU build of ./scripts/setup.sh --gpu (ORT 1.29.0 core + CUDA provider)
#   anchor/torch_resnet32.py  the PyTorch model the benchmark compares with (from ../shared)
#   SHA256SUMS  of all the above
# as one xz-compressed tar cut into parts of PART_MIB (default 56) MiB in .gpu-pack/ (git-ignored),
# with PARTS.sha256, small enough for transfers that limit how much one copy carries. Copy
# .gpu-pack/ into a checkout on the GPU machine and run scripts/gpu-check.sh there; see the steps
# this script prints, and README.md "Checking a GPU machine that has no Go and no network".
# Usage: scripts/gpu-pack.sh
set -euo pipefail
cd "$(dirname "$0")/.."
part_mib=${PART_MIB:-56}
pack=.gpu-pack
anchor=${LONGTAIL_ANCHOR:-../shared/anchors/torch_resnet32.py}

./scripts/setup.sh --gpu >/dev/null
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/longtail-gpu
mkdir -p "$root/bin" "$root/lib" "$root/anchor"

echo "gpu-pack: building bin/longtail, bin/graphs.test, bin/pipeline.test"
export CGO_ENABLED=1
go build -trimpath -ldflags="-s -w" -o "$root/bin/longtail" ./cmd/longtail
go test -c -trimpath -ldflags="-s -w" -o "$root/bin/graphs.test" ./graphs
go test -c -trimpath -ldflags="-s -w" -o "$root/bin/pipeline.test" ./pipeline
for b in "$root"/bin/*; do
  # Nothing but glibc may be needed on the device.
  if ldd "$b" | grep -v -E 'linux-vdso|ld-linux|lib(c|dl|m|pthread|rt|resolv)\.so' | grep -q '=>'; then
    echo "gpu-pack: $(basename "$b") needs more than glibc:" >&2
    ldd "$b" >&2
    exit 1
  fi
done
glibc=$(objdump -T "$root"/bin/* | sed -n 's/.*GLIBC_\([0-9.]*\).*/\1/p' | sort -V | tail -1)
cp .ort/gpu/libonnxruntime.so.1 .ort/gpu/libonnxruntime_providers_shared.so .ort/gpu/libonnxruntime_providers_cuda.so "$root/lib/"
if [ -f "$anchor" ]; then
  cp "$anchor" "$root/anchor/torch_resnet32.py"
else
  echo "gpu-pack: no $anchor: the check will run without the PyTorch comparison" >&2
fi
(cd "$root" && find bin lib anchor -type f -print0 | sort -z | xargs -0 sha256sum >SHA256SUMS)

echo "gpu-pack: compressing (xz; the CUDA provider's kernels are already compressed, so expect ~70%)"
rm -rf "$pack"
mkdir -p "$pack"
tar -C "$stage" -cf - longtail-gpu | xz -T0 -6 | split -b "${part_mib}M" -d -a 2 - "$pack/longtail-gpu.tar.xz.part"
(cd "$pack" && sha256sum longtail-gpu.tar.xz.part* >PARTS.sha256)
(cd "$root" && du -b lib/* bin/* | sed 's/^/  /')
echo "gpu-pack: binaries need glibc >= $glibc"

parts=("$pack"/longtail-gpu.tar.xz.part*)
n=${#parts[@]}
echo "gpu-pack: $n parts in $pack ($(du -cb "${parts[@]}" | tail -1 | cut -f1) bytes). On the GPU machine, in a checkout of"
echo "  this repository: copy $pack/ (PARTS.sha256 and every part) into its $pack/, then run"
echo "    scripts/gpu-check.sh run     (3-5 minutes; allow 9; results in gpu-check-out/)"
echo "  Parts copied one at a time: copy $pack/PARTS.sha256 with each and run scripts/gpu-check.sh stash"
echo "  after each (it keeps them in /tmp/longtail-gpu-parts); run scripts/gpu-check.sh run with the last:"
for ((i = 0; i < n; i++)); do
  if ((i < n - 1)); then
    echo "    $((i + 1)). $pack/PARTS.sha256 + ${parts[i]}, then scripts/gpu-check.sh stash"
  else
    echo "    $((i + 1)). $pack/PARTS.sha256 + ${parts[i]}, then scripts/gpu-check.sh run"
  fi
done
