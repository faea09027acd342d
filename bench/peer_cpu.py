#!/usr/bin/env python3
"""The torch.func peer (tests/gpu/peer_torchfunc.py: vmap(grad) + G G^T) on
the CPU with Debian 12's python3-torch 1.13, unchanged: 1.13 has no
torch.func, so this supplies one from functorch (vmap, grad) and
torch.nn.utils.stateless (functional_call), the same functions that became
torch.func in 2.0, and sets torch's threads to --threads (default: all
cores, as stiffness_bench on one rank). Arguments otherwise as the peer's:

    python3 bench/peer_cpu.py --threads 2 --case cnn:1000 --case resnet20:1000
"""
import os
import runpy
import sys
import types

import torch

try:
    import torch.func  # noqa: F401  (torch >= 2.0: the peer runs as it is)
except ImportError:
    import functorch
    from torch.nn.utils import stateless

    func = types.ModuleType("torch.func")
    func.vmap, func.grad, func.functional_call = functorch.vmap, functorch.grad, stateless.functional_call
    sys.modules["torch.func"] = func
    torch.func = func

args = sys.argv[1:]
threads = os.cpu_count() or 1
if "--threads" in args:
    i = args.index("--threads")
    if i + 1 >= len(args) or not args[i + 1].isdigit() or int(args[i + 1]) < 1:
        sys.exit("peer_cpu.py: --threads: expected a positive integer")
    threads = int(args[i + 1])
    del args[i:i + 2]
torch.set_num_threads(threads)
peer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "gpu", "peer_torchfunc.py")
sys.argv = [peer, "--device", "cpu"] + args
runpy.run_path(peer, run_name="__main__")
