#!/usr/bin/python3
"""PyTorch 1.13 mirror of samples/BatchNormExperiments: the same protocol, for the sample's PyTorch columns.

Runs each experiment of the C# sample with the same settings and writes one JSON file with every seed's runs, which
the sample joins to its own with --torch <file>:

    /usr/bin/python3 samples/BatchNormExperiments/torch_protocol.py --full --seeds 1,2,3 --threads 1 --output docs/results-full/torch-seeds.json
    dotnet run --project samples/BatchNormExperiments -c Release -- --full --seeds 1,2,3 \\
        --torch docs/results-full/torch-seeds.json --output docs/results-full

and for the convolutional experiments (not run by default) the same with --experiments cnn-batch,cnn-renorm,cnn-landscape
and the sample's --train-count, --test-count and --epochs.

The committed JSONs (docs/results-full, and docs/results for the embedded subset) were written with --threads 1: the
thread count changes float rounding, and so the runs, and one thread ran fastest on 2 cores shared with other work.

What is the same as the sample (see its .cs files):
  - data: the first --train-count / --test-count images of the embedded subset (default), --data <folder> or --full,
    pixels / 255 as float32, each row a (1, 28, 28) image for the convolutional networks;
  - MLP experiments (normalizers, renorm, landscape): 784-256-256-10, Linear -> normalization -> ReLU; SGD lr 0.01,
    batch 64 and --epochs epochs; renorm: class-grouped batches of 2 classes for 3 epochs, and batch 4 for 1 epoch at
    lr 0.002, Batch Renorm's schedule scaled to the run's steps;
  - convolutional experiments, the library's ConvolutionalNetworkTraining.Build: each convolution block is Conv2d 3x3
    pad 1 with its bias -> normalization -> ReLU (normalization after convolutions only), MaxPool2d(2) in floor
    mode, global average pooling as the mean of each channel, a dense block Flatten -> Linear -> ReLU, then Linear to
    the 10 classes. "late-small": conv 16, pool, conv 32, pool, conv 64, pool, conv 64 (3x3 maps), global average
    pool. "vgg": conv 16, 16, pool, conv 32, 32, pool, dense 128.
      cnn-batch: late-small with BatchNorm and GroupNorm (8 groups) at batch 32, 16, 8, 4 and 2, LayerNorm and
        InstanceNorm at batch 32; lr 0.02 x batch / 32, --epochs epochs;
      cnn-renorm: late-small, BatchNorm against BatchRenorm: class-grouped batches of 64 (2 classes) at lr 0.04 for
        3 epochs, and batch 4 at lr 0.0025 for --epochs epochs, Batch Renorm's schedule scaled to each run's steps;
      cnn-landscape: vgg without normalization and with BatchNorm, batch 64, lr 0.02, --epochs epochs, about 40
        probes per run;
  - all: softmax cross-entropy (mean over the batch); SGD momentum 0.9, no weight decay; PyTorch's default Linear and
    Conv2d initialization U(+-1/sqrt(fan_in)) for weights and biases (the library draws the same distribution with
    its own RNG);
  - batches: shuffled = a fresh permutation every epoch, a last batch of one row left out with batch statistics;
    class-grouped = BatchSampler's algorithm (chunks of 32 rows of one class, spread evenly over the epoch, joined
    two classes a batch), ported below with numpy's RNG: the same policy, other random draws;
  - layers: BatchNorm1d / BatchNorm2d (momentum 0.1, eps 1e-5); GroupNorm(8, C); the library's LayerNormLayer on
    (N, C, H, W) is LayerNorm([C, H, W]) (gamma and beta per value) and its InstanceNormLayer is
    InstanceNorm2d(C, affine=True) without running statistics (tools/golden/make_norm_layers_nchw.py checks both);
    Batch Renorm (per channel over N, or over N, H, W on maps), noisy BN and lp BN written from the library's
    formulas (BatchRenormLayer.cs, NoisyBatchNormLayer.cs, LpBatchNormLayer.cs);
  - evaluation: test accuracy in eval mode after every epoch; the landscape probes of LandscapeExperiment.cs (the
    convolutional ones also record the range of ||grad L(w - eta g) - g|| over eta).
Within a seed every configuration of a network starts from the same weights, and configurations of one batch size and
order see the same batches, as in the sample.
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HIDDEN = [256, 256]
LEARNING_RATE, MOMENTUM, BATCH_SIZE = 0.01, 0.9, 64
NORMALIZERS = ["None", "BatchNorm", "NoisyBatchNorm", "L1BatchNorm", "L2BatchNorm", "LInfBatchNorm"]
NON_IID_EPOCHS, CLASSES_PER_BATCH = 3, 2
SMALL_BATCH, SMALL_BATCH_EPOCHS, SMALL_BATCH_LR = 4, 1, 0.002
WARMUP_FRACTION, RMAX_FRACTION, DMAX_FRACTION, FINAL_RMAX, FINAL_DMAX = 0.1, 0.6, 0.4, 3.0, 5.0
STEP_MULTIPLIERS = [0.5, 1, 2, 4]
PROBES_PER_RUN = 60
# Which normalizations compute batch statistics (NetworkTrainingOptions.UsesBatchStatistics): a last batch of one row is left out.
BATCH_STATISTICS = {"BatchNorm", "BatchRenorm", "NoisyBatchNorm", "L1BatchNorm", "L2BatchNorm", "LInfBatchNorm"}

# Convolutional experiments: ConvolutionalNetworkOptions.Blocks as (kind, size) pairs, each conv 3x3 pad 1, each pool 2x2.
IMAGE = (1, 28, 28)
LATE_SMALL = [("conv", 16), ("maxpool", 2), ("conv", 32), ("maxpool", 2), ("conv", 64), ("maxpool", 2), ("conv", 64),
              ("global_average_pool", None)]
VGG = [("conv", 16), ("conv", 16), ("maxpool", 2), ("conv", 32), ("conv", 32), ("maxpool", 2), ("dense", 128)]
GROUP_NORM_GROUPS = 8
CNN_BATCH_SIZES, CNN_BASE_BATCH, CNN_BASE_LR = [32, 16, 8, 4, 2], 32, 0.02
CNN_NON_IID_BATCH, CNN_NON_IID_LR, CNN_NON_IID_EPOCHS = 64, 0.04, 3
CNN_SMALL_BATCH, CNN_SMALL_BATCH_LR = 4, 0.0025
CNN_LANDSCAPE_BATCH, CNN_LANDSCAPE_LR, CNN_PROBES_PER_RUN = 64, 0.02, 40

MLP_EXPERIMENTS = ["normalizers", "renorm", "landscape"]
CNN_EXPERIMENTS = ["cnn-batch", "cnn-renorm", "cnn-landscape"]
EXPERIMENTS = MLP_EXPERIMENTS + CNN_EXPERIMENTS
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SUBSET = os.path.join(REPO, "samples", "data", "fashion-mnist-subset")
INSTALLED = "/usr/share/datasets/fashion-mnist"


# ---- data ----

def load_split(folder, train, limit):
    prefix = "train" if train else "t10k"
    with gzip.open(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    rows = min(limit or len(labels), len(labels))
    return torch.from_numpy(images[:rows].astype(np.float32) / np.float32(255)), labels[:rows]


# ---- batches ----

def shuffled_epoch(rng, rows, batch_size, drop_single):
    order = rng.permutation(rows)
    for start in range(0, rows, batch_size):
        if drop_single and rows - start == 1:
            return
        yield order[start:start + batch_size]


class ClassGroupedSampler:
    """BatchSampler.ClassGrouped: k = min(classes per batch, classes with rows, batch) classes of s = batch // k rows.

    Every epoch each class's rows are shuffled and cut into chunks of s (the last holds the rest); a class of m chunks
    puts chunk j in span j of m equal spans of the epoch, at (span + u) / m, but for the short last chunk, which swaps
    spans with a random one; all chunks are ordered by place. A batch takes the earliest chunk left, then for each
    further class the earliest chunk left of a class not yet in the batch among the next 2 x (classes with rows) chunks
    left, else the earliest chunk left. A batch of one row is left out with batch statistics.
    """

    def __init__(self, labels, classes, batch_size, classes_per_batch, rng, drop_single):
        self.rng, self.drop_single = rng, drop_single
        self.rows_of_class = [np.flatnonzero(labels == c) for c in range(classes)]
        with_rows = sum(1 for rows in self.rows_of_class if len(rows) > 0)
        self.k = max(1, min(classes_per_batch, with_rows, batch_size))
        self.s = batch_size // self.k
        self.lookahead = 2 * with_rows
        self.slot_class, self.slot_chunk = [], []
        for c, rows in enumerate(self.rows_of_class):
            for j in range(self.chunks(len(rows))):
                self.slot_class.append(c)
                self.slot_chunk.append(j)

    def chunks(self, rows):
        return (rows + self.s - 1) // self.s

    def schedule(self):
        for rows in self.rows_of_class:
            self.rng.shuffle(rows)
        places = np.empty(len(self.slot_class))
        slot = 0
        while slot < len(places):
            m = self.chunks(len(self.rows_of_class[self.slot_class[slot]]))
            short_span = int(self.rng.integers(m))
            for j in range(m):
                span = short_span if j == m - 1 else (m - 1 if j == short_span else j)
                places[slot] = (span + self.rng.random()) / m
                slot += 1
        return np.argsort(places, kind="stable")

    def epoch(self):
        schedule = self.schedule()
        n = len(schedule)
        used = np.zeros(n, dtype=bool)
        head = 0
        while True:
            while head < n and used[head]:
                head += 1
            if head == n:
                return
            picks = [head]
            used[head] = True
            classes = [self.slot_class[schedule[head]]]
            for _ in range(1, self.k):
                pick, earliest, seen, i = -1, -1, 0, head + 1
                while i < n and seen < self.lookahead:
                    if not used[i]:
                        if earliest < 0:
                            earliest = i
                        seen += 1
                        if self.slot_class[schedule[i]] not in classes:
                            pick = i
                            break
                    i += 1
                if pick < 0:
                    pick = earliest
                if pick < 0:
                    break
                used[pick] = True
                picks.append(pick)
                classes.append(self.slot_class[schedule[pick]])
            batch = np.concatenate([self.chunk(schedule[p]) for p in picks])
            if len(batch) >= 2 or not self.drop_single:
                yield batch

    def chunk(self, slot):
        rows = self.rows_of_class[self.slot_class[slot]]
        start = self.slot_chunk[slot] * self.s
        return rows[start:start + self.s]


def steps_for(labels, classes, epochs, batch_size, class_grouped):
    """Trainer.StepsFor: the steps of a run, a last batch of one row left out."""
    rows = len(labels)
    if not class_grouped:
        return epochs * (rows // batch_size + (1 if rows % batch_size >= 2 else 0))
    sizes = [int((labels == c).sum()) for c in range(classes)]
    with_rows = sum(1 for s in sizes if s > 0)
    k = max(1, min(CLASSES_PER_BATCH, with_rows, batch_size))
    s = batch_size // k
    chunks = sum((size + s - 1) // s for size in sizes)
    return epochs * ((chunks + k - 1) // k)


# ---- layers ----

class Schedule:
    """RenormSchedule: rmax = 1, dmax = 0 for warmup steps, then linear to the final values at their steps."""

    def __init__(self, steps):
        # C#'s Math.Round and Python's round both round half to even.
        self.warmup = round(WARMUP_FRACTION * steps)
        self.rmax_steps = round(RMAX_FRACTION * steps)
        self.dmax_steps = round(DMAX_FRACTION * steps)

    def relax(self, step, initial, final, final_step):
        if step < self.warmup:
            return initial
        if step >= final_step:
            return final
        return initial + (final - initial) * (step - self.warmup) / (final_step - self.warmup)

    def rmax(self, step):
        return self.relax(step, 1.0, FINAL_RMAX, self.rmax_steps)

    def dmax(self, step):
        return self.relax(step, 0.0, FINAL_DMAX, self.dmax_steps)

    def to_json(self):
        return {"warmup_steps": self.warmup, "rmax_steps": self.rmax_steps, "dmax_steps": self.dmax_steps}


class BatchRenorm(nn.Module):
    """Ioffe 2017, Algorithm 1: r, d from the moving mean and std, both detached; mu, sigma += alpha (batch - moving).

    Statistics per channel (dimension 1) over every other dimension: N for (N, C) rows, N, H, W for (N, C, H, W) maps.
    """

    def __init__(self, channels, schedule, alpha=0.01, eps=1e-5):
        super().__init__()
        self.schedule, self.alpha, self.eps, self.step = schedule, alpha, eps, 0
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("moving_mean", torch.zeros(channels))
        self.register_buffer("moving_std", torch.ones(channels))

    def forward(self, x):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        weight, bias = self.weight.view(shape), self.bias.view(shape)
        if not self.training:
            return weight * (x - self.moving_mean.view(shape)) / self.moving_std.view(shape) + bias
        rmax, dmax = self.schedule.rmax(self.step), self.schedule.dmax(self.step)
        dims = (0,) + tuple(range(2, x.dim()))
        mean = x.mean(dims)
        std = torch.sqrt(x.var(dims, unbiased=False) + self.eps)
        r = (std.detach() / self.moving_std).clamp(1 / rmax, rmax)
        d = ((mean.detach() - self.moving_mean) / self.moving_std).clamp(-dmax, dmax)
        y = weight * ((x - mean.view(shape)) / std.view(shape) * r.view(shape) + d.view(shape)) + bias
        with torch.no_grad():
            self.moving_mean += self.alpha * (mean - self.moving_mean)
            self.moving_std += self.alpha * (std - self.moving_std)
        self.step += 1
        return y


class NoisyBatchNorm1d(nn.BatchNorm1d):
    """BN, then in training y * a + b with a ~ N(s_c, 0.1^2), b ~ N(m_c, 0.1^2); m_c ~ U(+-0.5), s_c ~ U(1 +- 0.25) per step."""

    def __init__(self, channels, generator, shift_range=0.5, scale_range=0.25, noise_std=0.1):
        super().__init__(channels)
        self.generator, self.shift_range, self.scale_range, self.noise_std = generator, shift_range, scale_range, noise_std

    def forward(self, x):
        y = super().forward(x)
        if not self.training:
            return y
        g, c = self.generator, y.shape[1]
        mean = self.shift_range * (2 * torch.rand(c, generator=g) - 1)
        scale = 1 + self.scale_range * (2 * torch.rand(c, generator=g) - 1)
        a = scale + self.noise_std * torch.randn(y.shape, generator=g)
        b = mean + self.noise_std * torch.randn(y.shape, generator=g)
        return y * a + b


class LpBatchNorm1d(nn.Module):
    """y = gamma (x - mu_B) / (s_B + eps) + beta, s_B the mean |c|, root mean square or max |c| of c = x - mu_B."""

    def __init__(self, channels, p, momentum=0.1, eps=1e-5):
        super().__init__()
        self.p, self.momentum, self.eps = p, momentum, eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_scale", torch.ones(channels))

    def forward(self, x):
        if not self.training:
            return self.weight * (x - self.running_mean) / (self.running_scale + self.eps) + self.bias
        mean = x.mean(0)
        c = x - mean
        if self.p == 1:
            s = c.abs().mean(0)
        elif self.p == 2:
            s = c.pow(2).mean(0).sqrt()
        else:
            s = c.abs().max(0).values
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.running_scale.mul_(1 - self.momentum).add_(self.momentum * s)
        return self.weight * c / (s + self.eps) + self.bias


def build(normalization, seed, schedule):
    torch.manual_seed(seed)  # the Linear layers draw from it in order, the same for every normalization
    noise = torch.Generator().manual_seed(seed + 1_000_003)  # its own stream: the noise moves neither the weights nor the batches
    layers, inputs = [], 784
    for hidden in HIDDEN:
        layers.append(nn.Linear(inputs, hidden))
        norm = {
            "None": lambda: None,
            "BatchNorm": lambda: nn.BatchNorm1d(hidden),
            "BatchRenorm": lambda: BatchRenorm(hidden, schedule),
            "NoisyBatchNorm": lambda: NoisyBatchNorm1d(hidden, noise),
            "L1BatchNorm": lambda: LpBatchNorm1d(hidden, 1),
            "L2BatchNorm": lambda: LpBatchNorm1d(hidden, 2),
            "LInfBatchNorm": lambda: LpBatchNorm1d(hidden, math.inf),
        }[normalization]()
        if norm is not None:
            layers.append(norm)
        layers.append(nn.ReLU())
        inputs = hidden
    layers.append(nn.Linear(inputs, 10))
    return nn.Sequential(*layers)


def map_normalization(normalization, channels, height, width, schedule):
    """NetworkTrainingOptions.CreateNormalization on (N, C, H, W) maps, as its layers' golden tests check them."""
    return {
        "None": lambda: None,
        "BatchNorm": lambda: nn.BatchNorm2d(channels),
        "BatchRenorm": lambda: BatchRenorm(channels, schedule),
        "GroupNorm": lambda: nn.GroupNorm(GROUP_NORM_GROUPS, channels),
        "LayerNorm": lambda: nn.LayerNorm([channels, height, width]),  # LayerNormLayer: gamma, beta per value of the map
        "InstanceNorm": lambda: nn.InstanceNorm2d(channels, affine=True),  # no running statistics, as InstanceNormLayer
    }[normalization]()


