"""Tiny datasets in every format the job reads (besides IDX), for CLI tests.

usage: make_data.py OUT_DIR
  OUT_DIR/cifar10/   data_batch_1..5.bin, test_batch.bin   (10 classes)
  OUT_DIR/cifar100/  train.bin, test.bin                   (100 fine, 20 coarse)
  OUT_DIR/tokens.h5  token sequences for the transformer   (/train, /val)
"""
import os
import sys

import h5py
import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(0)


def records(labels, label_bytes):
    n = len(labels[0])
    pix = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    cols = [np.asarray(l, dtype=np.uint8).reshape(n, 1) for l in labels]
    return np.concatenate(cols + [pix], axis=1).tobytes()


os.makedirs(f"{out}/cifar10", exist_ok=True)
for b in range(1, 6):
    with open(f"{out}/cifar10/data_batch_{b}.bin", "wb") as f:
        f.write(records([np.arange(20) % 10], 1))          # 2 per class per batch
with open(f"{out}/cifar10/test_batch.bin", "wb") as f:
    f.write(records([np.arange(30) % 10], 1))

os.makedirs(f"{out}/cifar100", exist_ok=True)
for name, n in (("train", 300), ("test", 200)):
    fine = np.arange(n) % 100
    coarse = (fine * 7) % 20            # super-classes interleaved, as in CIFAR-100
    with open(f"{out}/cifar100/{name}.bin", "wb") as f:
        f.write(records([coarse, fine], 2))

# Token sequences: the class is the most frequent of 4 marker tokens.
with h5py.File(f"{out}/tokens.h5", "w") as f:
    f.attrs["num_classes"] = 4
    for split, n in (("train", 400), ("val", 120)):
        ids = rng.integers(4, 20, size=(n, 8))
        labels = np.arange(n) % 4
        ids[:, :3] = labels[:, None]
        g = f.create_group(split)
        g["inputs"] = ids.astype(np.int64)
        g["labels"] = labels.astype(np.int64)
