#!/usr/bin/python3
"""Golden reference vectors for Batch Renormalization (Ioffe 2017, Algorithm 1).

Generates tests/MLNet.Normalization.Tests/Golden/batch_renorm.json.  The reference
is a direct PyTorch float64 transcription of Algorithm 1 for an (N, C, S) batch;
per channel c the statistics are taken over the N*S values of that channel:

  mu_B    = mean(x)
  sigma_B = sqrt(mean((x - mu_B)^2) + eps)          (biased variance, eps inside)
  r       = clip(sigma_B / sigma, 1/rmax, rmax)     stop_gradient
  d       = clip((mu_B - mu) / sigma, -dmax, dmax)  stop_gradient
  xhat    = (x - mu_B) / sigma_B * r + d
  y       = gamma * xhat + beta
  mu     <- mu + alpha * (mu_B - mu)                (after the step)
  sigma  <- sigma + alpha * (sigma_B - sigma)       (the paper keeps sigma, not sigma^2)
  inference: y = gamma * (x - mu) / sigma + beta    (no eps: sigma is already a std)

mu / sigma are the moving mean / moving std BEFORE the step.  Gradients are autograd
(float64) of loss = sum(y * output_gradient) with r and d detached.

  cases     "clip_active"      N=6, C=4, S=1,  rmax=1.5, dmax=0.5: one channel clips r
                               high, one clips r low, one clips d, one clips nothing.
            "warmup_plain_bn"  N=6, C=4, S=1,  rmax=1, dmax=0: r=1, d=0, i.e. plain batch
                               norm (checked against F.batch_norm, output and dx).
            "spatial"          N=4, C=3, S=10, rmax=3, dmax=5.
  sequence  "sequence"         5 training steps, N=8, C=3, S=2, rmax=2, dmax=1,
                               alpha=0.1, from mu=0, sigma=1, a new batch each step.

Self-checks (the script stops on any disagreement):
  * forward, r, d, moving averages and inference output against an independent
    numpy float64 replica (1e-12);
  * autograd dx, dgamma, dbeta against the paper's closed-form backward formulas
    (numpy float64, 1e-12);
  * output and dx against F.batch_norm(training=True) with weight gamma*r and bias
    beta + gamma*d (r, d constant => batch renorm is batch norm with those affine
    parameters), 1e-12; for "warmup_plain_bn" against plain F.batch_norm(gamma, beta);
  * every raw ratio sigma_B/sigma and (mu_B - mu)/sigma lies at least 0.1 % (relative)
    away from its clipping bound, so a float32 implementation makes the same
    clipping decisions; the required clipping pattern of each case holds.

All data layouts are "NCS" (rows x channels x spatial, row-major).  Inputs, gamma,
beta, output gradients and the moving statistics before the step are
float32-representable values from a fixed numpy seed; everything computed is float64.

Run from the repository root with the Debian interpreter (python3-torch, python3-numpy):

    /usr/bin/python3 tools/golden/make_batch_renorm.py

The output is deterministic: re-running produces a byte-identical file.
"""

import math
import os

import numpy as np
import torch

from golden_common import seeded_rng, write_json
import torch.nn.functional as F

SEED = 20240917
GENERATOR = "tools/golden/make_batch_renorm.py"
OUT_PATH = os.path.join("tests", "MLNet.Normalization.Tests", "Golden", "batch_renorm.json")
TOL = 1e-12
CLIP_MARGIN = 1e-3   # relative distance every raw r / d keeps from its clipping bound


def flist(a):
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    # "+ 0.0" turns a -0.0 (e.g. d clipped to [-0, 0]) into 0.0.
    return [float(v) + 0.0 for v in np.asarray(a).reshape(-1)]


def close(actual, expected, what):
    if isinstance(actual, torch.Tensor):
        actual = actual.detach().numpy()
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    np.testing.assert_allclose(actual, expected, rtol=TOL, atol=TOL, err_msg=what)


def setting(name, n, c, s, eps, rmax, dmax, alpha):
    """The fields every case starts with: its name, shape and Batch Renorm settings."""
    return {"name": name, "rows": n, "channels": c, "spatial": s, "eps": eps, "rmax": rmax, "dmax": dmax, "alpha": alpha}


def channel_data(rng, n, c, s, means, sds):
    """float32 data of shape (n, c, s); channel k ~ N(means[k], sds[k]^2)."""
    mu = np.asarray(means, dtype=np.float64)[None, :, None]
    sd = np.asarray(sds, dtype=np.float64)[None, :, None]
    return (mu + sd * rng.standard_normal((n, c, s))).astype(np.float32)