def build_cnn(blocks, normalization, seed, schedule):
    """ConvolutionalNetworkTraining.Build: the blocks in order on (1, 28, 28) images, then Linear to the 10 classes."""
    torch.manual_seed(seed)  # the Conv2d and Linear layers draw from it in order, the same for every normalization
    layers, (channels, height, width), flat = [nn.Unflatten(1, IMAGE)], IMAGE, False
    for kind, size in blocks:
        if kind == "conv":  # ConvolutionBlock(size): 3x3, stride 1, padding 1, with a bias, then normalization and ReLU
            layers.append(nn.Conv2d(channels, size, 3, padding=1))
            channels = size
            norm = map_normalization(normalization, channels, height, width, schedule)
            if norm is not None:
                layers.append(norm)
            layers.append(nn.ReLU())
        elif kind == "maxpool":  # MaxPoolBlock(): 2x2 windows, stride 2, floor
            layers.append(nn.MaxPool2d(size))
            height, width = height // size, width // size
        elif kind == "global_average_pool":  # each channel's mean, (C, 1, 1)
            layers.append(nn.AdaptiveAvgPool2d(1))
            height = width = 1
        elif kind == "dense":  # DenseBlock(size): flatten, Linear, ReLU (dense layers are not normalized)
            if not flat:
                layers.append(nn.Flatten())
                flat = True
            layers.extend([nn.Linear(channels * height * width, size), nn.ReLU()])
            channels, height, width = size, 1, 1
        else:
            raise ValueError(f"unknown block {kind}")
    if not flat:
        layers.append(nn.Flatten())
    layers.append(nn.Linear(channels * height * width, 10))
    return nn.Sequential(*layers)


