#!/usr/bin/python3
"""Golden reference vectors for batch / layer / instance / group normalization.

Generates tests/MLNet.Normalization.Tests/Golden/batch_norm.json from PyTorch
(torch.nn.BatchNorm1d/2d, torch.nn.functional.*) and numpy float64:

  running_stats     running_mean / running_var / num_batches_tracked after feeding
                    consecutive mini-batches (last one partial) through a BatchNorm
                    module in train mode (float32), plus a float64 numpy replica.
  exact_stats       per-channel mean, unbiased (ddof=1) and population (ddof=0)
                    variance over all rows x spatial positions (numpy float64).
  eval              BatchNorm2d eval-mode output gamma*(x-rm)/sqrt(rv+eps)+beta.
  forward_backward  batch_norm (training), layer_norm, instance_norm, group_norm
                    forward output and autograd gradients (dx, dgamma, dbeta) for
                    loss = sum(output * output_gradient), computed in float64;
                    output_float32 is the same forward pass in float32.

All data layouts are "NCS": each row is C channels x S spatial positions,
row-major, rows concatenated (N x C x S).  All inputs are float32-representable
values generated from a fixed numpy seed and are stored in the JSON.

Run from the repository root with the Debian interpreter (python3-torch,
python3-numpy):

    /usr/bin/python3 tools/golden/make_batch_norm.py

The output is deterministic: re-running produces a byte-identical file.
"""

import os

import numpy as np
import torch

from golden_common import seeded_rng, write_json
import torch.nn as nn
import torch.nn.functional as F

SEED = 20240612
GENERATOR = "tools/golden/make_batch_norm.py"
OUT_PATH = os.path.join("tests", "MLNet.Normalization.Tests", "Golden", "batch_norm.json")


def flist(a):
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return [float(v) for v in np.asarray(a).reshape(-1)]


def channel_data(rng, n, c, s):
    """float32 data of shape (n, c, s); channel k ~ N(k - 2, (0.5 + 0.3 k)^2)."""
    k = np.arange(c, dtype=np.float64)
    mu = (k - 2.0)[None, :, None]
    sd = (0.5 + 0.3 * k)[None, :, None]
    return (mu + sd * rng.standard_normal((n, c, s))).astype(np.float32)


# ---------------------------------------------------------------- running stats

