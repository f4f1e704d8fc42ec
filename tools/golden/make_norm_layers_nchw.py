#!/usr/bin/python3
"""Golden reference vectors for the training normalization layers on (N, C, H, W) feature maps.

Generates tests/MLNet.Normalization.Tests/Golden/norm_layers_nchw.json.  Every case is an
(N, C, H, W) batch; the library's layers see it as (N, C, S) with S = H*W, flattened row-major
(the same memory order).  Everything is computed in float64 by PyTorch modules or by the
formulas written in torch, and the gradients are autograd of loss = sum(y * output_gradient)
for a given output_gradient.  Inputs, gamma, beta, output_gradient and the initial moving
statistics are float32-representable.

  batch_norm       nn.BatchNorm2d(C) (momentum 0.1, eps 1e-5), train mode: two consecutive
                   batches, each with its forward, dx, dgamma, dbeta (gradients of that step
                   alone), running_mean / running_var after each step (the running variance
                   averages the unbiased batch variance), then eval output on a third batch.
  batch_renorm     Ioffe 2017, Algorithm 1, written in torch with r and d detached: per channel
                   over the N*H*W values, sigma_B = sqrt(biased var + eps),
                   r = clip(sigma_B / sigma, 1/rmax, rmax), d = clip((mu_B - mu) / sigma, -dmax, dmax),
                   y = gamma * ((x - mu_B) / sigma_B * r + d) + beta; after the step
                   mu += alpha (mu_B - mu), sigma += alpha (sigma_B - sigma) (the layer keeps the
                   moving std sigma, not the variance).  Two steps from mu = 0, sigma = 1 (the
                   layer's initial state), then inference y = gamma (x - mu) / sigma + beta.
  lp_batch_norm    l1 / l2 / l-infinity batch norm (Santurkar et al. 2018, as LpBatchNormLayer
                   documents it): c = x - mu_B, s_B = mean|c|, sqrt(mean c^2) or max|c| per channel,
                   y = gamma * c / (s_B + eps) + beta; running mean and running s with momentum 0.1
                   (running = 0.9 running + 0.1 batch, no unbiasing); inference
                   y = gamma (x - running mean) / (running s + eps) + beta.  Two steps, then eval.
  per_sample       nn.GroupNorm(G, C) for G = 1, 2, C; nn.InstanceNorm2d(C, affine=True)
                   (track_running_stats False, its default); nn.LayerNorm([C, H, W]) (elementwise
                   gamma and beta of C*H*W values): forward, dx, dgamma, dbeta, and the eval-mode
                   output (the same: statistics of the sample alone).
  instance_norm_refusals
                   InstanceNorm2d on 1x1 maps: PyTorch's error, in train and in eval mode.

Self-checks (the script stops on any disagreement):
  * BatchNorm2d against a numpy float64 replica (forward, running statistics, eval) and its
    gradients against F.batch_norm's;
  * batch renorm against a numpy replica (forward, r, d, moving statistics, inference) and
    F.batch_norm with weight gamma*r and bias beta + gamma*d (output and dx); every raw
    r and d at least 0.1 % (relative) away from a clipping bound, so float32 arithmetic makes
    the same clipping decisions, and each case clips as it says;
  * l2 batch norm against F.batch_norm with eps 0 (same formula when the l2 eps is 0), l1 and
    l-infinity forward against numpy; l1: no |x - mu_B| within 1e-6 of 0 (the layer takes the
    statistics in double, so its signs are torch's); l-infinity: the largest |x - mu_B| of each
    channel at least 1e-6 (relative) above the next one (a unique arg-max), unless the channel
    has 2 values (an exact tie, whose derivative does not depend on which value is picked);
  * InstanceNorm2d == F.instance_norm == F.group_norm(C) (dx, dgamma), LayerNorm([C, H, W]) ==
    F.group_norm(1) with the elementwise affine after it, every per-sample forward against numpy
    and its eval output equal to its train output.

Run from the repository root with the Debian interpreter (python3-torch, python3-numpy):

    /usr/bin/python3 tools/golden/make_norm_layers_nchw.py

The output is deterministic: running it again gives a byte-identical file.
"""

