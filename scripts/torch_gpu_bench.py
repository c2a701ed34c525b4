#!/usr/bin/env python3
"""PyTorch eager reference for longtail's training step on a GPU.

Times full SGD training steps of the anchor's ResNet-32 (../shared/anchors/torch_resnet32.py,
which scripts/gpu-pack.sh packs beside the binaries) on CUDA: forward, class-weighted
cross-entropy, backward, SGD with momentum 0.9 and weight decay 5e-4, batch 128 -- the step that
pipeline's BenchmarkTrainStep times. Each step ends with torch.cuda.synchronize(), as an ONNX
Runtime run returns only once its outputs are in host memory; the median step gives images/s.

--tf32 1 allows TensorFloat-32 in cuDNN convolutions and matrix products (PyTorch's default for
convolutions), --tf32 0 keeps full float32; compare with longtail's runtime.tf32 of the same value.
Prints one JSON line.
"""
import argparse
import importlib.util
import json
import time

import torch
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--anchor", required=True, help="path of torch_resnet32.py")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--depth", type=int, default=32)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--tf32", type=int, choices=[0, 1], default=0)
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu for a smoke test")
    a = ap.parse_args()

    spec = importlib.util.spec_from_file_location("anchor", a.anchor)
    anchor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(anchor)

    torch.backends.cudnn.allow_tf32 = bool(a.tf32)
    torch.backends.cuda.matmul.allow_tf32 = bool(a.tf32)
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    model = anchor.ResNetCifar(a.depth, 10).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(a.batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 10, (a.batch,), device=dev)
    # The clamped weights of CIFAR-10-LT at imbalance 100 would do as well; any fixed weights
    # cost the same.
    w = (torch.rand(10) + 0.5).to(dev)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y, weight=w).backward()
        opt.step()
        if cuda:
            torch.cuda.synchronize(dev)

    for _ in range(a.warmup):
        step()
    if cuda:
        torch.cuda.reset_peak_memory_stats(dev)
    times = []
    for _ in range(a.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    med = sorted(times)[len(times) // 2]
    print(json.dumps({
        "anchor": "pytorch-eager-" + dev.type, "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(dev) if cuda else None,
        "tf32": a.tf32, "batch": a.batch, "depth": a.depth, "steps": a.steps,
        "step_median_s": round(med, 5), "images_per_s": round(a.batch / med, 1),
        "peak_gpu_mib": round(torch.cuda.max_memory_allocated(dev) / 2**20, 1) if cuda else None,
    }))


if __name__ == "__main__":
    main()
