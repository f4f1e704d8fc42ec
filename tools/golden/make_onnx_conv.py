#!/usr/bin/python3
"""Tiny ONNX models whose output has a leading batch dimension, and what Conv -> BatchNorm gives on them.

Writes, in tests/MLNet.Normalization.Tests/Golden/,
  tiny_conv.onnx        one Conv node (opset 13): input "input" float (1, 2, 5, 5), weights W (3, 2, 3, 3) and
                        bias (3) as initializers, stride 1, no padding: output "output" float (1, 3, 3, 3)
  tiny_conv_same.onnx   the same Conv with padding 1 on every side: output "output" float (1, 3, 5, 5)
  tiny_conv.json        the weights, a few input images, the batch-norm parameters (running mean and variance,
                        gamma, beta, epsilon), and per model the Conv output and the expected Conv -> BatchNorm

The two models differ in their output's spatial size only. (1, 3, 3, 3) has 3 channels and 3 x 3 positions, so
its first and last dimensions (after the batch dimension) both equal the channel count; (1, 3, 5, 5) does not.

The models are built with python3-onnx's onnx.helper and checked with onnx.checker. The weights, bias, inputs
and batch-norm parameters are float32-representable values from a fixed numpy seed. The expected values are
float64: the convolution written out in numpy (cross-correlation, as ONNX's Conv), then
y = gamma[c] (conv - mean[c]) / sqrt(var[c] + eps) + beta[c]. Self-checks: the numpy convolution against
torch.nn.functional.conv2d and the normalization against F.batch_norm (eval), both float64, within 1e-12.

Run from the repository root with the Debian interpreter:

    apt-get install python3-onnx python3-torch
    /usr/bin/python3 tools/golden/make_onnx_conv.py

Deterministic: re-running gives byte-identical files.
"""

import os

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

from golden_common import seeded_rng, write_json

SEED = 20260101
GENERATOR = "tools/golden/make_onnx_conv.py"
GOLDEN = os.path.join("tests", "MLNet.Normalization.Tests", "Golden")
MODELS = [("tiny_conv", 0), ("tiny_conv_same", 1)]  # (name, padding on every side)
JSON_PATH = os.path.join(GOLDEN, "tiny_conv.json")
OPSET = 13
INPUT_SHAPE = (1, 2, 5, 5)
KERNEL_SHAPE = (3, 2, 3, 3)
IMAGES = 3


def flist(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).reshape(-1)]


def f32(a):
    return np.asarray(a, dtype=np.float32)


def conv2d(x, w, b, pad):
    """ONNX Conv with stride 1, zero padding pad, no dilation, one group: out[n,o,i,j] = b[o] + sum xp[n,c,i+p,j+q] w[o,c,p,q]."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, c, h, wd = x.shape
    o, c2, kh, kw = w.shape
    assert c == c2
    out = np.empty((n, o, h - kh + 1, wd - kw + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            patch = x[:, :, i:i + kh, j:j + kw]
            out[:, :, i, j] = np.einsum("ncpq,ocpq->no", patch, w) + b
    return out


def batch_norm_inference(x, mean, var, gamma, beta, eps):
    shape = (1, -1, 1, 1)
    return gamma.reshape(shape) * (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) + beta.reshape(shape)


def check_close(what, expected, actual, tolerance):
    error = float(np.max(np.abs(np.asarray(expected, np.float64) - np.asarray(actual, np.float64))))
    if not error <= tolerance:
        raise SystemExit(f"self-check failed: {what}: max error {error:.3e} > {tolerance:.1e}")


def build_model(name, pad, weight, bias, output_shape):
    node = helper.make_node("Conv", ["input", "W", "B"], ["output"], kernel_shape=list(KERNEL_SHAPE[2:]), strides=[1, 1], pads=[pad] * 4)
    graph = helper.make_graph(
        [node],
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(INPUT_SHAPE))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, list(output_shape))],
        initializer=[numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "B")],
    )
    model = helper.make_model(graph, producer_name=GENERATOR, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 7  # ONNX 1.8's IR: read by every ONNX Runtime the tests may meet
    onnx.checker.check_model(model)
    return model


def main():
    rng = seeded_rng(SEED)

    weight = f32(rng.standard_normal(KERNEL_SHAPE) * 0.5)
    bias = f32(rng.standard_normal(KERNEL_SHAPE[0]) * 0.2)
    images = f32(rng.uniform(-1.0, 1.0, (IMAGES,) + INPUT_SHAPE[1:]))
    x64, w64, b64 = images.astype(np.float64), weight.astype(np.float64), bias.astype(np.float64)

    convs = {}
    for name, pad in MODELS:
        conv = conv2d(x64, w64, b64, pad)
        reference = F.conv2d(torch.tensor(x64), torch.tensor(w64), torch.tensor(b64), padding=pad).numpy()
        check_close(f"{name}: numpy conv vs F.conv2d", reference, conv, 1e-12)
        convs[name] = conv

    # Batch-norm parameters around the unpadded convolution's per-channel statistics, so outputs are of order 1.
    first = convs[MODELS[0][0]]
    channels = first.shape[1]
    mean = f32(first.mean(axis=(0, 2, 3)) + rng.uniform(-0.2, 0.2, channels))
    var = f32(first.var(axis=(0, 2, 3)) * rng.uniform(0.8, 1.25, channels))
    gamma = f32(rng.uniform(0.5, 1.5, channels) * np.array([1.0, -1.0, 1.0]))
    beta = f32(rng.uniform(-0.5, 0.5, channels))
    eps = float(np.float32(1e-3))  # Keras' default, not the transform's, so the test must pass it on
    m64, v64, g64, be64 = (a.astype(np.float64) for a in (mean, var, gamma, beta))

    models = []
    for name, pad in MODELS:
        conv = convs[name]
        expected = batch_norm_inference(conv, m64, v64, g64, be64, eps)
        reference = F.batch_norm(torch.tensor(conv), torch.tensor(m64), torch.tensor(v64), torch.tensor(g64), torch.tensor(be64), training=False, eps=eps)
        check_close(f"{name}: normalization vs F.batch_norm", reference.numpy(), expected, 1e-12)
        output_shape = (1,) + conv.shape[1:]
        path = os.path.join(GOLDEN, name + ".onnx")
        with open(path, "wb") as f:
            f.write(build_model(name, pad, weight, bias, output_shape).SerializeToString())
        models.append({
            "name": name,
            "file": name + ".onnx",
            "pads": pad,
            "output_shape": list(output_shape),
            "conv_output": [flist(c) for c in conv],
            "expected": [flist(e) for e in expected],
        })
        print(f"wrote {path} ({os.path.getsize(path)} bytes): output {output_shape}")

    doc = {
        "generator": GENERATOR,
        "versions": {"onnx": onnx.__version__, "torch": torch.__version__, "numpy": np.__version__},
        "opset": OPSET,
        "input_name": "input",
        "output_name": "output",
        "input_shape": list(INPUT_SHAPE),
        "weight": flist(weight),
        "bias": flist(bias),
        "running_mean": flist(mean),
        "running_var": flist(var),
        "gamma": flist(gamma),
        "beta": flist(beta),
        "epsilon": float(str(np.float32(eps))),
        "inputs": [flist(image) for image in images],
        "models": models,
    }
    size = write_json(JSON_PATH, doc)
    print(f"wrote {JSON_PATH}: {IMAGES} images, {len(models)} models, {size} bytes")


if __name__ == "__main__":
    main()
