"""One Fashion-MNIST training epoch of the MLP 784-256-256-10 in PyTorch 1.13 (CPU, 2 threads), per normalization.

Same network and optimizer as MlpEpoch.cs: Linear -> norm -> ReLU per hidden layer, SGD lr 0.01, momentum 0.9,
batch 64, shuffled. Batch Renormalization is written from Ioffe 2017, Algorithm 1 (r and d detached).
Prints one JSON line per normalization with the median epoch time and the test accuracy after the epoch.
Usage: /usr/bin/python3 benchmarks/mlp_epoch_torch.py /usr/share/datasets/fashion-mnist [repeats]
       /usr/bin/python3 benchmarks/mlp_epoch_torch.py /usr/share/datasets/fashion-mnist --accuracy EPOCHS
       (BatchNorm's test accuracy after EPOCHS epochs, for the accuracy-parity check)
"""
import json
import sys

import torch
from torch import nn

from epoch_common import RenormSchedule, load, test_accuracy, time_epochs, train_epoch

torch.set_num_threads(2)


class BatchRenorm1d(nn.Module, RenormSchedule):
    def __init__(self, features, warmup=100, rmax_steps=600, dmax_steps=400, alpha=0.01, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("std", torch.ones(features))
        self.init_schedule(warmup, rmax_steps, dmax_steps)
        self.alpha, self.eps = alpha, eps

    def forward(self, x):
        if not self.training:
            return self.weight * (x - self.mean) / self.std + self.bias
        rmax, dmax = self.limits()
        mu = x.mean(0)
        sigma = torch.sqrt(x.var(0, unbiased=False) + self.eps)
        r = (sigma / self.std).clamp(1 / rmax, rmax).detach()
        d = ((mu - self.mean) / self.std).clamp(-dmax, dmax).detach()
        y = self.weight * ((x - mu) / sigma * r + d) + self.bias
        with torch.no_grad():
            self.mean += self.alpha * (mu - self.mean)
            self.std += self.alpha * (sigma - self.std)
        self.step += 1
        return y


def network(norm):
    layers, inputs = [], 784
    for hidden in (256, 256):
        layers.append(nn.Linear(inputs, hidden))
        if norm == "BatchNorm":
            layers.append(nn.BatchNorm1d(hidden))
        elif norm == "BatchRenorm":
            layers.append(BatchRenorm1d(hidden))
        layers.append(nn.ReLU())
        inputs = hidden
    layers.append(nn.Linear(inputs, 10))
    return nn.Sequential(*layers)


def accuracy_after(folder, epochs):
    x, y = load(folder, "train")
    tx, ty = load(folder, "t10k")
    torch.manual_seed(1)
    model = network("BatchNorm")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for _ in range(epochs):
        train_epoch(model, optimizer, x, y)
    accuracy = test_accuracy(model, tx, ty)
    print(json.dumps({"normalization": "BatchNorm", "epochs": epochs, "test_accuracy": round(accuracy, 4)}))


def main():
    folder = sys.argv[1]
    if len(sys.argv) > 3 and sys.argv[2] == "--accuracy":
        accuracy_after(folder, int(sys.argv[3]))
        return
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    time_epochs(network, ("None", "BatchNorm", "BatchRenorm"), load(folder, "train"), load(folder, "t10k"), repeats)

if __name__ == "__main__":
    main()
