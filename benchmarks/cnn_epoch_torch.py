"""One Fashion-MNIST training epoch of the convolutional network in PyTorch 1.13 (CPU, oneDNN), per normalization.

Same network, initialization, optimizer and batches as CnnEpoch.cs: conv 3x3 (32, padding 1) -> norm -> ReLU ->
max pool 2 -> conv 3x3 (64, padding 1) -> norm -> ReLU -> max pool 2 -> flatten -> Linear (128) -> ReLU ->
Linear (10); PyTorch's default initialization; SGD lr 0.01, momentum 0.9; batch 64, shuffled. GroupNorm uses 8 groups.
Batch Renormalization is written from Ioffe 2017, Algorithm 1 (r and d detached), over (N, H, W) per channel, with
the schedule of the benchmark (rmax 1 -> 3 over steps 100..600, dmax 0 -> 5 over steps 100..400, alpha 0.01).
Prints one JSON line per normalization with the median epoch time and the test accuracy after the epoch.
Usage: /usr/bin/python3 benchmarks/cnn_epoch_torch.py /usr/share/datasets/fashion-mnist [repeats] [threads]
"""
import sys

import torch
from torch import nn

from epoch_common import RenormSchedule, load, time_epochs


class BatchRenorm2d(nn.Module, RenormSchedule):
    def __init__(self, channels, warmup=100, rmax_steps=600, dmax_steps=400, alpha=0.01, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))
        self.init_schedule(warmup, rmax_steps, dmax_steps)
        self.alpha, self.eps = alpha, eps

    def forward(self, x):
        shape = (1, -1, 1, 1)
        if not self.training:
            return self.weight.view(shape) * (x - self.mean.view(shape)) / self.std.view(shape) + self.bias.view(shape)
        rmax, dmax = self.limits()
        mu = x.mean((0, 2, 3))
        sigma = torch.sqrt(x.var((0, 2, 3), unbiased=False) + self.eps)
        r = (sigma / self.std).clamp(1 / rmax, rmax).detach()
        d = ((mu - self.mean) / self.std).clamp(-dmax, dmax).detach()
        x_hat = (x - mu.view(shape)) / sigma.view(shape) * r.view(shape) + d.view(shape)
        y = self.weight.view(shape) * x_hat + self.bias.view(shape)
        with torch.no_grad():
            self.mean += self.alpha * (mu - self.mean)
            self.std += self.alpha * (sigma - self.std)
        self.step += 1
        return y


def norm_layer(norm, channels):
    if norm == "BatchNorm":
        return nn.BatchNorm2d(channels)
    if norm == "GroupNorm":
        return nn.GroupNorm(8, channels)
    if norm == "BatchRenorm":
        return BatchRenorm2d(channels)
    return nn.Identity()


def network(norm):
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), norm_layer(norm, 32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), norm_layer(norm, 64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    folder = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
    shape = (1, 28, 28)
    time_epochs(network, ("BatchNorm", "GroupNorm", "BatchRenorm"), load(folder, "train", shape), load(folder, "t10k", shape), repeats)

if __name__ == "__main__":
    main()