# ---------------------------------------------------------------- reference (torch float64)

def batch_renorm_train(x, gamma, beta, mu, sigma, rmax, dmax, alpha, eps):
    """Ioffe 2017, Algorithm 1.  x: (N, C, S); gamma, beta, mu, sigma: (C,).
    Returns y, r, d, mu_after, sigma_after (all float64 tensors)."""
    mu_b = x.mean(dim=(0, 2))
    cen = x - mu_b[None, :, None]
    sigma_b = torch.sqrt((cen * cen).mean(dim=(0, 2)) + eps)
    r = torch.clamp(sigma_b.detach() / sigma, min=1.0 / rmax, max=rmax)
    d = torch.clamp((mu_b.detach() - mu) / sigma, min=-dmax, max=dmax)
    xhat = cen / sigma_b[None, :, None] * r[None, :, None] + d[None, :, None]
    y = gamma[None, :, None] * xhat + beta[None, :, None]
    with torch.no_grad():
        mu_after = mu + alpha * (mu_b - mu)
        sigma_after = sigma + alpha * (sigma_b - sigma)
    return y, r, d, mu_after, sigma_after


def batch_renorm_inference(x, gamma, beta, mu, sigma):
    return gamma[None, :, None] * (x - mu[None, :, None]) / sigma[None, :, None] + beta[None, :, None]


# ---------------------------------------------------------------- independent numpy replica

def numpy_stats(x):
    """x: float64 (N, C, S) -> mu_B, sigma_B (without eps), m."""
    n, c, s = x.shape
    vals = np.transpose(x, (1, 0, 2)).reshape(c, -1)
    return vals.mean(axis=1), vals.var(axis=1, ddof=0), n * s


def numpy_forward(x, gamma, beta, mu, sigma, rmax, dmax, alpha, eps):
    mu_b, var_b, _ = numpy_stats(x)
    sigma_b = np.sqrt(var_b + eps)
    r_raw = sigma_b / sigma
    d_raw = (mu_b - mu) / sigma
    r = np.minimum(np.maximum(r_raw, 1.0 / rmax), rmax)
    d = np.minimum(np.maximum(d_raw, -dmax), dmax)
    xhat = (x - mu_b[None, :, None]) / sigma_b[None, :, None] * r[None, :, None] + d[None, :, None]
    y = gamma[None, :, None] * xhat + beta[None, :, None]
    return {
        "mu_b": mu_b, "sigma_b": sigma_b, "r_raw": r_raw, "d_raw": d_raw, "r": r, "d": d,
        "xhat": xhat, "y": y,
        "mu_after": mu + alpha * (mu_b - mu),
        "sigma_after": sigma + alpha * (sigma_b - sigma),
    }


def numpy_backward(x, gamma, dy, fw):
    """Closed-form gradients of Ioffe 2017, Algorithm 1 (r, d constant), per channel
    over the m = N*S values:
      dxhat    = dy * gamma
      dsigma_B = sum(dxhat * (x - mu_B)) * (-r / sigma_B^2)
      dmu_B    = sum(dxhat) * (-r / sigma_B)
      dx       = dxhat * r / sigma_B + dsigma_B * (x - mu_B) / (m sigma_B) + dmu_B / m
      dgamma   = sum(dy * xhat),  dbeta = sum(dy)
    (eps inside the square root leaves d sigma_B / d x_i = (x_i - mu_B) / (m sigma_B).)"""
    n, c, s = x.shape
    m = n * s
    mu_b = fw["mu_b"][None, :, None]
    sb = fw["sigma_b"][None, :, None]
    r = fw["r"][None, :, None]
    cen = x - mu_b
    dxhat = dy * gamma[None, :, None]
    dsigma = (dxhat * cen).sum(axis=(0, 2), keepdims=True) * (-r / (sb * sb))
    dmu = dxhat.sum(axis=(0, 2), keepdims=True) * (-r / sb)
    dx = dxhat * r / sb + dsigma * cen / (m * sb) + dmu / m
    dgamma = (dy * fw["xhat"]).sum(axis=(0, 2))
    dbeta = dy.sum(axis=(0, 2))
    return dx, dgamma, dbeta


def clip_kinds(fw, rmax, dmax):
    """Per channel: 'r_high', 'r_low' or None, and 'd' or None (clipping decisions)."""
    kinds = []
    for rr, dd in zip(fw["r_raw"], fw["d_raw"]):
        rk = "r_high" if rr > rmax else ("r_low" if rr < 1.0 / rmax else None)
        dk = "d" if abs(dd) > dmax else None
        kinds.append((rk, dk))
    return kinds