def running_stats_case(rng, name, n, c, h, w, batch_size, momentum, spatial_dims):
    """spatial_dims: 0 -> BatchNorm1d on (B,C); 1 -> BatchNorm1d on (B,C,S) with S=h*w;
    2 -> BatchNorm2d on (B,C,H,W)."""
    s = h * w
    assert n % batch_size >= 2, "last partial batch must have >= 2 rows"
    x = channel_data(rng, n, c, s)

    if spatial_dims == 0:
        assert s == 1
        module, shape, mod_name = nn.BatchNorm1d(c, momentum=momentum), (n, c), "BatchNorm1d"
    elif spatial_dims == 1:
        module, shape, mod_name = nn.BatchNorm1d(c, momentum=momentum), (n, c, s), "BatchNorm1d"
    else:
        module, shape, mod_name = nn.BatchNorm2d(c, momentum=momentum), (n, c, h, w), "BatchNorm2d"
    module.train()
    xt = torch.from_numpy(x.reshape(shape).copy())
    with torch.no_grad():
        for start in range(0, n, batch_size):
            module(xt[start:start + batch_size])

    # float64 replica of PyTorch's update rule (documents the semantics).
    rm = np.zeros(c, dtype=np.float64)
    rv = np.ones(c, dtype=np.float64)
    t = 0
    x64 = x.astype(np.float64)
    for start in range(0, n, batch_size):
        b = x64[start:start + batch_size]                    # (b, c, s)
        vals = np.transpose(b, (1, 0, 2)).reshape(c, -1)     # (c, b*s)
        t += 1
        f = (1.0 / t) if momentum is None else momentum
        rm = (1 - f) * rm + f * vals.mean(axis=1)
        rv = (1 - f) * rv + f * vals.var(axis=1, ddof=1)
    np.testing.assert_allclose(module.running_mean.numpy(), rm, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(module.running_var.numpy(), rv, rtol=1e-5, atol=1e-6)
    assert int(module.num_batches_tracked) == t

    return {
        "name": name,
        "torch_module": mod_name,
        "torch_input_shape_per_batch": [batch_size] + list(shape[1:]),
        "channels": c,
        "spatial": s,
        "layout": "NCS",
        "rows": n,
        "batch_size": batch_size,
        "momentum": momentum,
        "input": flist(x),
        "running_mean": flist(module.running_mean),
        "running_var": flist(module.running_var),
        "num_batches_tracked": int(module.num_batches_tracked),
        "running_mean_float64": flist(rm),
        "running_var_float64": flist(rv),
    }


def build_running_stats(rng):
    return [
        running_stats_case(rng, "bn1d_2d_c5_momentum0.1", 70, 5, 1, 1, 32, 0.1, 0),
        running_stats_case(rng, "bn1d_3d_c4_s6_momentum0.1", 50, 4, 1, 6, 16, 0.1, 1),
        running_stats_case(rng, "bn2d_4d_c3_h4_w5_momentum0.3", 23, 3, 4, 5, 8, 0.3, 2),
        running_stats_case(rng, "bn1d_2d_c5_cumulative", 70, 5, 1, 1, 32, None, 0),
        running_stats_case(rng, "bn2d_4d_c3_h4_w5_cumulative", 23, 3, 4, 5, 8, None, 2),
    ]


# ---------------------------------------------------------------- exact stats

def exact_stats_case(name, x, description):
    n, c, s = x.shape
    vals = np.transpose(x.astype(np.float64), (1, 0, 2)).reshape(c, -1)
    return {
        "name": name,
        "description": description,
        "channels": c,
        "spatial": s,
        "layout": "NCS",
        "rows": n,
        "input": flist(x),
        "mean": flist(vals.mean(axis=1)),
        "variance": flist(vals.var(axis=1, ddof=1)),
        "variance_population": flist(vals.var(axis=1, ddof=0)),
    }


def build_exact_stats(rng):
    cases = [
        exact_stats_case("exact_2d_c5", channel_data(rng, 70, 5, 1),
                         "2-D data, channel k ~ N(k-2, (0.5+0.3k)^2)"),
        exact_stats_case("exact_4d_c3_s20", channel_data(rng, 23, 3, 20),
                         "4-D data (H=4, W=5 flattened to S=20), channel k ~ N(k-2, (0.5+0.3k)^2)"),
    ]
    # Large offset relative to spread: defeats naive float32 sum-of-squares.
    n = 500
    x = np.empty((n, 2, 1), dtype=np.float64)
    x[:, 0, 0] = 1000.0 + 0.1 * rng.standard_normal(n)
    x[:, 1, 0] = -500.0 + 0.01 * rng.standard_normal(n)
    cases.append(exact_stats_case("exact_2d_large_offset", x.astype(np.float32),
                                  "channel 0 ~ N(1000, 0.1^2), channel 1 ~ N(-500, 0.01^2) "
                                  "(numerically demanding)"))
    return cases


# ---------------------------------------------------------------- eval

def eval_case(rng, name, n, c, h, w, eps):
    s = h * w
    x = channel_data(rng, n, c, s)
    rm = rng.normal(0.0, 1.0, c).astype(np.float32)
    rv = rng.uniform(0.2, 3.0, c).astype(np.float32)
    rv[-1] = np.float32(1e-4)  # a tiny variance so eps matters
    gamma = rng.uniform(0.5, 1.5, c).astype(np.float32)
    beta = rng.normal(0.0, 0.5, c).astype(np.float32)

    bn = nn.BatchNorm2d(c, eps=eps)
    with torch.no_grad():
        bn.running_mean.copy_(torch.from_numpy(rm))
        bn.running_var.copy_(torch.from_numpy(rv))
        bn.weight.copy_(torch.from_numpy(gamma))
        bn.bias.copy_(torch.from_numpy(beta))
    bn.eval()
    with torch.no_grad():
        y = bn(torch.from_numpy(x.reshape(n, c, h, w).copy())).numpy().reshape(n, c, s)

    y64 = (gamma.astype(np.float64)[None, :, None]
           * (x.astype(np.float64) - rm.astype(np.float64)[None, :, None])
           / np.sqrt(rv.astype(np.float64)[None, :, None] + eps)
           + beta.astype(np.float64)[None, :, None])
    np.testing.assert_allclose(y, y64, rtol=1e-4, atol=1e-4)
    return {
        "name": name,
        "channels": c,
        "spatial": s,
        "layout": "NCS",
        "rows": n,
        "running_mean": flist(rm),
        "running_var": flist(rv),
        "gamma": flist(gamma),
        "beta": flist(beta),
        "eps": eps,
        "input": flist(x),
        "output": flist(y),
        "output_float64": flist(y64),
    }


def build_eval(rng):
    return [
        eval_case(rng, "eval_4d_c3_h4_w5_eps1e-5", 4, 3, 4, 5, 1e-5),
        eval_case(rng, "eval_2d_c5_eps1e-3", 10, 5, 1, 1, 1e-3),
        eval_case(rng, "eval_4d_c4_h2_w3_eps1e-3", 3, 4, 2, 3, 1e-3),
    ]


# ---------------------------------------------------------------- forward / backward

def apply_op(op, x, gamma, beta, groups, eps, c, s):
    """x: tensor (N, C, S) ; returns output with the same shape."""
    n = x.shape[0]
    if op == "batch":
        xin = x.reshape(n, c) if s == 1 else x
        y = F.batch_norm(xin, None, None, weight=gamma, bias=beta, training=True, eps=eps)
    elif op == "layer":
        y = F.layer_norm(x, (c, s), weight=gamma.reshape(c, s), bias=beta.reshape(c, s), eps=eps)
    elif op == "instance":
        y = F.instance_norm(x, weight=gamma, bias=beta, use_input_stats=True, eps=eps)
    elif op == "group":
        y = F.group_norm(x, groups, weight=gamma, bias=beta, eps=eps)
    else:
        raise ValueError(op)
    return y.reshape(n, c, s)


def forward_backward_case(rng, name, op, n, c, s, groups, eps=1e-5):
    x = channel_data(rng, n, c, s)
    pshape = c * s if op == "layer" else c
    gamma = rng.uniform(0.5, 1.5, pshape).astype(np.float32)
    beta = rng.normal(0.0, 0.5, pshape).astype(np.float32)
    dy = rng.standard_normal((n, c, s)).astype(np.float32)

    x64 = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    g64 = torch.from_numpy(gamma.astype(np.float64)).requires_grad_(True)
    b64 = torch.from_numpy(beta.astype(np.float64)).requires_grad_(True)
    y64 = apply_op(op, x64, g64, b64, groups, eps, c, s)
    y64.backward(torch.from_numpy(dy.astype(np.float64)))

    with torch.no_grad():
        y32 = apply_op(op, torch.from_numpy(x.copy()), torch.from_numpy(gamma.copy()),
                       torch.from_numpy(beta.copy()), groups, eps, c, s)

    # Independent numpy float64 check of the forward pass.
    xd = x.astype(np.float64)
    if op == "batch":
        axes, view = (0, 2), xd
    elif op == "layer":
        axes, view = (1, 2), xd
    elif op == "instance":
        axes, view = (2,), xd
    else:
        view = xd.reshape(n, groups, (c // groups) * s)
        axes = (2,)
    mu = view.mean(axis=axes, keepdims=True)
    var = view.var(axis=axes, keepdims=True)
    xhat = ((view - mu) / np.sqrt(var + eps)).reshape(n, c, s)
    if op == "layer":
        ref = xhat * gamma.astype(np.float64).reshape(1, c, s) + beta.astype(np.float64).reshape(1, c, s)
    else:
        ref = xhat * gamma.astype(np.float64)[None, :, None] + beta.astype(np.float64)[None, :, None]
    np.testing.assert_allclose(y64.detach().numpy(), ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y32.numpy(), ref, rtol=1e-4, atol=1e-4)

    return {
        "name": name,
        "op": op,
        "rows": n,
        "channels": c,
        "spatial": s,
        "groups": groups,
        "layout": "NCS",
        "eps": eps,
        "input": flist(x),
        "gamma": flist(gamma),
        "beta": flist(beta),
        "output_gradient": flist(dy),
        "output": flist(y64),
        "input_gradient": flist(x64.grad),
        "gamma_gradient": flist(g64.grad),
        "beta_gradient": flist(b64.grad),
        "output_float32": flist(y32),
    }


def build_forward_backward(rng):
    return [
        forward_backward_case(rng, "batch_2d_n6_c4", "batch", 6, 4, 1, None),
        forward_backward_case(rng, "batch_4d_n4_c6_h3_w5", "batch", 4, 6, 15, None),
        forward_backward_case(rng, "layer_2d_n6_c4", "layer", 6, 4, 1, None),
        forward_backward_case(rng, "layer_4d_n4_c6_h3_w5", "layer", 4, 6, 15, None),
        forward_backward_case(rng, "instance_3d_n6_c4_s3", "instance", 6, 4, 3, None),
        forward_backward_case(rng, "instance_4d_n4_c6_h3_w5", "instance", 4, 6, 15, None),
        forward_backward_case(rng, "group_2d_n6_c4_g2", "group", 6, 4, 1, 2),
        forward_backward_case(rng, "group_4d_n4_c6_h3_w5_g3", "group", 4, 6, 15, 3),
    ]


def main():
    rng = seeded_rng(SEED)

    doc = {
        "generator": GENERATOR,
        "versions": {"torch": torch.__version__, "numpy": np.__version__},
        "running_stats": build_running_stats(rng),
        "exact_stats": build_exact_stats(rng),
        "eval": build_eval(rng),
        "forward_backward": build_forward_backward(rng),
    }
    size = write_json(OUT_PATH, doc)
    counts = ", ".join(f"{k}={len(doc[k])}" for k in ("running_stats", "exact_stats", "eval", "forward_backward"))
    print(f"wrote {OUT_PATH}: {counts}, {size} bytes")


if __name__ == "__main__":
    main()
