#!/usr/bin/python3
"""Golden vectors from ONNX's own backend test data for BatchNormalization in training mode.

Writes tests/MLNet.Normalization.Tests/Golden/onnx_batchnorm_training.json from the node tests
test_batchnorm_example_training_mode and test_batchnorm_epsilon_training_mode that Debian's
libonnx-testdata ships (ONNX 1.12, opset 15). Each node test has a model.onnx (one BatchNormalization
node) and test_data_set_0 with its inputs (X, scale, B, input_mean, input_var) and expected outputs
(Y, running_mean, running_var), read here with python3-onnx (onnx.load, onnx.numpy_helper).

  onnx_cases      the node tests as ONNX wrote them: X is (N, C, H, W); epsilon and momentum are the
                  node's attributes, or the operator schema's defaults where the node leaves them out.
                  The outputs are ONNX's, float32, untouched. pytorch_running_mean/var: what
                  torch.nn.functional.batch_norm (training, momentum 1 - ONNX's) makes of the same
                  step; its running variance uses the unbiased batch variance, ONNX's the biased one.
  fitted_cases    the fitted transform's view of the same data: one mini-batch of the N rows, starting
                  from mean 0 and variance 1 (the transform's initial values, not ONNX's input_mean and
                  input_var). running_mean/var: ONNX's reference implementation of the training-mode
                  update (onnx.backend.test.case.node.batchnorm._batchnorm_training_mode) with
                  input_mean 0, input_var 1, evaluated on X in float64; output: ONNX's inference formula
                  (_batchnorm_test_mode) with those statistics, float64. population_mean/var: numpy
                  float64 mean and ddof=0 variance over N x H x W.

Self-checks: ONNX's stored outputs equal the spec's formula with the BIASED batch variance (and not
with the unbiased one); PyTorch's running variance equals the formula with the UNBIASED one; ONNX's
reference function agrees with a separate numpy replica.

Run from the repository root with the Debian interpreter:

    apt-get install python3-onnx libonnx-testdata python3-torch
    /usr/bin/python3 tools/golden/make_onnx_batchnorm.py

The output is deterministic (no random numbers): re-running gives a byte-identical file.
"""

import os
import subprocess

import numpy as np
import onnx
import onnx.defs
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from onnx.backend.test.case.node.batchnorm import _batchnorm_test_mode, _batchnorm_training_mode

from golden_common import seeded_rng, write_json

GENERATOR = "tools/golden/make_onnx_batchnorm.py"
OUT_PATH = os.path.join("tests", "MLNet.Normalization.Tests", "Golden", "onnx_batchnorm_training.json")
NODE_DIR = "/usr/share/libonnx-testdata/data/node"
CASES = ["test_batchnorm_example_training_mode", "test_batchnorm_epsilon_training_mode"]


def flist(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).reshape(-1)]


def float32_decimal(v):
    """A float32 attribute as the shortest decimal that reads back as the same float32 (0.9f -> 0.9)."""
    return float(str(np.float32(v)))


def debian_version(package):
    return subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], check=True, capture_output=True, text=True).stdout


def read_tensor(path):
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return tensor.name, numpy_helper.to_array(tensor)


def node_attributes(model):
    """epsilon and momentum of the model's only node: the attribute if set, else the schema's default."""
    (node,) = model.graph.node
    assert node.op_type == "BatchNormalization", node.op_type
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    schema = onnx.defs.get_schema("BatchNormalization", opset)
    given = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert given.get("training_mode") == 1, given
    values, sources = {}, {}
    for name in ("epsilon", "momentum"):
        if name in given:
            values[name], sources[name] = given[name], "attribute"
        else:
            values[name], sources[name] = schema.attributes[name].default_value.f, f"opset {schema.since_version} default"
    return opset, values, sources


def check_close(what, expected, actual, tolerance):
    error = float(np.max(np.abs(np.asarray(expected, np.float64) - np.asarray(actual, np.float64))))
    if not error <= tolerance:
        raise SystemExit(f"self-check failed: {what}: max error {error:.3e} > {tolerance:.1e}")
    return error