def check_margins(fw, rmax, dmax, what):
    """Every raw value keeps CLIP_MARGIN relative distance from its bounds (skipped for
    the degenerate rmax=1 / dmax=0 ranges where r=1 / d=0 whatever the raw value)."""
    if rmax > 1.0:
        for k, rr in enumerate(fw["r_raw"]):
            for bound in (rmax, 1.0 / rmax):
                assert abs(rr - bound) > CLIP_MARGIN * bound, \
                    f"{what}: channel {k} raw r={rr} too close to clipping bound {bound}"
    if dmax > 0.0:
        for k, dd in enumerate(fw["d_raw"]):
            assert abs(abs(dd) - dmax) > CLIP_MARGIN * dmax, \
                f"{what}: channel {k} raw d={dd} too close to clipping bound {dmax}"


def describe(kinds):
    return ", ".join(f"c{k}:" + ("+".join(x for x in kd if x) or "none") for k, kd in enumerate(kinds))


# ---------------------------------------------------------------- moving statistics

def moving_stats_for(rng, x, eps, pattern, rmax, dmax):
    """Moving mean / std (float32) placed relative to the batch statistics of x so that
    channel k gets the clipping pattern[k] = (r_kind, d_kind) for bounds rmax / dmax;
    r_kind in {'high', 'low', 'free'}, d_kind in {'clip', 'free'}."""
    mu_b, var_b, _ = numpy_stats(x.astype(np.float64))
    sigma_b = np.sqrt(var_b + eps)
    mu = np.empty(len(pattern), dtype=np.float32)
    sigma = np.empty(len(pattern), dtype=np.float32)
    for k, (r_kind, d_kind) in enumerate(pattern):
        if r_kind == "high":
            r_t = rng.uniform(1.3, 2.0) * rmax
        elif r_kind == "low":
            r_t = 1.0 / (rng.uniform(1.3, 2.0) * rmax)
        else:
            r_t = math.exp(rng.uniform(-0.6, 0.6) * math.log(rmax))
        if d_kind == "clip":
            d_t = rng.choice([-1.0, 1.0]) * rng.uniform(1.3, 2.0) * dmax
        else:
            d_t = rng.uniform(-0.6, 0.6) * dmax
        sigma[k] = np.float32(sigma_b[k] / r_t)
        mu[k] = np.float32(mu_b[k] - d_t * float(sigma[k]))
    return mu, sigma


# ---------------------------------------------------------------- cases

def renorm_case(rng, name, n, c, s, means, sds, rmax, dmax, alpha, eps, pattern, pattern_bounds):
    x = channel_data(rng, n, c, s, means, sds)
    gamma = rng.uniform(0.5, 1.5, c).astype(np.float32)
    beta = rng.normal(0.0, 0.5, c).astype(np.float32)
    dy = rng.standard_normal((n, c, s)).astype(np.float32)
    mu, sigma = moving_stats_for(rng, x, eps, pattern, *pattern_bounds)

    t = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float64).copy())
    x64 = t(x).requires_grad_(True)
    g64 = t(gamma).requires_grad_(True)
    b64 = t(beta).requires_grad_(True)
    mu64, sigma64, dy64 = t(mu), t(sigma), t(dy)
    y, r, d, mu_after, sigma_after = batch_renorm_train(x64, g64, b64, mu64, sigma64,
                                                        rmax, dmax, alpha, eps)
    y.backward(dy64)
    with torch.no_grad():
        y_inf = batch_renorm_inference(x64, g64, b64, mu_after, sigma_after)

    # 1. numpy float64 replica (forward, r, d, moving averages, inference).
    xd, gd, bd = x.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64)
    fw = numpy_forward(xd, gd, bd, mu.astype(np.float64), sigma.astype(np.float64),
                       rmax, dmax, alpha, eps)
    close(y, fw["y"], f"{name}: output")
    close(r, fw["r"], f"{name}: r")
    close(d, fw["d"], f"{name}: d")
    close(mu_after, fw["mu_after"], f"{name}: moving_mean_after")
    close(sigma_after, fw["sigma_after"], f"{name}: moving_std_after")
    inf_ref = (gd[None, :, None] * (xd - fw["mu_after"][None, :, None])
               / fw["sigma_after"][None, :, None] + bd[None, :, None])
    close(y_inf, inf_ref, f"{name}: inference_output")

    # 2. closed-form backward of the paper.
    dx_ref, dg_ref, db_ref = numpy_backward(xd, gd, dy.astype(np.float64), fw)
    close(x64.grad, dx_ref, f"{name}: input_gradient vs closed form")
    close(g64.grad, dg_ref, f"{name}: gamma_gradient vs closed form")
    close(b64.grad, db_ref, f"{name}: beta_gradient vs closed form")

    # 3. PyTorch's native batch norm with affine (gamma*r, beta + gamma*d).
    xb = x64.detach().clone().requires_grad_(True)
    rd, dd = r.detach(), d.detach()
    w_eff = g64.detach() * rd
    b_eff = b64.detach() + g64.detach() * dd
    y_bn = F.batch_norm(xb.reshape(n, c) if s == 1 else xb, None, None, weight=w_eff, bias=b_eff,
                        training=True, eps=eps).reshape(n, c, s)
    y_bn.backward(dy64)
    close(y, y_bn, f"{name}: output vs F.batch_norm(gamma*r, beta+gamma*d)")
    close(x64.grad, xb.grad, f"{name}: input_gradient vs F.batch_norm(gamma*r, beta+gamma*d)")

    # 4. clipping decisions are robust and as intended.
    check_margins(fw, rmax, dmax, name)
    kinds = clip_kinds(fw, rmax, dmax)

    return {
        **setting(name, n, c, s, eps, rmax, dmax, alpha),
        "moving_mean": flist(mu),
        "moving_std": flist(sigma),
        "input": flist(x),
        "gamma": flist(gamma),
        "beta": flist(beta),
        "output_gradient": flist(dy),
        "output": flist(y),
        "input_gradient": flist(x64.grad),
        "gamma_gradient": flist(g64.grad),
        "beta_gradient": flist(b64.grad),
        "r": flist(r),
        "d": flist(d),
        "moving_mean_after": flist(mu_after),
        "moving_std_after": flist(sigma_after),
        "inference_output": flist(y_inf),
    }, kinds, (x, gamma, beta, dy)