import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from golden_common import seeded_rng, write_json

SEED = 20261201
GENERATOR = "tools/golden/make_norm_layers_nchw.py"
OUT_PATH = os.path.join("tests", "MLNet.Normalization.Tests", "Golden", "norm_layers_nchw.json")
EPS = 1e-5
TOL = 1e-12
CLIP_MARGIN = 1e-3
torch.set_default_dtype(torch.float64)


def flist(a):
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return [float(v) for v in np.asarray(a, dtype=np.float64).reshape(-1)]


def close(a, b, what, tol=TOL):
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a, dtype=np.float64)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b, dtype=np.float64)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=what)


def t64(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64).copy())


def maps(rng, shape, means, sds):
    """float32 (N, C, H, W); channel k ~ N(means[k], sds[k]^2)."""
    n, c, h, w = shape
    mu = np.asarray(means, dtype=np.float64)[None, :, None, None]
    sd = np.asarray(sds, dtype=np.float64)[None, :, None, None]
    return (mu + sd * rng.standard_normal((n, c, h, w))).astype(np.float32)


def default_moments(c):
    """Channel k ~ N(k/2 - 1, (0.5 + 0.25 k)^2): moderate means, different scales."""
    return [0.5 * k - 1.0 for k in range(c)], [0.5 + 0.25 * k for k in range(c)]


def affine(rng, length):
    gamma = rng.uniform(0.5, 1.5, length).astype(np.float32)
    beta = rng.normal(0.0, 0.5, length).astype(np.float32)
    return gamma, beta