# ---- training ----

def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    model.train()
    return float((predicted.numpy() == y).mean())


class Prober:
    """LandscapeProber: loss and gradient of the batch at w - eta g, then weights, gradients and BN statistics restored.

    With gradient_change the probe also gives the lowest and highest ||grad L(w - eta g) - g|| over eta (Santurkar et
    al.'s gradient predictiveness), as the convolutional landscape experiment records.
    """

    def __init__(self, model, gradient_change=False):
        self.model, self.gradient_change = model, gradient_change
        self.params = list(model.parameters())
        self.batch_norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if any(isinstance(m, (BatchRenorm, NoisyBatchNorm1d, LpBatchNorm1d)) for m in model.modules()):
            raise ValueError("the probe restores batch norm's running statistics only")

    def measure(self, step, x, y, etas):
        saved = [p.detach().clone() for p in self.params]
        grads = [p.grad.detach().clone() for p in self.params]
        stats = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone()) for m in self.batch_norms]
        norm2 = sum(float(g.double().pow(2).sum()) for g in grads)
        low, high, smoothness = math.inf, -math.inf, 0.0
        change_low, change_high = math.inf, -math.inf
        for eta in etas:
            with torch.no_grad():
                for p, w, g in zip(self.params, saved, grads):
                    p.copy_(w - eta * g)
            self.model.zero_grad()
            loss = F.cross_entropy(self.model(x), y)
            loss.backward()
            low, high = min(low, float(loss)), max(high, float(loss))
            change2 = sum(float((p.grad.double() - g.double()).pow(2).sum()) for p, g in zip(self.params, grads))
            change_low, change_high = min(change_low, math.sqrt(change2)), max(change_high, math.sqrt(change2))
            if norm2 > 0:
                smoothness = max(smoothness, math.sqrt(change2 / norm2) / eta)
        with torch.no_grad():
            for p, w, g in zip(self.params, saved, grads):
                p.copy_(w)
                p.grad.copy_(g)
            for m, (mean, var, tracked) in zip(self.batch_norms, stats):
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.num_batches_tracked.copy_(tracked)
        probe = {"step": step, "min": low, "max": high, "gradient_norm": math.sqrt(norm2), "smoothness": smoothness}
        if self.gradient_change:
            probe["gradient_change_min"], probe["gradient_change_max"] = change_low, change_high
        return probe


