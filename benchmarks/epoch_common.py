"""What the PyTorch epoch scripts (mlp_epoch_torch.py, cnn_epoch_torch.py) share: Fashion-MNIST loading and Batch
Renormalization's relaxation schedule as the benchmarks run it (rmax 1 -> 3 over steps 100..600, dmax 0 -> 5 over
steps 100..400; Ioffe 2017)."""
import gzip

import numpy as np
import torch


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