def gradient(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


def channel_values(x):
    """(N, C, H, W) float64 numpy -> (C, N*H*W)."""
    return np.transpose(x, (1, 0, 2, 3)).reshape(x.shape[1], -1)


def per_channel(v):
    return v[None, :, None, None]


def shape_fields(name, shape):
    n, c, h, w = shape
    return {"name": name, "shape": list(shape), "rows": n, "channels": c, "spatial": h * w, "layout": "NCHW"}


def step_gradients(fn, x, gamma, beta, dy):
    """Runs fn(x, gamma, beta) -> y in float64 with autograd; returns y, dx, dgamma, dbeta, extras."""
    xt = t64(x).requires_grad_(True)
    gt = t64(gamma).requires_grad_(True)
    bt = t64(beta).requires_grad_(True)
    y, extras = fn(xt, gt, bt)
    y.backward(t64(dy))
    return y.detach(), xt.grad, gt.grad, bt.grad, extras


# ---------------------------------------------------------------- BatchNorm2d

def batch_norm_case(rng, name, shape, means=None, sds=None):
    n, c, h, w = shape
    if means is None:
        means, sds = default_moments(c)
    gamma, beta = affine(rng, c)
    bn = nn.BatchNorm2d(c, eps=EPS, momentum=0.1)
    with torch.no_grad():
        bn.weight.copy_(t64(gamma))
        bn.bias.copy_(t64(beta))
    bn.train()

    rm, rv = np.zeros(c), np.ones(c)
    steps = []
    for k in range(2):
        x = maps(rng, shape, means, sds)
        dy = gradient(rng, shape)
        bn.zero_grad()
        xt = t64(x).requires_grad_(True)
        y = bn(xt)
        y.backward(t64(dy))

        # numpy replica of the forward and the running-statistics update
        vals = channel_values(x.astype(np.float64))
        mu, var = vals.mean(axis=1), vals.var(axis=1)
        ref = (per_channel(gamma.astype(np.float64)) * (x - per_channel(mu)) / np.sqrt(per_channel(var) + EPS)
               + per_channel(beta.astype(np.float64)))
        close(y, ref, f"{name} step {k}: output vs numpy")
        rm = 0.9 * rm + 0.1 * mu
        rv = 0.9 * rv + 0.1 * vals.var(axis=1, ddof=1)
        close(bn.running_mean, rm, f"{name} step {k}: running_mean vs numpy")
        close(bn.running_var, rv, f"{name} step {k}: running_var vs numpy")
        # gradients against the functional form
        _, dx_f, dg_f, db_f, _ = step_gradients(
            lambda a, g, b: (F.batch_norm(a, None, None, g, b, training=True, eps=EPS), None), x, gamma, beta, dy)
        close(xt.grad, dx_f, f"{name} step {k}: dx vs F.batch_norm")
        close(bn.weight.grad, dg_f, f"{name} step {k}: dgamma vs F.batch_norm")
        close(bn.bias.grad, db_f, f"{name} step {k}: dbeta vs F.batch_norm")
        steps.append({
            "input": flist(x),
            "output_gradient": flist(dy),
            "output": flist(y),
            "input_gradient": flist(xt.grad),
            "gamma_gradient": flist(bn.weight.grad),
            "beta_gradient": flist(bn.bias.grad),
            "running_mean_after": flist(bn.running_mean),
            "running_var_after": flist(bn.running_var),
        })
    assert int(bn.num_batches_tracked) == 2

    x_eval = maps(rng, shape, means, sds)
    bn.eval()
    with torch.no_grad():
        y_eval = bn(t64(x_eval))
    ref = (per_channel(gamma.astype(np.float64)) * (x_eval - per_channel(rm)) / np.sqrt(per_channel(rv) + EPS)
           + per_channel(beta.astype(np.float64)))
    close(y_eval, ref, f"{name}: eval output vs numpy")
    return {
        **shape_fields(name, shape),
        "torch_module": f"BatchNorm2d({c}, eps={EPS}, momentum=0.1)",
        "eps": EPS,
        "momentum": 0.1,
        "gamma": flist(gamma),
        "beta": flist(beta),
        "steps": steps,
        "eval_input": flist(x_eval),
        "eval_output": flist(y_eval),
    }


def build_batch_norm(rng):
    return [
        batch_norm_case(rng, "bn_n4_c6_h5_w7", (4, 6, 5, 7)),
        batch_norm_case(rng, "bn_n2_c8_h3_w3", (2, 8, 3, 3)),
        batch_norm_case(rng, "bn_n2_c6_h1_w1", (2, 6, 1, 1)),
        batch_norm_case(rng, "bn_n1_c4_h3_w3", (1, 4, 3, 3)),
    ]


# ---------------------------------------------------------------- Batch Renormalization

def renorm_train(x, gamma, beta, mu, sigma, rmax, dmax, alpha):
    """Ioffe 2017, Algorithm 1 on (N, C, H, W) in torch; returns y, r, d, mu_after, sigma_after."""
    axes = (0, 2, 3)
    mu_b = x.mean(dim=axes)
    sigma_b = torch.sqrt(((x - mu_b[None, :, None, None]) ** 2).mean(dim=axes) + EPS)
    r = torch.clamp(sigma_b / sigma, 1.0 / rmax, rmax).detach()
    d = torch.clamp((mu_b - mu) / sigma, -dmax, dmax).detach()
    xhat = (x - mu_b[None, :, None, None]) / sigma_b[None, :, None, None] * r[None, :, None, None] + d[None, :, None, None]
    y = gamma[None, :, None, None] * xhat + beta[None, :, None, None]
    mu_after = (mu + alpha * (mu_b - mu)).detach()
    sigma_after = (sigma + alpha * (sigma_b - sigma)).detach()
    return y, (r, d, mu_after, sigma_after)


def renorm_numpy(x, gamma, beta, mu, sigma, rmax, dmax, alpha):
    vals = channel_values(x)
    mu_b = vals.mean(axis=1)
    sigma_b = np.sqrt(vals.var(axis=1) + EPS)
    r_raw, d_raw = sigma_b / sigma, (mu_b - mu) / sigma
    r = np.clip(r_raw, 1.0 / rmax, rmax)
    d = np.clip(d_raw, -dmax, dmax)
    y = per_channel(gamma) * ((x - per_channel(mu_b)) / per_channel(sigma_b) * per_channel(r) + per_channel(d)) + per_channel(beta)
    return {"y": y, "r": r, "d": d, "r_raw": r_raw, "d_raw": d_raw,
            "mu_after": mu + alpha * (mu_b - mu), "sigma_after": sigma + alpha * (sigma_b - sigma)}


class Redraw(Exception):
    """The draw does not show what the case is for, or lies too close to a clipping bound: draw again."""


def redrawn(build, what, attempts=100):
    """build() until it does not raise Redraw (deterministic: the same draws every run)."""
    for _ in range(attempts):
        try:
            return build()
        except Redraw:
            continue
    raise AssertionError(f"{what}: no draw in {attempts} shows the case")


def clip_kinds(fw, rmax, dmax, what):
    """Per channel (r clip: 'high' / 'low' / None, d clip: True / False); Redraw when a raw value is within
    CLIP_MARGIN (relative) of a bound."""
    kinds = []
    for k, (rr, dd) in enumerate(zip(fw["r_raw"], fw["d_raw"])):
        if rmax > 1:
            for bound in (rmax, 1.0 / rmax):
                if not abs(rr - bound) > CLIP_MARGIN * bound:
                    raise Redraw(f"{what}: channel {k} raw r {rr} near {bound}")
        if dmax > 0:
            if not abs(abs(dd) - dmax) > CLIP_MARGIN * dmax:
                raise Redraw(f"{what}: channel {k} raw d {dd} near {dmax}")
        kinds.append(("high" if rr > rmax else "low" if rr < 1.0 / rmax else None, bool(abs(dd) > dmax)))
    return kinds


def batch_renorm_case(rng, name, shape, means, sds, rmax, dmax, alpha, schedule, expect):
    """expect(kinds_per_step) raises Redraw unless the steps clip as the case is meant to show."""
    return redrawn(lambda: batch_renorm_draw(rng, name, shape, means, sds, rmax, dmax, alpha, schedule, expect), name)


def batch_renorm_draw(rng, name, shape, means, sds, rmax, dmax, alpha, schedule, expect):
    n, c, h, w = shape
    gamma, beta = affine(rng, c)
    mu, sigma = np.zeros(c), np.ones(c)
    steps, all_kinds = [], []
    for k in range(2):
        x = maps(rng, shape, means, sds)
        dy = gradient(rng, shape)
        y, dx, dg, db, (r, d, mu_after, sigma_after) = step_gradients(
            lambda a, g, b: renorm_train(a, g, b, t64(mu), t64(sigma), rmax, dmax, alpha), x, gamma, beta, dy)
        what = f"{name} step {k}"
        fw = renorm_numpy(x.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64), mu, sigma, rmax, dmax, alpha)
        for key, value in (("y", y), ("r", r), ("d", d), ("mu_after", mu_after), ("sigma_after", sigma_after)):
            close(value, fw[key], f"{what}: {key} vs numpy")
        # with r and d constant, batch renorm is batch norm with weight gamma r and bias beta + gamma d
        y_bn, dx_bn, _, _, _ = step_gradients(
            lambda a, g, b: (F.batch_norm(a, None, None, g * r, b + g * d, training=True, eps=EPS), None), x, gamma, beta, dy)
        close(y, y_bn, f"{what}: output vs F.batch_norm(gamma r, beta + gamma d)")
        close(dx, dx_bn, f"{what}: dx vs F.batch_norm(gamma r, beta + gamma d)")
        all_kinds.append(clip_kinds(fw, rmax, dmax, what))
        steps.append({
            "input": flist(x),
            "output_gradient": flist(dy),
            "output": flist(y),
            "input_gradient": flist(dx),
            "gamma_gradient": flist(dg),
            "beta_gradient": flist(db),
            "r": flist(r),
            "d": flist(d),
            "moving_mean_after": flist(mu_after),
            "moving_std_after": flist(sigma_after),
        })
        mu, sigma = fw["mu_after"], fw["sigma_after"]
    expect(all_kinds)
    print(f"  {name}: clipping {all_kinds}")

    x_eval = maps(rng, shape, means, sds)
    y_eval = per_channel(gamma.astype(np.float64)) * (x_eval - per_channel(mu)) / per_channel(sigma) + per_channel(beta.astype(np.float64))
    return {
        **shape_fields(name, shape),
        "eps": EPS,
        "alpha": alpha,
        "rmax": rmax,
        "dmax": dmax,
        "schedule": schedule,
        "moving_mean_initial": flist(np.zeros(c)),
        "moving_std_initial": flist(np.ones(c)),
        "gamma": flist(gamma),
        "beta": flist(beta),
        "steps": steps,
        "eval_input": flist(x_eval),
        "eval_output": flist(y_eval),
    }