def train(data, seed, group, normalization, epochs, batch_size=BATCH_SIZE, lr=LEARNING_RATE, class_grouped=False,
          schedule=None, probe_every=None, blocks=None, configuration=None):
    """One run: the MLP, or with blocks the convolutional network of those blocks; configuration names it (default normalization)."""
    (x_train, y_train), (x_test, y_test) = data
    configuration = configuration or normalization
    started = time.perf_counter()
    model = build(normalization, seed, schedule) if blocks is None else build_cnn(blocks, normalization, seed, schedule)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
    rng = np.random.default_rng(seed)
    drop_single = normalization in BATCH_STATISTICS
    sampler = ClassGroupedSampler(y_train, 10, batch_size, CLASSES_PER_BATCH, rng, drop_single) if class_grouped else None
    labels = torch.from_numpy(y_train)
    prober = Prober(model, gradient_change=blocks is not None) if probe_every else None
    probes, test_accuracy, epoch_loss, step = [], [], [], 0
    model.train()
    for epoch in range(1, epochs + 1):
        batches = sampler.epoch() if class_grouped else shuffled_epoch(rng, len(y_train), batch_size, drop_single)
        loss_sum, epoch_steps = 0.0, 0
        for rows in batches:
            index = torch.from_numpy(rows)
            x, y = x_train[index], labels[index]
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            step += 1
            epoch_steps += 1
            loss_sum += float(loss)
            if prober and (step - 1) % probe_every == 0:
                probes.append(prober.measure(step, x, y, [m * lr for m in STEP_MULTIPLIERS]))
            optimizer.step()
        test_accuracy.append(accuracy(model, x_test, y_test))
        epoch_loss.append(loss_sum / epoch_steps)
        print(f"  seed {seed} [{group}] {configuration:<20} epoch {epoch}/{epochs}  loss {epoch_loss[-1]:.4f}  "
              f"test {100 * test_accuracy[-1]:.1f} %  {time.perf_counter() - started:6.1f} s", file=sys.stderr, flush=True)
    run = {"seed": seed, "group": group, "configuration": configuration, "epochs": epochs, "batch_size": batch_size,
           "learning_rate": lr, "steps": step, "test_accuracy": test_accuracy, "epoch_loss": epoch_loss,
           "seconds": round(time.perf_counter() - started, 2)}
    if schedule is not None:
        run["renorm_schedule"] = schedule.to_json()
    if prober:
        run["probe_every"] = probe_every
        run["probes"] = probes
    return run


