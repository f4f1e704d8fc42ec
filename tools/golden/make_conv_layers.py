#!/usr/bin/python3
"""Golden reference vectors for the convolution and pooling layers, and a small CNN trained for 3 steps.

Generates tests/MLNet.Normalization.Tests/Golden/conv_layers.json from PyTorch (torch.nn.functional, torch.nn,
torch.optim.SGD), every computation in float64 on float32-representable inputs:

  conv      F.conv2d forward and autograd backward (dx, dweight, dbias) for loss = sum(y * output_gradient):
            kernel 1/3/5, stride 1/2/3, padding 0/1/2, with and without bias, H != W, Cin = 1 and Cin > 1,
            one image and several.
  pool      F.max_pool2d (return_indices=True: the index in its plane of each window's maximum) and F.avg_pool2d
            (defaults: floor mode, count_include_pad=True) forward and backward, and F.adaptive_avg_pool2d(x, 1):
            kernel 2 stride 2, kernel 3 stride 2 padding 1, overlapping windows, odd sizes where floor mode drops
            a row and a column, integer-valued inputs full of ties, and NaN inputs, in rows of fewer and of at
            least 4 outputs (the library's vectorized kernel-2 paths). JSON has no NaN, so a case
            with NaN stores 0 in its place and lists the flat indices in "input_nan" / "output_nan".
  cnn       conv3x3(1->4, pad 1) - BatchNorm2d(4) - ReLU - MaxPool2d(2) - conv3x3(4->6) - GroupNorm(2, 6) - ReLU -
            AvgPool2d(2) - Flatten - Linear(6 -> 3) on 6 images 1 x 10 x 10, CrossEntropyLoss, 3 steps of
            SGD(lr 0.1, momentum 0.9): the initial parameters (PyTorch's default init, seeded, rounded to float32),
            the loss of every step, the gradients of step 1, the final parameters and BatchNorm's running statistics.

Layouts: NCHW flattened row-major; weights in PyTorch's (out, in, kh, kw) order; Linear weight (out, in).

Self-checks (the script fails if one disagrees): F.conv2d against a direct numpy float64 loop, its gradients
against the loop's adjoint; the pools against numpy loops written from PyTorch's CPU kernels (window clipped to the
input; max: first strict maximum in row-major order, a NaN always taking over; avg: divisor k * k counting the
padding); all to 1e-12.

Run from the repository root with the Debian interpreter (python3-torch, python3-numpy):

    /usr/bin/python3 tools/golden/make_conv_layers.py

The output is deterministic: re-running produces a byte-identical file.
"""

import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from golden_common import seeded_rng, write_json

SEED = 20261201
GENERATOR = "tools/golden/make_conv_layers.py"
OUT_PATH = os.path.join("tests", "MLNet.Normalization.Tests", "Golden", "conv_layers.json")
TOLERANCE = 1e-12


def flist(a):
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return [float(v) for v in np.asarray(a, dtype=np.float64).reshape(-1)]


def f32(rng, shape, low=-1.0, high=1.0):
    """Uniform float32 values, returned as float64 (exactly representable in float32)."""
    return rng.uniform(low, high, size=shape).astype(np.float32).astype(np.float64)


# ---------------------------------------------------------------- convolution

def conv_reference(x, w, b, stride, padding):
    """Direct float64 cross-correlation with zero padding, the definition F.conv2d documents."""
    n, cin, h, wd = x.shape
    cout, _, k, _ = w.shape
    xp = np.zeros((n, cin, h + 2 * padding, wd + 2 * padding))
    xp[:, :, padding:padding + h, padding:padding + wd] = x
    ho = (h + 2 * padding - k) // stride + 1
    wo = (wd + 2 * padding - k) // stride + 1
    y = np.zeros((n, cout, ho, wo))
    for oh in range(ho):
        for ow in range(wo):
            patch = xp[:, :, oh * stride:oh * stride + k, ow * stride:ow * stride + k]  # (n, cin, k, k)
            y[:, :, oh, ow] = np.einsum("nckl,ockl->no", patch, w)
    if b is not None:
        y += b[None, :, None, None]
    return y