def build_batch_renorm(rng):
    def every_kind(kinds_per_step):
        flat = [kd for kinds in kinds_per_step for kd in kinds]
        if not (any(rk == "high" for rk, _ in flat) and any(rk == "low" for rk, _ in flat)
                and any(dk for _, dk in flat) and any(rk is None and not dk for rk, dk in flat)):
            raise Redraw("not every clipping: r high, r low, d, none")

    def plain(kinds_per_step):
        pass  # rmax 1, dmax 0: r = 1 and d = 0 whatever the statistics

    return [
        # Every case starts from mu = 0, sigma = 1 and shows r clipped high and low, d clipped and a channel
        # that clips nothing, over its two steps. Here std 2.4 and 1.8 clip r high, 0.35 low, means 1.2 and
        # -0.9 clip d, channel 4 clips nothing.
        batch_renorm_case(rng, "renorm_n4_c6_h5_w7_clip", (4, 6, 5, 7),
                          means=[0.1, -0.2, 1.2, -0.9, 0.2, 0.0], sds=[2.4, 0.35, 1.1, 0.8, 1.0, 1.8],
                          rmax=1.5, dmax=0.5, alpha=0.01, schedule="constant", expect=every_kind),
        # alpha 0.3: the second step starts from moving statistics the first one moved.
        batch_renorm_case(rng, "renorm_n2_c8_h3_w3_clip_alpha0.3", (2, 8, 3, 3),
                          means=[0.0, 6.5, -0.5, 1.0, -7.0, 0.3, 2.0, -1.5], sds=[4.5, 1.0, 0.2, 1.5, 0.5, 0.9, 2.0, 0.25],
                          rmax=3.0, dmax=5.0, alpha=0.3, schedule="constant", expect=every_kind),
        # Two values per channel: sigma_B = |x1 - x2| / 2.
        batch_renorm_case(rng, "renorm_n2_c6_h1_w1_clip", (2, 6, 1, 1),
                          means=[0.0, 2.0, 0.0, -1.0, 0.0, 0.5], sds=[6.0, 1.0, 0.1, 1.0, 1.0, 3.0],
                          rmax=2.0, dmax=1.0, alpha=0.01, schedule="constant", expect=every_kind),
        # The layer's defaults: the paper's schedule is plain batch norm (rmax 1, dmax 0) for its first
        # 5000 steps, alpha 0.01.
        batch_renorm_case(rng, "renorm_n2_c8_h3_w3_default", (2, 8, 3, 3),
                          means=default_moments(8)[0], sds=default_moments(8)[1],
                          rmax=1.0, dmax=0.0, alpha=0.01, schedule="default", expect=plain),
    ]