def run_seed(data, seed, experiments, epochs):
    y_train = data[0][1]
    runs = []
    if "normalizers" in experiments:
        for normalization in NORMALIZERS:
            runs.append(train(data, seed, "normalizers", normalization, epochs))
    if "renorm" in experiments:
        settings = [("renorm/non-iid", dict(epochs=NON_IID_EPOCHS, class_grouped=True)),
                    ("renorm/batch-4", dict(epochs=SMALL_BATCH_EPOCHS, batch_size=SMALL_BATCH, lr=SMALL_BATCH_LR))]
        for group, options in settings:
            steps = steps_for(y_train, 10, options["epochs"], options.get("batch_size", BATCH_SIZE), options.get("class_grouped", False))
            schedule = Schedule(steps)
            for normalization in ["BatchNorm", "BatchRenorm"]:
                runs.append(train(data, seed, group, normalization, schedule=schedule, **options))
    if "landscape" in experiments:
        every = max(1, steps_for(y_train, 10, epochs, BATCH_SIZE, False) // PROBES_PER_RUN)
        for normalization in ["None", "BatchNorm"]:
            runs.append(train(data, seed, "landscape", normalization, epochs, probe_every=every))
    if "cnn-batch" in experiments:
        for normalization in ["BatchNorm", "GroupNorm"]:
            for batch_size in CNN_BATCH_SIZES:
                lr = CNN_BASE_LR * batch_size / CNN_BASE_BATCH  # the linear scaling rule
                runs.append(train(data, seed, "cnn/batch-size", normalization, epochs, batch_size=batch_size, lr=lr,
                                  blocks=LATE_SMALL, configuration=f"{normalization}, batch {batch_size}"))
        for normalization in ["LayerNorm", "InstanceNorm"]:
            runs.append(train(data, seed, "cnn/batch-size", normalization, epochs, batch_size=CNN_BASE_BATCH, lr=CNN_BASE_LR,
                              blocks=LATE_SMALL, configuration=f"{normalization}, batch {CNN_BASE_BATCH}"))
    if "cnn-renorm" in experiments:
        settings = [("cnn/renorm/non-iid", dict(epochs=CNN_NON_IID_EPOCHS, batch_size=CNN_NON_IID_BATCH, lr=CNN_NON_IID_LR, class_grouped=True)),
                    ("cnn/renorm/batch-4", dict(epochs=epochs, batch_size=CNN_SMALL_BATCH, lr=CNN_SMALL_BATCH_LR))]
        for group, options in settings:
            schedule = Schedule(steps_for(y_train, 10, options["epochs"], options["batch_size"], options.get("class_grouped", False)))
            for normalization in ["BatchNorm", "BatchRenorm"]:
                runs.append(train(data, seed, group, normalization, schedule=schedule, blocks=LATE_SMALL, **options))
    if "cnn-landscape" in experiments:
        every = max(1, steps_for(y_train, 10, epochs, CNN_LANDSCAPE_BATCH, False) // CNN_PROBES_PER_RUN)
        for normalization in ["None", "BatchNorm"]:
            runs.append(train(data, seed, "cnn/landscape", normalization, epochs, batch_size=CNN_LANDSCAPE_BATCH,
                              lr=CNN_LANDSCAPE_LR, probe_every=every, blocks=VGG))
    return runs


def int_list(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"a comma-separated list of integers, got '{text}'")
    if not values or len(set(values)) != len(values) or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"distinct integers from 0, got '{text}'")
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", default=",".join(MLP_EXPERIMENTS),
                        help=f"comma-separated: {','.join(EXPERIMENTS)}; default {','.join(MLP_EXPERIMENTS)} (the MLP's)")
    parser.add_argument("--epochs", type=int, default=5,
                        help="epochs of the normalizers, landscape, cnn-batch and cnn-landscape runs and of cnn-renorm's batch-4 runs; default 5")
    parser.add_argument("--train-count", type=int, help="use the first n training images; default all")
    parser.add_argument("--test-count", type=int, help="use the first n test images; default all")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", help="a Fashion-MNIST folder (the four .gz IDX files); default the embedded subset")
    source.add_argument("--full", action="store_true", help=f"the full data set at {INSTALLED}")
    parser.add_argument("--seeds", type=int_list, default=[1, 2, 3], help="comma-separated seeds; default 1,2,3")
    parser.add_argument("--threads", type=int, default=2, help="torch threads; default 2 (the committed results: 1)")
    parser.add_argument("--output", help="the JSON file to write; default standard output")
    args = parser.parse_args()
    experiments = [e.strip() for e in args.experiments.split(",") if e.strip()]
    if not experiments or any(e not in EXPERIMENTS for e in experiments):
        parser.error(f"--experiments takes a comma-separated list of {', '.join(EXPERIMENTS)}; got '{args.experiments}'")
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")

    torch.set_num_threads(args.threads)
    folder = INSTALLED if args.full else os.path.abspath(args.data) if args.data else SUBSET
    name = "full Fashion-MNIST" if args.full else "Fashion-MNIST" if args.data else "the embedded Fashion-MNIST subset"
    data = (load_split(folder, True, args.train_count), load_split(folder, False, args.test_count))
    print(f"Data: {name} ({folder}), {len(data[0][1])} training and {len(data[1][1])} test images; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads", file=sys.stderr)

    started = time.perf_counter()
    runs = []
    for seed in args.seeds:
        runs.extend(run_seed(data, seed, experiments, args.epochs))
    result = {
        "tool": "samples/BatchNormExperiments/torch_protocol.py",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "data": {"name": name, "train_rows": len(data[0][1]), "test_rows": len(data[1][1])},
        "epochs": args.epochs,
        "seeds": args.seeds,
        "experiments": experiments,
        "seconds": round(time.perf_counter() - started, 1),
        "runs": runs,
    }
    text = json.dumps(result, indent=1)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as f:
            f.write(text + "\n")
        print(f"Wrote {args.output} in {result['seconds']} s", file=sys.stderr)
    else:
        print(text)


if __name__ == "__main__":
    main()
