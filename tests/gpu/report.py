#!/usr/bin/env python3
"""Writes the markdown table of a GPU check (tests/gpu/run.sh) to stdout, ready
to paste into docs/benchmarks.md: our benchmark (bench.jsonl) beside the
torch.func peer (peer.jsonl) per case, with the ratio, from the files in OUT.

    python3 tests/gpu/report.py OUT > OUT/benchmarks-gpu.md
"""
import json
import os
import re
import sys


def lines(path):
    rows = []
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    pass
    return rows


def pick(row, *patterns):
    """The first key matching one of the patterns (the bench's JSON names may change)."""
    for pat in patterns:
        for k, v in row.items():
            if re.fullmatch(pat, k):
                return k, v
    return None, None


def mem(row):
    """Device memory in use (total - free: context + caching allocator), else
    the peak allocated, else the host's peak RSS, in GB."""
    k, v = pick(row, r"device_used_mb", r"peak_(device|gpu|cuda)\w*_mb", r"peak_rss_mb")
    if k is None or v is None or v != v or v < 0:
        return "-"
    s = f"{v / 1024:.2f} GB" + (" (host RSS)" if k == "peak_rss_mb" else "")
    if k == "device_used_mb" and "peak_device_mb" in row:
        s += f" ({row['peak_device_mb'] / 1024:.2f} allocated)"
    return s


def main():
    out = sys.argv[1]
    ours = {(r.get("model"), r.get("N")): r for r in lines(os.path.join(out, "bench.jsonl"))}
    peer = {(r.get("model"), r.get("N")): r for r in lines(os.path.join(out, "peer.jsonl"))}
    info = {}
    if os.path.exists(os.path.join(out, "versions.txt")):
        for line in open(os.path.join(out, "versions.txt")):
            k, _, v = line.partition(":")
            info.setdefault(k.strip(), v.strip())
    gpu = info.get("cuda device", info.get("nvidia-smi", "?")).split("  count")[0]
    print(f"## GPU: ours against torch.func ({gpu})\n")
    print(f"Measured with `tests/gpu/run.sh` ({info.get('date', '?').split()[0]}; torch {info.get('torch', '?').split()[0]}; "
          "float32, TF32 off in both). Ours: `stiffness_bench --device cuda --method auto --repeat 2` on one "
          "rank. Peer: `tests/gpu/peer_torchfunc.py`, `torch.func.vmap(grad)` per-example gradients, "
          "then `G @ G.T` in float32 (G chunked over examples when it does not fit). Both: best of 2 "
          "after a warm-up on up to 256 examples; seconds cover the per-example gradients and the "
          "whole Gram matrix. Error: largest difference from a plain autograd loop on 64 examples, "
          "relative to the largest entry. Memory: in use on the device at the end of the case (total - free, i.e. the CUDA context and what the caching allocator holds; for the peer, its peak allocated in parentheses).\n")
    print("| model | N | ours | ours Gram TFLOP/s | ours device mem. | ours err. | torch.func | peer device mem. | peer err. | torch.func / ours |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key in [("mlp", 20000), ("cnn", 5000), ("resnet20", 5000)]:
        o, p = ours.get(key, {}), peer.get(key, {})
        os_ = o.get("seconds")
        ps = p.get("seconds")
        k, tf = pick(o, r"\w*tflops\w*", r"gflops")
        tflops = "-" if k is None else f"{tf / 1000 if k == 'gflops' else tf:.1f}"
        ratio = f"**{ps / os_:.2f}x**" if os_ and ps else "-"
        print(f"| {key[0]} | {key[1]} | {f'{os_:.3f} s' if os_ else o.get('skipped', o.get('error', '-'))} | {tflops} "
              f"| {mem(o) if o else '-'} | {o.get('rel_err_vs_loop', '-')} "
              f"| {f'{ps:.3f} s' if ps else p.get('error', '-')} | {mem(p) if p else '-'} | {p.get('rel_err_vs_loop', '-')} | {ratio} |")
    extra = sorted({k for r in ours.values() for k in r} - {"model", "arch", "N", "seconds", "rel_err_vs_loop", "plan"})
    if extra:
        print("\nOther fields of our JSON lines (bench.jsonl): " + ", ".join(f"`{k}`" for k in extra) + ".")


if __name__ == "__main__":
    main()