# ---------------------------------------------------------------- lp batch norm

NORMS = {"L1": 1, "L2": 2, "LInf": 3}


def lp_scale(c, norm):
    axes = (0, 2, 3)
    if norm == "L1":
        return c.abs().mean(dim=axes)
    if norm == "L2":
        return torch.sqrt((c * c).mean(dim=axes))
    return c.abs().amax(dim=axes)


def lp_train(x, gamma, beta, norm):
    mu_b = x.mean(dim=(0, 2, 3))
    c = x - mu_b[None, :, None, None]
    s = lp_scale(c, norm)
    y = gamma[None, :, None, None] * c / (s[None, :, None, None] + EPS) + beta[None, :, None, None]
    return y, (mu_b.detach(), s.detach())


def lp_numpy(x, norm):
    vals = channel_values(x)
    mu = vals.mean(axis=1)
    dev = np.abs(vals - mu[:, None])
    if norm == "L1":
        s = dev.mean(axis=1)
    elif norm == "L2":
        s = np.sqrt((dev * dev).mean(axis=1))
    else:
        s = dev.max(axis=1)
    return mu, s, dev


def check_lp_margins(dev, norm, what):
    if norm == "L1":
        assert dev.min() > 1e-6, f"{what}: |x - mu_B| = {dev.min()} too close to 0"
    if norm == "LInf" and dev.shape[1] > 2:
        top = -np.sort(-dev, axis=1)
        assert np.all(top[:, 0] - top[:, 1] > 1e-6 * top[:, 0]), f"{what}: near tie of the largest |x - mu_B|"


