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
import time

import torch
from torch import nn

from epoch_common import RenormSchedule, load

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
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y))
        for i in range(0, len(y), 64):
            index = order[i:i + 64]
            if len(index) < 2:
                break
            optimizer.zero_grad()
            loss_fn(model(x[index]), y[index]).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(tx).argmax(1) == ty).float().mean().item()
    print(json.dumps({"normalization": "BatchNorm", "epochs": epochs, "test_accuracy": round(accuracy, 4)}))


def main():
    folder = sys.argv[1]
    if len(sys.argv) > 3 and sys.argv[2] == "--accuracy":
        accuracy_after(folder, int(sys.argv[3]))
        return
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    x, y = load(folder, "train")
    tx, ty = load(folder, "t10k")
    for norm in ("None", "BatchNorm", "BatchRenorm"):
        times, accuracy = [], 0.0
        for r in range(repeats):
            torch.manual_seed(r)
            model = network(norm)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            loss_fn = nn.CrossEntropyLoss()
            order = torch.randperm(len(y))
            start = time.perf_counter()
            model.train()
            for i in range(0, len(y), 64):
                index = order[i:i + 64]
                if len(index) < 2:
                    break
                optimizer.zero_grad()
                loss = loss_fn(model(x[index]), y[index])
                loss.backward()
                optimizer.step()
            times.append(time.perf_counter() - start)
            model.eval()
            with torch.no_grad():
                accuracy = (model(tx).argmax(1) == ty).float().mean().item()
        times.sort()
        print(json.dumps({"normalization": norm, "epoch_seconds": round(times[len(times) // 2], 3), "test_accuracy": round(accuracy, 4), "rows": len(y)}))


if __name__ == "__main__":
    main()