def build_cases(rng):
    cases = []

    # 1. clip_active: c0 clips r high, c1 clips r low, c2 clips d, c3 clips nothing.
    case, kinds, _ = renorm_case(
        rng, "clip_active", 6, 4, 1,
        means=[1.5, -2.0, 0.7, -0.8], sds=[0.4, 2.5, 1.7, 0.6],
        rmax=1.5, dmax=0.5, alpha=0.01, eps=1e-5,
        pattern=[("high", "free"), ("low", "free"), ("free", "clip"), ("free", "free")],
        pattern_bounds=(1.5, 0.5))
    assert any(rk == "r_high" for rk, _ in kinds), "clip_active: no channel clips r high"
    assert any(rk == "r_low" for rk, _ in kinds), "clip_active: no channel clips r low"
    assert any(dk == "d" for _, dk in kinds), "clip_active: no channel clips d"
    assert any(rk is None and dk is None for rk, dk in kinds), "clip_active: every channel clips"
    assert kinds == [("r_high", None), ("r_low", None), (None, "d"), (None, None)], kinds
    print(f"  clip_active      clipping: {describe(kinds)}")
    cases.append(case)

    # 2. warmup_plain_bn: rmax=1, dmax=0 -> r=1, d=0 -> plain batch norm.  The moving
    #    statistics still differ from the batch (placed as if rmax=1.5, dmax=0.5).
    case, kinds, (x, gamma, beta, dy) = renorm_case(
        rng, "warmup_plain_bn", 6, 4, 1,
        means=[-1.0, 2.2, 0.5, -0.3], sds=[0.7, 1.9, 0.35, 2.8],
        rmax=1.0, dmax=0.0, alpha=0.01, eps=1e-5,
        pattern=[("high", "clip"), ("low", "free"), ("free", "clip"), ("free", "free")],
        pattern_bounds=(1.5, 0.5))
    assert all(v == 1.0 for v in case["r"]), case["r"]
    assert all(v == 0.0 for v in case["d"]), case["d"]
    n, c, s = 6, 4, 1
    xb = torch.from_numpy(x.astype(np.float64).reshape(n, c)).requires_grad_(True)
    gb = torch.from_numpy(gamma.astype(np.float64)).requires_grad_(True)
    bb = torch.from_numpy(beta.astype(np.float64)).requires_grad_(True)
    y_bn = F.batch_norm(xb, None, None, weight=gb, bias=bb, training=True, eps=1e-5)
    y_bn.backward(torch.from_numpy(dy.astype(np.float64).reshape(n, c)))
    close(np.asarray(case["output"]), flist(y_bn), "warmup_plain_bn: output vs plain F.batch_norm")
    close(np.asarray(case["input_gradient"]), flist(xb.grad),
          "warmup_plain_bn: input_gradient vs plain F.batch_norm")
    close(np.asarray(case["gamma_gradient"]), flist(gb.grad),
          "warmup_plain_bn: gamma_gradient vs plain F.batch_norm")
    close(np.asarray(case["beta_gradient"]), flist(bb.grad),
          "warmup_plain_bn: beta_gradient vs plain F.batch_norm")
    print("  warmup_plain_bn  r=1, d=0 in every channel; output, dx, dgamma, dbeta == F.batch_norm")
    cases.append(case)

    # 3. spatial: c0 clips r high, c1 clips r low and d, c2 clips nothing.
    case, kinds, _ = renorm_case(
        rng, "spatial", 4, 3, 10,
        means=[-1.2, 2.5, 0.6], sds=[0.5, 1.8, 3.0],
        rmax=3.0, dmax=5.0, alpha=0.01, eps=1e-5,
        pattern=[("high", "free"), ("low", "clip"), ("free", "free")],
        pattern_bounds=(3.0, 5.0))
    assert kinds == [("r_high", None), ("r_low", "d"), (None, None)], kinds
    print(f"  spatial          clipping: {describe(kinds)}")
    cases.append(case)
    return cases