def lp_case(rng, name, shape, norm):
    n, c, h, w = shape
    means, sds = default_moments(c)
    gamma, beta = affine(rng, c)
    rm, rs = np.zeros(c), np.ones(c)
    steps = []
    for k in range(2):
        what = f"{name} step {k}"
        # redraw until the sign / arg-max margins hold (deterministic: the same draws every run)
        for attempt in range(100):
            x = maps(rng, shape, means, sds)
            mu, s, dev = lp_numpy(x.astype(np.float64), norm)
            try:
                check_lp_margins(dev, norm, what)
                break
            except AssertionError:
                continue
        else:
            raise AssertionError(f"{what}: no draw with the margins")
        dy = gradient(rng, shape)
        y, dx, dg, db, (mu_t, s_t) = step_gradients(lambda a, g, b: lp_train(a, g, b, norm), x, gamma, beta, dy)
        close(mu_t, mu, f"{what}: mean vs numpy")
        close(s_t, s, f"{what}: scale vs numpy")
        ref = per_channel(gamma.astype(np.float64)) * (x - per_channel(mu)) / per_channel(s + EPS) + per_channel(beta.astype(np.float64))
        close(y, ref, f"{what}: output vs numpy")
        if norm == "L2":
            # l2 with its eps outside the root equals batch norm's formula when both eps are 0
            y0, dx0, _, _, _ = step_gradients(lambda a, g, b: (lp_scale_free_l2(a, g, b), None), x, gamma, beta, dy)
            yb, dxb, _, _, _ = step_gradients(
                lambda a, g, b: (F.batch_norm(a, None, None, g, b, training=True, eps=0.0), None), x, gamma, beta, dy)
            close(y0, yb, f"{what}: l2 (eps 0) vs F.batch_norm (eps 0)")
            close(dx0, dxb, f"{what}: l2 dx (eps 0) vs F.batch_norm (eps 0)")
        rm = 0.9 * rm + 0.1 * mu
        rs = 0.9 * rs + 0.1 * s
        steps.append({
            "input": flist(x),
            "output_gradient": flist(dy),
            "output": flist(y),
            "input_gradient": flist(dx),
            "gamma_gradient": flist(dg),
            "beta_gradient": flist(db),
            "running_mean_after": flist(rm),
            "running_scale_after": flist(rs),
        })
    x_eval = maps(rng, shape, means, sds)
    y_eval = per_channel(gamma.astype(np.float64)) * (x_eval - per_channel(rm)) / per_channel(rs + EPS) + per_channel(beta.astype(np.float64))
    return {
        **shape_fields(name, shape),
        "norm": norm,
        "eps": EPS,
        "momentum": 0.1,
        "gamma": flist(gamma),
        "beta": flist(beta),
        "steps": steps,
        "eval_input": flist(x_eval),
        "eval_output": flist(y_eval),
    }


