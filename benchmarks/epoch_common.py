"""What the PyTorch epoch scripts (mlp_epoch_torch.py, cnn_epoch_torch.py) share: Fashion-MNIST loading, the timed
epoch (SGD lr 0.01, momentum 0.9, batch 64, shuffled, a last single-row batch left out) and Batch Renormalization's
relaxation schedule as the benchmarks run it (rmax 1 -> 3 over steps 100..600, dmax 0 -> 5 over steps 100..400;
Ioffe 2017)."""
import gzip
import json
import time

import numpy as np
import torch
from torch import nn


def load(folder, prefix, shape=(784,)):
    """Images scaled to [0, 1] in the given per-image shape, and labels, from the original IDX files."""
    with gzip.open(f"{folder}/{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, *shape).astype(np.float32) / 255
    with gzip.open(f"{folder}/{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return torch.from_numpy(images), torch.from_numpy(labels)


class RenormSchedule:
    """rmax and dmax of Batch Renorm at the module's step: plain BN for `warmup` steps, then linear relaxation."""

    def init_schedule(self, warmup=100, rmax_steps=600, dmax_steps=400):
        self.step, self.warmup, self.rmax_steps, self.dmax_steps = 0, warmup, rmax_steps, dmax_steps

    def limits(self):
        t = self.step
        if t < self.warmup:
            return 1.0, 0.0
        rmax = 1 + 2 * min(1.0, (t - self.warmup) / (self.rmax_steps - self.warmup))
        dmax = 5 * min(1.0, (t - self.warmup) / (self.dmax_steps - self.warmup))
        return rmax, dmax


def train_epoch(model, optimizer, x, y):
    """One shuffled epoch in batches of 64; a last batch of one row is left out (batch statistics need two)."""
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(len(y))
    model.train()
    for i in range(0, len(y), 64):
        index = order[i:i + 64]
        if len(index) < 2:
            break
        optimizer.zero_grad()
        loss_fn(model(x[index]), y[index]).backward()
        optimizer.step()


def test_accuracy(model, x, y):
    """Accuracy in eval mode, 1,000 images at a time."""
    model.eval()
    with torch.no_grad():
        return sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item() for i in range(0, len(y), 1000)) / len(y)


def time_epochs(network, norms, train, test, repeats):
    """Per normalization, the median time of `repeats` epochs from fresh weights and the test accuracy after the last,
    as one JSON line each."""
    (x, y), (tx, ty) = train, test
    for norm in norms:
        times, accuracy = [], 0.0
        for r in range(repeats):
            torch.manual_seed(r)
            model = network(norm)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            start = time.perf_counter()
            train_epoch(model, optimizer, x, y)
            times.append(time.perf_counter() - start)
            accuracy = test_accuracy(model, tx, ty)
        times.sort()
        print(json.dumps({"normalization": norm, "epoch_seconds": round(times[len(times) // 2], 3), "test_accuracy": round(accuracy, 4),
                          "rows": len(y), "threads": torch.get_num_threads()}))
