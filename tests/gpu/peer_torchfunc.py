#!/usr/bin/env python3
"""The peer for the GPU benchmark: the per-example gradient Gram K = G G^T
the way a PyTorch user would write it, with torch.func (vmap of grad).

Same architectures as src/nn/model.cpp (MLP 784-500-300-100-10 ReLU; CNN of
three 3x3 convolutions with 16/32/32 channels, each followed by 2x2 max-pooling
and ReLU, then one dense layer; ResNet20 v1 without normalisation, option-A
shortcuts), the same input shapes as bench/stiffness_bench (1x28x28, ResNet20
3x32x32), random inputs and labels, 10 classes, float32 without TF32.

One JSON line per case: seconds (gradients + Gram, best of --repeat after an
untimed warm-up on up to 256 examples), peak device memory
(torch.cuda.max_memory_allocated) and the memory in use on the device at the
end (total - free, as stiffness_bench's device_used_mb), how G was held (whole, or in row blocks
recomputed per block when N x D floats do not fit), and the largest
difference, relative to the largest entry, between a 64 x 64 block of K and a
plain autograd loop (a check that the peer computes the right thing).

    python3 tests/gpu/peer_torchfunc.py --case mlp:20000 --case cnn:5000 --case resnet20:5000
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 500), nn.ReLU(), nn.Linear(500, 300), nn.ReLU(),
                         nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))


def cnn():
    layers, c, side = [], 1, 28
    for out in (16, 32, 32):
        layers += [nn.Conv2d(c, out, 3, padding=1), nn.MaxPool2d(2), nn.ReLU()]
        c, side = out, side // 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * side * side, 10))


class Block(nn.Module):
    """ResNet v1 basic block without normalisation (biases on, as --norm none)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.extra = cout - cin
        self.stride = stride

    def forward(self, x):
        y = self.conv2(F.relu(self.conv1(x)))
        s = x
        if self.stride != 1:  # option A: subsample, zero-pad the channels
            s = s[:, :, ::2, ::2]
        if self.extra:
            s = F.pad(s, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return F.relu(y + s)


class ResNet20(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1)
        blocks, c = [], 16
        for s in range(3):
            out = 16 << s
            for b in range(3):
                blocks.append(Block(c, out, 2 if s > 0 and b == 0 else 1))
                c = out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c, 10)

    def forward(self, x):
        x = self.blocks(F.relu(self.conv1(x)))
        return self.fc(x.mean((2, 3)))


MODELS = {"mlp": (mlp, (1, 28, 28)), "cnn": (cnn, (1, 28, 28)), "resnet20": (ResNet20, (3, 32, 32))}


class PerExample:
    """G rows (flattened per-example gradients) for chunks of examples."""

    def __init__(self, model):
        self.model = model
        self.params = {k: v.detach() for k, v in model.named_parameters()}
        self.D = sum(p.numel() for p in self.params.values())

        def loss(params, x, y):
            out = functional_call(model, params, (x.unsqueeze(0),))
            return F.cross_entropy(out, y.unsqueeze(0))

        self.per_ex = vmap(grad(loss), in_dims=(None, 0, 0))

    def rows(self, x, y, chunk, out=None):
        n = x.shape[0]
        if out is None:
            out = torch.empty(n, self.D, device=x.device, dtype=x.dtype)
        for i in range(0, n, chunk):
            g = self.per_ex(self.params, x[i:i + chunk], y[i:i + chunk])
            out[i:i + chunk] = torch.cat([t.reshape(t.shape[0], -1) for t in g.values()], 1)
        return out