def lp_scale_free_l2(x, gamma, beta):
    mu_b = x.mean(dim=(0, 2, 3))
    c = x - mu_b[None, :, None, None]
    s = torch.sqrt((c * c).mean(dim=(0, 2, 3)))
    return gamma[None, :, None, None] * c / s[None, :, None, None] + beta[None, :, None, None]


def build_lp(rng):
    cases = []
    for norm in NORMS:
        cases.append(lp_case(rng, f"lp_{norm.lower()}_n4_c6_h5_w7", (4, 6, 5, 7), norm))
        cases.append(lp_case(rng, f"lp_{norm.lower()}_n2_c8_h3_w3", (2, 8, 3, 3), norm))
        cases.append(lp_case(rng, f"lp_{norm.lower()}_n2_c6_h1_w1", (2, 6, 1, 1), norm))
    return cases


# ---------------------------------------------------------------- per-sample norms

def per_sample_module(op, c, h, w, groups):
    if op == "group":
        return nn.GroupNorm(groups, c, eps=EPS), f"GroupNorm({groups}, {c}, eps={EPS})"
    if op == "instance":
        return nn.InstanceNorm2d(c, eps=EPS, affine=True), f"InstanceNorm2d({c}, eps={EPS}, affine=True)"
    return nn.LayerNorm([c, h, w], eps=EPS), f"LayerNorm([{c}, {h}, {w}], eps={EPS})"


def per_sample_case(rng, name, shape, op, groups=None):
    n, c, h, w = shape
    means, sds = default_moments(c)
    length = c * h * w if op == "layer" else c
    gamma, beta = affine(rng, length)
    x = maps(rng, shape, means, sds)
    dy = gradient(rng, shape)
    module, description = per_sample_module(op, c, h, w, groups)
    with torch.no_grad():
        module.weight.copy_(t64(gamma).reshape(module.weight.shape))
        module.bias.copy_(t64(beta).reshape(module.bias.shape))
    module.train()
    xt = t64(x).requires_grad_(True)
    y = module(xt)
    y.backward(t64(dy))
    module.eval()
    with torch.no_grad():
        y_eval = module(t64(x))
    close(y_eval, y, f"{name}: eval output vs train output")

    # numpy replica of the forward
    xd = x.astype(np.float64)
    g = c if op == "instance" else (1 if op == "layer" else groups)
    view = xd.reshape(n, g, -1)
    xhat = ((view - view.mean(axis=2, keepdims=True)) / np.sqrt(view.var(axis=2, keepdims=True) + EPS)).reshape(shape)
    if op == "layer":
        ref = xhat * gamma.astype(np.float64).reshape(1, c, h, w) + beta.astype(np.float64).reshape(1, c, h, w)
    else:
        ref = xhat * per_channel(gamma.astype(np.float64)) + per_channel(beta.astype(np.float64))
    close(y, ref, f"{name}: output vs numpy")

    # the equivalences the library's layers rely on
    if op == "instance" or (op == "group" and groups == c):
        _, dx_i, dg_i, db_i, _ = step_gradients(
            lambda a, gg, b: (F.instance_norm(a, weight=gg, bias=b, use_input_stats=True, eps=EPS), None), x, gamma, beta, dy)
        _, dx_g, dg_g, db_g, _ = step_gradients(
            lambda a, gg, b: (F.group_norm(a, c, gg, b, eps=EPS), None), x, gamma, beta, dy)
        for other, what in ((dx_i, "F.instance_norm"), (dx_g, "F.group_norm(C)")):
            close(xt.grad, other, f"{name}: dx vs {what}")
        close(module.weight.grad, dg_i, f"{name}: dgamma vs F.instance_norm")
        close(module.weight.grad, dg_g, f"{name}: dgamma vs F.group_norm(C)")
    if op == "layer":
        y_g = F.group_norm(t64(x), 1, None, None, eps=EPS)
        close(y, y_g * t64(gamma).reshape(1, c, h, w) + t64(beta).reshape(1, c, h, w), f"{name}: output vs F.group_norm(1)")

    return {
        **shape_fields(name, shape),
        "op": op,
        "groups": g,
        "torch_module": description,
        "eps": EPS,
        "gamma": flist(gamma),
        "beta": flist(beta),
        "input": flist(x),
        "output_gradient": flist(dy),
        "output": flist(y),
        "input_gradient": flist(xt.grad),
        "gamma_gradient": flist(module.weight.grad),
        "beta_gradient": flist(module.bias.grad),
        "eval_output": flist(y_eval),
    }


