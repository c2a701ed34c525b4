#!/usr/bin/env bash
# Packs everything the one-shot GPU check (scripts/gpu-check.sh) needs on a machine that has an
# NVIDIA GPU and a Python with NVIDIA's CUDA 13 pip packages but no Go, no npm and no network:
#   bin/longtail, bin/graphs.test, bin/pipeline.test  built here (cgo, linked only against glibc;
#                                                    ONNX Runtime is dlopened from lib/)
#   lib/  the GPU build of ./scripts/setup.sh --gpu (ORT 1.29.0 core + CUDA provider)
#   anchor/torch_resnet32.py  the PyTorch model the benchmark compares with (from ../shared)
#   SHA256SUMS  of all the above
# as one xz-compressed tar cut into parts of PART_MIB (default 56) MiB in .gpu-pack/ (git-ignored),
# with PARTS.sha256. A device call sends the working tree (about 2 MB) plus at most 64 MiB of
# carried ignored files, so each call carries one part; see the sequence this script prints,
# and README.md "Checking on a GPU".
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
echo "gpu-pack: $n parts in $pack ($(du -cb "${parts[@]}" | tail -1 | cut -f1) bytes). Device calls, in this order:"
for ((i = 0; i < n; i++)); do
  if ((i < n - 1)); then
    echo "  $((i + 1)). carry [\"$pack/PARTS.sha256\", \"${parts[i]}\"]  command: scripts/gpu-check.sh stash   (timeout_s 120)"
  else
    echo "  $((i + 1)). carry [\"$pack/PARTS.sha256\", \"${parts[i]}\"]  command: scripts/gpu-check.sh run   (timeout_s 540)"
  fi
done
echo "  Back to back: the machine keeps /tmp only while warm (about 30 s idle)."