def gram(pe, x, y, chunk, block):
    """K = G G^T. With block >= N, G is held whole; otherwise K is filled
    tile by tile, recomputing the rows of both blocks (upper tiles only)."""
    n = x.shape[0]
    if block >= n:
        G = pe.rows(x, y, chunk)
        return G @ G.T
    K = torch.empty(n, n, device=x.device, dtype=x.dtype)
    for i in range(0, n, block):
        Gi = pe.rows(x[i:i + block], y[i:i + block], chunk)
        K[i:i + block, i:i + block] = Gi @ Gi.T
        for j in range(i + block, n, block):
            Gj = pe.rows(x[j:j + block], y[j:j + block], chunk)
            t = Gi @ Gj.T
            K[i:i + block, j:j + block] = t
            K[j:j + block, i:i + block] = t.T
            del Gj
        del Gi
    return K


def loop_gram(model, x, y):
    rows = []
    for i in range(x.shape[0]):
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    G = torch.stack(rows).double()
    return G @ G.T


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_case(name, n, device, repeat, mem_fraction):
    torch.manual_seed(0)
    make, shape = MODELS[name]
    model = make().to(device)
    x = torch.randn(n, *shape, device=device)
    y = torch.randint(10, (n,), device=device)
    pe = PerExample(model)
    # Per-example gradient chunk: about 2 GB of rows at a time (vmap holds a
    # few times that in intermediates).
    chunk = int(max(8, min(n, 2e9 / (4 * pe.D))))
    # Hold G whole when N x D floats use at most mem_fraction of free memory.
    if device.type == "cuda":
        free = torch.cuda.mem_get_info(device)[0]
    else:
        free = 8e9
    whole = 4.0 * n * pe.D <= mem_fraction * free
    block = n if whole else max(chunk, int(mem_fraction * free / 2 / (4 * pe.D)))
    w = min(n, 256)
    gram(pe, x[:w], y[:w], chunk, n)  # warm-up: cuDNN/cuBLAS plans, allocator
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    best = float("inf")
    K = None
    for _ in range(repeat):
        K = None
        sync(device)
        t0 = time.perf_counter()
        K = gram(pe, x, y, chunk, block)
        sync(device)
        best = min(best, time.perf_counter() - t0)
    peak = used = float("nan")
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        # As stiffness_bench's device_used_mb: total - free on the device (the
        # CUDA context plus what the caching allocator holds).
        free, total = torch.cuda.mem_get_info(device)
        used = (total - free) / 2**20
    m = min(n, 64)
    ref = loop_gram(model, x[:m], y[:m])
    got = K[:m, :m].double()
    rel = ((got - ref).abs().max() / ref.abs().max()).item()
    return {"peer": "torch.func vmap(grad) + G G^T", "model": name, "N": n, "D": pe.D, "device": str(device),
            "torch": torch.__version__, "dtype": "float32", "tf32": False, "repeat": repeat,
            "seconds": round(best, 4), "peak_device_mb": round(peak, 1), "device_used_mb": round(used, 1),
            "G": "whole" if whole else f"row blocks of {block}", "chunk": chunk,
            "rel_err_vs_loop": float(f"{rel:.3g}")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", action="append", required=True, help="model:N, model in " + ", ".join(MODELS))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--mem-fraction", type=float, default=0.6, help="of free device memory for G")
    a = ap.parse_args()
    cases = []
    for c in a.case:
        name, _, n = c.partition(":")
        if name not in MODELS or not n.isdigit() or int(n) < 1:
            sys.exit(f"peer_torchfunc.py: --case: expected model:N with model in {', '.join(MODELS)}, got '{c}'")
        cases.append((name, int(n)))
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("peer_torchfunc.py: --device cuda but torch.cuda.is_available() is false")
    # float32 as the project measures it: no TF32 in matmuls or convolutions.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    failed = 0
    for name, n in cases:
        try:
            r = run_case(name, n, device, a.repeat, a.mem_fraction)
        except Exception as e:  # one line per case, also on failure
            failed += 1
            r = {"peer": "torch.func", "model": name, "N": n, "error": f"{type(e).__name__}: {str(e)[:300]}"}
        print(json.dumps(r), flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