def build_per_sample(rng):
    cases = []
    for shape in ((4, 6, 5, 7), (2, 8, 3, 3)):
        n, c, h, w = shape
        tag = f"n{n}_c{c}_h{h}_w{w}"
        for groups in (1, 2, c):
            cases.append(per_sample_case(rng, f"group{groups}_{tag}", shape, "group", groups))
        cases.append(per_sample_case(rng, f"instance_{tag}", shape, "instance"))
        cases.append(per_sample_case(rng, f"layer_{tag}", shape, "layer"))
    # 1x1 maps: group norm with groups of several channels and layer norm are meaningful; instance norm is refused
    cases.append(per_sample_case(rng, "group1_n2_c6_h1_w1", (2, 6, 1, 1), "group", 1))
    cases.append(per_sample_case(rng, "group2_n2_c6_h1_w1", (2, 6, 1, 1), "group", 2))
    cases.append(per_sample_case(rng, "layer_n2_c6_h1_w1", (2, 6, 1, 1), "layer"))
    return cases


def build_instance_refusals():
    cases = []
    for shape in ((2, 6, 1, 1), (1, 3, 1, 1)):
        module = nn.InstanceNorm2d(shape[1], affine=True)
        messages = {}
        for mode in ("train", "eval"):
            module.train(mode == "train")
            try:
                module(torch.zeros(shape))
            except ValueError as error:
                messages[mode] = str(error)
            else:
                raise AssertionError(f"InstanceNorm2d accepted {shape} in {mode} mode")
        assert all("Expected more than 1 spatial element when training" in m for m in messages.values()), messages
        cases.append({**shape_fields(f"instance_n{shape[0]}_c{shape[1]}_h1_w1", shape),
                      "train_error": messages["train"], "eval_error": messages["eval"]})
    return cases


def main():
    rng = seeded_rng(SEED)
    doc = {
        "generator": GENERATOR,
        "versions": {"torch": torch.__version__, "numpy": np.__version__},
        "batch_norm": build_batch_norm(rng),
        "batch_renorm": build_batch_renorm(rng),
        "lp_batch_norm": build_lp(rng),
        "per_sample": build_per_sample(rng),
        "instance_norm_refusals": build_instance_refusals(),
    }
    size = write_json(OUT_PATH, doc)
    counts = ", ".join(f"{k}={len(doc[k])}" for k in ("batch_norm", "batch_renorm", "lp_batch_norm", "per_sample", "instance_norm_refusals"))
    print(f"wrote {OUT_PATH}: {counts}, {size} bytes")


if __name__ == "__main__":
    main()
