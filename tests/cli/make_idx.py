#!/usr/bin/env python3
"""Writes small MNIST-format IDX data sets for the CLI tests.

usage: make_idx.py OUT_DIR [--train N] [--val N] [--size S] [--raw] [--seed S]

Creates OUT_DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] holding
random SxS (default 28x28) uint8 images and labels 0..9 (every class present). With --raw
the files are written uncompressed; otherwise gzip-compressed.
"""
import argparse
import gzip
import os
import struct

import numpy as np


def idx_bytes(arr):
    """IDX encoding of a uint8 array: 0 0 0x08 ndim, big-endian dims, data."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    head = bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return head + arr.tobytes()


def write(path, data, gz):
    if gz:
        with gzip.open(path + ".gz", "wb") as f:
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=200)
    ap.add_argument("--val", type=int, default=100)
    ap.add_argument("--size", type=int, default=28)
    ap.add_argument("--raw", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    for prefix, n in (("train", a.train), ("t10k", a.val)):
        images = rng.integers(0, 256, size=(n, a.size, a.size), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        rng.shuffle(labels)
        write(os.path.join(a.out, prefix + "-images-idx3-ubyte"), idx_bytes(images), not a.raw)
        write(os.path.join(a.out, prefix + "-labels-idx1-ubyte"), idx_bytes(labels), not a.raw)


if __name__ == "__main__":
    main()