def conv_reference_backward(x, w, dy, stride, padding):
    """The adjoint of conv_reference: dx, dw, db of sum(y * dy)."""
    n, cin, h, wd = x.shape
    cout, _, k, _ = w.shape
    xp = np.zeros((n, cin, h + 2 * padding, wd + 2 * padding))
    xp[:, :, padding:padding + h, padding:padding + wd] = x
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    _, _, ho, wo = dy.shape
    for oh in range(ho):
        for ow in range(wo):
            rows, cols = slice(oh * stride, oh * stride + k), slice(ow * stride, ow * stride + k)
            g = dy[:, :, oh, ow]  # (n, cout)
            dw += np.einsum("no,nckl->ockl", g, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("no,ockl->nckl", g, w)
    return dxp[:, :, padding:padding + h, padding:padding + wd], dw, dy.sum(axis=(0, 2, 3))


def conv_case(rng, name, n, cin, h, w, cout, k, stride, padding, bias):
    x = f32(rng, (n, cin, h, w), -2, 2)
    bound = 1 / math.sqrt(cin * k * k)
    weight = f32(rng, (cout, cin, k, k), -bound, bound)
    b = f32(rng, (cout,), -bound, bound) if bias else None
    ho = (h + 2 * padding - k) // stride + 1
    wo = (w + 2 * padding - k) // stride + 1
    dy = f32(rng, (n, cout, ho, wo))

    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(weight, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True) if bias else None
    y = F.conv2d(xt, wt, bt, stride=stride, padding=padding)
    (y * torch.tensor(dy)).sum().backward()

    np.testing.assert_allclose(y.detach().numpy(), conv_reference(x, weight, b, stride, padding), rtol=0, atol=TOLERANCE)
    dx_ref, dw_ref, db_ref = conv_reference_backward(x, weight, dy, stride, padding)
    np.testing.assert_allclose(xt.grad.numpy(), dx_ref, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(wt.grad.numpy(), dw_ref, rtol=0, atol=TOLERANCE)
    if bias:
        np.testing.assert_allclose(bt.grad.numpy(), db_ref, rtol=0, atol=TOLERANCE)

    return {
        "name": name,
        "rows": n,
        "input_shape": [cin, h, w],
        "out_channels": cout,
        "kernel_size": k,
        "stride": stride,
        "padding": padding,
        "bias": bias,
        "output_shape": list(y.shape[1:]),
        "input": flist(x),
        "weight": flist(weight),
        "bias_values": flist(b) if bias else [],
        "output_gradient": flist(dy),
        "output": flist(y),
        "input_gradient": flist(xt.grad),
        "weight_gradient": flist(wt.grad),
        "bias_gradient": flist(bt.grad) if bias else [],
    }


def build_conv(rng):
    return [
        conv_case(rng, "k3_s1_p1_cin1", 2, 1, 6, 5, 3, 3, 1, 1, True),
        conv_case(rng, "k3_s2_p0_cin3_nobias", 2, 3, 7, 6, 4, 3, 2, 0, False),
        conv_case(rng, "k5_s1_p2", 2, 2, 5, 7, 3, 5, 1, 2, True),
        conv_case(rng, "k1_s1_p0", 3, 4, 3, 4, 2, 1, 1, 0, True),
        conv_case(rng, "k3_s2_p1_odd", 2, 2, 9, 8, 3, 3, 2, 1, True),
        conv_case(rng, "k1_s2_p1_one_image", 1, 2, 4, 3, 2, 1, 2, 1, True),
        conv_case(rng, "k5_s2_p2_cin1_nobias", 3, 1, 8, 6, 2, 5, 2, 2, False),
        conv_case(rng, "k3_s3_p0_floor", 2, 2, 10, 8, 2, 3, 3, 0, True),
        conv_case(rng, "k3_s1_p0_whole_input", 2, 3, 3, 3, 5, 3, 1, 0, True),
    ]


# ---------------------------------------------------------------- pooling

def window_bounds(o, stride, padding, k, length):
    start = o * stride - padding
    return max(start, 0), min(start + k, length)


def max_pool_reference(x, k, stride, padding):
    """PyTorch's CPU max_pool2d loop: index of the first strict maximum, a NaN always replacing the maximum."""
    n, c, h, w = x.shape
    ho = (h + 2 * padding - k) // stride + 1
    wo = (w + 2 * padding - k) // stride + 1
    y = np.zeros((n, c, ho, wo))
    idx = np.zeros((n, c, ho, wo), dtype=np.int64)
    for a in range(n):
        for ch in range(c):
            for oh in range(ho):
                r0, r1 = window_bounds(oh, stride, padding, k, h)
                for ow in range(wo):
                    c0, c1 = window_bounds(ow, stride, padding, k, w)
                    best, best_index = -math.inf, r0 * w + c0
                    for r in range(r0, r1):
                        for col in range(c0, c1):
                            v = x[a, ch, r, col]
                            if v > best or math.isnan(v):
                                best, best_index = v, r * w + col
                    y[a, ch, oh, ow], idx[a, ch, oh, ow] = best, best_index
    return y, idx


def avg_pool_reference(x, k, stride, padding):
    """avg_pool2d with count_include_pad=True in floor mode: window sum / (k * k)."""
    n, c, h, w = x.shape
    ho = (h + 2 * padding - k) // stride + 1
    wo = (w + 2 * padding - k) // stride + 1
    y = np.zeros((n, c, ho, wo))
    for oh in range(ho):
        r0, r1 = window_bounds(oh, stride, padding, k, h)
        for ow in range(wo):
            c0, c1 = window_bounds(ow, stride, padding, k, w)
            y[:, :, oh, ow] = x[:, :, r0:r1, c0:c1].sum(axis=(2, 3)) / (k * k)
    return y


def without_nan(values):
    """(values with NaN replaced by 0, flat indices of the NaNs)."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    nan = np.flatnonzero(np.isnan(flat))
    return [0.0 if math.isnan(v) else float(v) for v in flat], [int(i) for i in nan]


def pool_case(rng, name, op, n, c, h, w, k=None, stride=None, padding=0, values="uniform", nan_count=0):
    if values == "ties":
        x = rng.integers(0, 3, size=(n, c, h, w)).astype(np.float64)
    else:
        x = f32(rng, (n, c, h, w), -2, 2)
    if nan_count:
        flat = x.reshape(-1)
        flat[rng.choice(flat.size, size=nan_count, replace=False)] = np.nan

    xt = torch.tensor(x, requires_grad=True)
    indices = None
    if op == "max":
        y, indices = F.max_pool2d(xt, k, stride, padding, return_indices=True)
        ref, ref_indices = max_pool_reference(x, k, stride or k, padding)
        np.testing.assert_array_equal(indices.numpy(), ref_indices)
    elif op == "avg":
        y = F.avg_pool2d(xt, k, stride, padding)
        ref = avg_pool_reference(x, k, stride or k, padding)
    else:
        y = F.adaptive_avg_pool2d(xt, 1)
        ref = x.mean(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=0, atol=TOLERANCE)
    dy = f32(rng, tuple(y.shape))
    (y * torch.tensor(dy)).sum().backward()

    if op == "max":
        # The adjoint of the recorded choice: every output's gradient added at its index.
        dx_ref = np.zeros((n * c, h * w))
        for plane in range(n * c):
            np.add.at(dx_ref[plane], ref_indices.reshape(n * c, -1)[plane], dy.reshape(n * c, -1)[plane])
        np.testing.assert_allclose(xt.grad.numpy().reshape(n * c, -1), dx_ref, rtol=0, atol=TOLERANCE)

    x_values, x_nan = without_nan(x)
    y_values, y_nan = without_nan(y.detach().numpy())
    case = {
        "name": name,
        "op": op,
        "rows": n,
        "input_shape": [c, h, w],
        "kernel_size": k,
        "stride": stride,
        "padding": padding,
        "output_shape": list(y.shape[1:]),
        "input": x_values,
        "input_nan": x_nan,
        "output": y_values,
        "output_nan": y_nan,
        "output_gradient": flist(dy),
        "input_gradient": flist(xt.grad),
    }
    if indices is not None:
        case["indices"] = [int(i) for i in indices.reshape(-1)]
    return case


def build_pool(rng):
    return [
        pool_case(rng, "max_k2_s2", "max", 2, 3, 6, 6, 2),
        pool_case(rng, "max_k2_s2_odd_floor", "max", 2, 2, 7, 5, 2),
        pool_case(rng, "max_k3_s2_p1", "max", 2, 2, 7, 6, 3, 2, 1),
        pool_case(rng, "max_k3_s1_p1_overlapping", "max", 1, 2, 5, 6, 3, 1, 1),
        pool_case(rng, "max_k2_s2_ties", "max", 2, 2, 6, 6, 2, values="ties"),
        pool_case(rng, "max_k3_s1_p1_ties_overlapping", "max", 2, 2, 5, 4, 3, 1, 1, values="ties"),
        pool_case(rng, "max_k2_s1_nan", "max", 1, 2, 5, 5, 2, 1, 0, nan_count=4),
        # Rows of at least 4 outputs: the vectorized kernel-2 stride-2 path, its last vector overlapping.
        pool_case(rng, "max_k2_s2_wide", "max", 2, 3, 6, 20, 2),
        pool_case(rng, "max_k2_s2_wide_ties", "max", 2, 2, 8, 14, 2, values="ties"),
        pool_case(rng, "max_k2_s2_wide_nan", "max", 1, 2, 6, 12, 2, nan_count=8),
        pool_case(rng, "max_k2_s2_wide_odd_floor", "max", 1, 2, 7, 17, 2),
        pool_case(rng, "avg_k2_s2", "avg", 2, 3, 6, 6, 2),
        pool_case(rng, "avg_k2_s2_odd_floor", "avg", 2, 2, 7, 5, 2),
        pool_case(rng, "avg_k3_s2_p1", "avg", 2, 2, 7, 6, 3, 2, 1),
        pool_case(rng, "avg_k3_s1_p1_overlapping", "avg", 1, 2, 5, 6, 3, 1, 1),
        pool_case(rng, "avg_k2_s2_wide", "avg", 2, 3, 6, 20, 2),
        pool_case(rng, "avg_k2_s2_wide_odd_floor", "avg", 1, 2, 7, 17, 2),
        pool_case(rng, "global_avg", "global_avg", 2, 3, 5, 4),
    ]


# ---------------------------------------------------------------- small CNN

def build_cnn(rng):
    n, classes, steps, lr, momentum = 6, 3, 3, 0.1, 0.9
    torch.manual_seed(SEED)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),       # 0: 1x10x10 -> 4x10x10
        nn.BatchNorm2d(4),                   # 1
        nn.ReLU(),                           # 2
        nn.MaxPool2d(2),                     # 3: -> 4x5x5
        nn.Conv2d(4, 6, 3),                  # 4: -> 6x3x3
        nn.GroupNorm(2, 6),                  # 5
        nn.ReLU(),                           # 6
        nn.AvgPool2d(2),                     # 7: -> 6x1x1 (floor mode drops the last row and column)
        nn.Flatten(),                        # 8
        nn.Linear(6, classes),               # 9
    )
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.float())                 # float32 values, the C# layers' storage
    model = model.double().train()
    names = [name for name, _ in model.named_parameters()]
    initial = [{"name": name, "shape": list(p.shape), "values": flist(p)} for name, p in model.named_parameters()]

    x = torch.tensor(f32(rng, (n, 1, 10, 10), -1, 1))
    labels = torch.tensor(rng.integers(0, classes, size=n))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    losses, first_gradients = [], None
    for step in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        losses.append(float(loss))
        if step == 0:
            first_gradients = [{"name": name, "values": flist(p.grad)} for name, p in model.named_parameters()]
        optimizer.step()

    bn = model[1]
    return {
        "layers": "conv3x3(1->4, pad 1) - BatchNorm2d(4) - ReLU - MaxPool2d(2) - conv3x3(4->6) - GroupNorm(2, 6) - ReLU - AvgPool2d(2) - Flatten - Linear(6 -> 3)",
        "rows": n,
        "input_shape": [1, 10, 10],
        "classes": classes,
        "learning_rate": lr,
        "momentum": momentum,
        "steps": steps,
        "input": flist(x),
        "labels": [int(v) for v in labels],
        "parameter_names": names,
        "initial_parameters": initial,
        "losses": losses,
        "step1_gradients": first_gradients,
        "final_parameters": [{"name": name, "values": flist(p)} for name, p in model.named_parameters()],
        "batch_norm_running_mean": flist(bn.running_mean),
        "batch_norm_running_var": flist(bn.running_var),
    }


def main():
    rng = seeded_rng(SEED)
    torch.set_default_dtype(torch.float64)
    doc = {
        "generator": GENERATOR,
        "versions": {"torch": torch.__version__, "numpy": np.__version__},
        "conv": build_conv(rng),
        "pool": build_pool(rng),
        "cnn": build_cnn(rng),
    }
    size = write_json(OUT_PATH, doc)
    print(f"wrote {OUT_PATH}: conv={len(doc['conv'])}, pool={len(doc['pool'])}, cnn=1, {size} bytes")


if __name__ == "__main__":
    main()