def build_sequence(rng):
    name, n, c, s = "sequence", 8, 3, 2
    rmax, dmax, alpha, eps = 2.0, 1.0, 0.1, 1e-5
    means, sds = [2.0, -0.4, 0.3], [0.3, 1.5, 3.4]
    gamma = rng.uniform(0.5, 1.5, c).astype(np.float32)
    beta = rng.normal(0.0, 0.5, c).astype(np.float32)
    mu0 = np.zeros(c, dtype=np.float32)
    sigma0 = np.ones(c, dtype=np.float32)

    mu_t = torch.from_numpy(mu0.astype(np.float64))
    sigma_t = torch.from_numpy(sigma0.astype(np.float64))
    mu_np, sigma_np = mu0.astype(np.float64), sigma0.astype(np.float64)
    g64 = torch.from_numpy(gamma.astype(np.float64))
    b64 = torch.from_numpy(beta.astype(np.float64))
    steps, all_kinds = [], []
    for k in range(5):
        x = channel_data(rng, n, c, s, means, sds)
        x64 = torch.from_numpy(x.astype(np.float64))
        with torch.no_grad():
            _, r, d, mu_t, sigma_t = batch_renorm_train(x64, g64, b64, mu_t, sigma_t,
                                                        rmax, dmax, alpha, eps)
        fw = numpy_forward(x.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64),
                           mu_np, sigma_np, rmax, dmax, alpha, eps)
        what = f"{name} step {k}"
        close(r, fw["r"], f"{what}: r")
        close(d, fw["d"], f"{what}: d")
        close(mu_t, fw["mu_after"], f"{what}: moving_mean_after")
        close(sigma_t, fw["sigma_after"], f"{what}: moving_std_after")
        check_margins(fw, rmax, dmax, what)
        kinds = clip_kinds(fw, rmax, dmax)
        all_kinds.append(kinds)
        print(f"  sequence step {k}  clipping: {describe(kinds)}")
        mu_np, sigma_np = fw["mu_after"], fw["sigma_after"]
        steps.append({
            "input": flist(x),
            "r": flist(r),
            "d": flist(d),
            "moving_mean_after": flist(mu_t),
            "moving_std_after": flist(sigma_t),
        })
    flat = [kd for kinds in all_kinds for kd in kinds]
    assert any(rk or dk for rk, dk in flat), "sequence: nothing clips"
    assert any(not rk and not dk for rk, dk in flat), "sequence: everything clips"
    # some channel changes its clipping decision during the sequence
    assert any(len({all_kinds[k][ch] for k in range(5)}) > 1 for ch in range(c)), \
        "sequence: no channel changes its clipping decision"

    return {
        **setting(name, n, c, s, eps, rmax, dmax, alpha),
        "gamma": flist(gamma),
        "beta": flist(beta),
        "moving_mean_initial": flist(mu0),
        "moving_std_initial": flist(sigma0),
        "steps": steps,
    }


def main():
    rng = seeded_rng(SEED)

    doc = {
        "generator": GENERATOR,
        "versions": {"torch": torch.__version__, "numpy": np.__version__},
        "cases": build_cases(rng),
        "sequence": build_sequence(rng),
    }
    size = write_json(OUT_PATH, doc)
    print(f"wrote {OUT_PATH}: cases={len(doc['cases'])}, "
          f"sequence steps={len(doc['sequence']['steps'])}, {size} bytes")


if __name__ == "__main__":
    main()
