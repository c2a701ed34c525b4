#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and CUDA 13 + cuDNN 9 libraries: installs the
# ORT GPU build (unless LONGTAIL_ORT_LIBRARY names another GPU build), lists the
# CUDA libraries, runs the GPU tests, and prints a ResNet-32 training step's
# images/s on the GPU next to PyTorch's on the same GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --gpu
export LONGTAIL_ORT_LIBRARY=${LONGTAIL_ORT_LIBRARY:-$PWD/.ort/gpu/libonnxruntime.so}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
go run ./cmd/longtail doctor --set runtime.provider=cuda
LONGTAIL_GPU=1 go test -count=1 -run 'GPU' -v ./graphs
LONGTAIL_PROVIDER=cuda go test -run '^$' -bench 'BenchmarkTrainStep' -benchtime 20x ./pipeline
anchor=${LONGTAIL_ANCHOR:-../shared/anchors/torch_resnet32.py}
if [ -f "$anchor" ] && python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  python3 - "$anchor" <<'PY'
import importlib.util, json, sys, time, torch, torch.nn.functional as F
spec = importlib.util.spec_from_file_location("anchor", sys.argv[1]); a = importlib.util.module_from_spec(spec); spec.loader.exec_module(a)
m = a.ResNetCifar(32, 10).cuda(); opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
x = torch.randn(128, 3, 32, 32, device="cuda"); y = torch.randint(0, 10, (128,), device="cuda")
def step():
    opt.zero_grad(set_to_none=True); F.cross_entropy(m(x), y).backward(); opt.step()
for _ in range(5): step()
torch.cuda.synchronize(); t = time.perf_counter()
for _ in range(20): step()
torch.cuda.synchronize(); dt = (time.perf_counter() - t) / 20
print(json.dumps({"anchor": "pytorch-cuda", "images_per_s": round(128 / dt, 1)}))
PY
else
  echo "PyTorch with CUDA not available: no GPU comparison"
fi