def onnx_case(name):
    folder = os.path.join(NODE_DIR, name)
    model = onnx.load(os.path.join(folder, "model.onnx"))
    opset, attributes, sources = node_attributes(model)
    data = os.path.join(folder, "test_data_set_0")
    inputs = [read_tensor(os.path.join(data, f"input_{i}.pb"))[1] for i in range(5)]
    outputs = [read_tensor(os.path.join(data, f"output_{i}.pb"))[1] for i in range(3)]
    x, scale, bias, mean, var = inputs
    y, running_mean, running_var = outputs
    assert x.ndim == 4 and x.dtype == np.float32, (x.shape, x.dtype)
    n, c, h, w = x.shape
    eps, momentum = float(attributes["epsilon"]), float(attributes["momentum"])

    # The spec's training-mode update, float64: ReduceVar is the population (biased) variance.
    x64 = x.astype(np.float64)
    mean, var, scale, bias = (a.astype(np.float64) for a in (mean, var, scale, bias))
    axes = (0, 2, 3)
    batch_mean, biased = x64.mean(axis=axes), x64.var(axis=axes)
    unbiased = x64.var(axis=axes, ddof=1)
    values_per_channel = n * h * w
    check_close(f"{name} running_mean vs the spec", mean * momentum + batch_mean * (1 - momentum), running_mean, 1e-6)
    check_close(f"{name} running_var vs the spec (biased)", var * momentum + biased * (1 - momentum), running_var, 1e-6)
    gap = float(np.min(np.abs((var * momentum + unbiased * (1 - momentum)) - running_var)))
    if not gap > 1e-4:
        raise SystemExit(f"self-check failed: {name}: the unbiased update is within {gap:.1e} of ONNX's running_var")
    expected_y = (x64 - batch_mean[None, :, None, None]) / np.sqrt(biased + eps)[None, :, None, None] * scale[None, :, None, None] + bias[None, :, None, None]
    check_close(f"{name} Y vs the spec", expected_y, y, 1e-5)

    # The same step in PyTorch: momentum 1 - ONNX's, unbiased batch variance in the running variance.
    torch_mean = torch.tensor(mean, dtype=torch.float64)
    torch_var = torch.tensor(var, dtype=torch.float64)
    torch_y = F.batch_norm(torch.tensor(x64), torch_mean, torch_var, torch.tensor(scale, dtype=torch.float64),
                           torch.tensor(bias, dtype=torch.float64), training=True, momentum=1 - momentum, eps=eps)
    check_close(f"{name} PyTorch Y vs the spec", expected_y, torch_y.numpy(), 1e-12)
    check_close(f"{name} PyTorch running_var vs unbiased", var * momentum + unbiased * (1 - momentum), torch_var.numpy(), 1e-12)

    return {
        "name": name,
        "source": f"{NODE_DIR}/{name}",
        "opset": opset,
        "epsilon": float32_decimal(eps),
        "epsilon_source": sources["epsilon"],
        "momentum": float32_decimal(momentum),
        "momentum_source": sources["momentum"],
        "shape": [n, c, h, w],
        "values_per_channel": values_per_channel,
        "x": flist(x),
        "scale": flist(scale),
        "bias": flist(bias),
        "input_mean": flist(mean),
        "input_var": flist(var),
        "y": flist(y),
        "running_mean": flist(running_mean),
        "running_var": flist(running_var),
        "pytorch_running_mean": flist(torch_mean.numpy()),
        "pytorch_running_var": flist(torch_var.numpy()),
    }


def fitted_case(case):
    n, c, h, w = case["shape"]
    x64 = np.array(case["x"], dtype=np.float64).reshape(n, c, h, w)
    scale, bias = np.array(case["scale"]), np.array(case["bias"])
    eps, momentum = case["epsilon"], case["momentum"]
    zeros, ones = np.zeros(c), np.ones(c)

    _, running_mean, running_var = _batchnorm_training_mode(x64, scale, bias, zeros, ones, momentum, eps)
    output = _batchnorm_test_mode(x64, scale, bias, running_mean, running_var, eps)
    axes = (0, 2, 3)
    population_mean, population_var = x64.mean(axis=axes), x64.var(axis=axes)
    check_close(f"{case['name']} fitted mean vs replica", momentum * zeros + (1 - momentum) * population_mean, running_mean, 1e-12)
    check_close(f"{case['name']} fitted var vs replica", momentum * ones + (1 - momentum) * population_var, running_var, 1e-12)
    return {
        "name": case["name"],
        "initial_mean": flist(zeros),
        "initial_var": flist(ones),
        "running_mean": flist(running_mean),
        "running_var": flist(running_var),
        "output": flist(output),
        "population_mean": flist(population_mean),
        "population_var": flist(population_var),
    }


def main():
    seeded_rng(0)  # checks the working directory and makes torch deterministic; no random numbers are drawn
    torch.set_default_dtype(torch.float64)
    onnx_cases = [onnx_case(name) for name in CASES]
    doc = {
        "generator": GENERATOR,
        "versions": {
            "onnx": onnx.__version__,
            "libonnx-testdata": debian_version("libonnx-testdata"),
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
        "onnx_cases": onnx_cases,
        "fitted_cases": [fitted_case(c) for c in onnx_cases],
    }
    size = write_json(OUT_PATH, doc)
    print(f"wrote {OUT_PATH}: {len(onnx_cases)} ONNX node tests, {size} bytes")


if __name__ == "__main__":
    main()
