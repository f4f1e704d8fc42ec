#!/usr/bin/python3
"""ONNX files written by PyTorch and onnx.helper, with the normalization parameters they hold, for the ONNX reader.

Writes, in tests/MLNet.Normalization.Tests/Golden/onnx_import/,
  resnet18_bn.onnx       torchvision's ResNet-18 (random weights from a fixed seed, running statistics set to random
                         values so they are not PyTorch's 0 and 1), exported by torch.onnx.export at opset 13 with
                         training=TrainingMode.PRESERVE and do_constant_folding=False so its 20 BatchNormalization
                         nodes stay in the graph. Then every Conv and Gemm weight is turned from an initializer into a
                         graph input (onnx.helper), so the file holds the graph and the normalization parameters
                         (about 100 KB instead of 45 MB); its BatchNormalization nodes are PyTorch's, unchanged.
  resnet18_folded.onnx   the same network exported in eval mode with PyTorch's defaults (constant folding on), which
                         folds every BatchNorm into its Conv: no BatchNormalization node is left (the documented trap),
                         again with the Conv and Gemm weights as graph inputs.
  instance_layer.onnx    torch.nn.InstanceNorm2d(4, affine=True) then torch.nn.LayerNorm((4, 5, 6)) exported at opset 17
                         (InstanceNormalization and LayerNormalization nodes).
  group_norm.onnx        a GroupNormalization node (opset 18) built with onnx.helper: num_groups 2, epsilon 1e-3.
  storage.onnx           BatchNormalization nodes whose parameters are stored as float raw data, float typed fields,
                         float16 raw data, float16 typed fields (int32_data), bfloat16 raw data, double raw data and
                         double typed fields, built with onnx.helper.
  bad_input.onnx         a BatchNormalization node whose scale is a graph input, not an initializer.
  bad_type.onnx          a BatchNormalization node whose scale is int32.
  not_onnx.onnx          a text file.
  onnx_import.json       per file and node: the operator, epsilon, and the expected parameters. For the PyTorch files
                         they come from the modules' state_dict (module name -> node name as the exporter names it,
                         checked by matching every parameter of the node); for the helper-built files, from the numpy
                         arrays they were made from (float16 and bfloat16 values converted by numpy / bit shifting).

Run from the repository root with the Debian interpreter:

    apt-get install python3-onnx python3-torch python3-torchvision
    /usr/bin/python3 tools/golden/make_onnx_import.py
"""

import io
import os

import numpy as np
import onnx
import torch
import torchvision
from onnx import TensorProto, helper, numpy_helper

from golden_common import seeded_rng, write_json

SEED = 20261130
GENERATOR = "tools/golden/make_onnx_import.py"
OUT = os.path.join("tests", "MLNet.Normalization.Tests", "Golden", "onnx_import")


def weights_to_inputs(model):
    """Moves every Conv and Gemm weight initializer to a graph input, keeping the normalization parameters."""
    weight_names = set()
    for node in model.graph.node:
        if node.op_type in ("Conv", "Gemm"):
            weight_names.update(node.input[1:])
    kept = []
    for init in model.graph.initializer:
        if init.name in weight_names:
            model.graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
        else:
            kept.append(init)
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return model


def export(module, example, opset, **kwargs):
    buffer = io.BytesIO()
    torch.onnx.export(module, example, buffer, opset_version=opset, input_names=["input"], output_names=["output"], **kwargs)
    return onnx.load_from_string(buffer.getvalue())


def floats(values):
    return [float(v) for v in np.asarray(values, dtype=np.float32).ravel()]


def torch_nodes(model, module, op_type):
    """Matches each normalization module to the node whose initializers equal its parameters."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    nodes = [n for n in model.graph.node if n.op_type == op_type]
    result = []
    module_type = {"BatchNormalization": torch.nn.BatchNorm2d, "InstanceNormalization": torch.nn.InstanceNorm2d,
                   "LayerNormalization": torch.nn.LayerNorm}[op_type]
    for name, m in module.named_modules():
        if not isinstance(m, module_type):
            continue
        expected = {
            "scale": m.weight.detach().numpy(),
            "bias": m.bias.detach().numpy(),
        }
        if isinstance(m, torch.nn.BatchNorm2d):
            expected["mean"] = m.running_mean.numpy()
            expected["variance"] = m.running_var.numpy()
        matches = []
        for n in nodes:
            values = [inits.get(i) for i in n.input[1:]]
            if any(v is None for v in values):
                continue
            keys = ["scale", "bias", "mean", "variance"][: len(values)]
            if all(np.array_equal(values[k].ravel(), expected[key].ravel()) for k, key in enumerate(keys)):
                matches.append(n.name)
        assert len(matches) == 1, (name, matches)
        case = {"node": matches[0], "module": name, "epsilon": float(m.eps)}
        case.update({k: floats(v) for k, v in expected.items()})
        result.append(case)
    return result


def resnet(rng):
    net = torchvision.models.resnet18(weights=None)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.from_numpy(rng.normal(0, 0.5, c).astype(np.float32)))
            m.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, c).astype(np.float32)))
            m.weight.data.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, c).astype(np.float32)))
            m.bias.data.copy_(torch.from_numpy(rng.normal(0, 0.2, c).astype(np.float32)))
    net.eval()
    example = torch.zeros(1, 3, 224, 224)
    kept = export(net, example, 13, training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    nodes = torch_nodes(kept, net, "BatchNormalization")
    assert len(nodes) == 20, len(nodes)
    folded = export(net, example, 13)
    assert not any(n.op_type == "BatchNormalization" for n in folded.graph.node)
    return weights_to_inputs(kept), weights_to_inputs(folded), nodes


class InstanceLayer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.instance = torch.nn.InstanceNorm2d(4, affine=True, eps=1e-4)
        self.layer = torch.nn.LayerNorm((4, 5, 6), eps=1e-6)

    def forward(self, x):
        return self.layer(self.instance(x))


def instance_layer(rng):
    net = InstanceLayer()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.from_numpy(rng.normal(1, 0.3, tuple(p.shape)).astype(np.float32)))
    model = export(net, torch.zeros(2, 4, 5, 6), 17)
    cases = torch_nodes(model, net, "InstanceNormalization") + torch_nodes(model, net, "LayerNormalization")
    for case in cases:
        case["operator"] = "LayerNormalization" if case["module"] == "layer" else "InstanceNormalization"
        if case["module"] == "layer":
            case["axis"] = [a.i for n in model.graph.node if n.name == case["node"] for a in n.attribute if a.name == "axis"][0]
    return model, cases


def graph_model(nodes, initializers, inputs, opset, name):
    graph = helper.make_graph(nodes, name, inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name=GENERATOR)


def group_norm(rng):
    scale = rng.normal(1, 0.3, 2).astype(np.float32)
    bias = rng.normal(0, 0.3, 2).astype(np.float32)
    node = helper.make_node("GroupNormalization", ["x", "gn_scale", "gn_bias"], ["y"], name="gn", epsilon=1e-3, num_groups=2)
    model = graph_model([node], [numpy_helper.from_array(scale, "gn_scale"), numpy_helper.from_array(bias, "gn_bias")],
                        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 3])], 18, "group_norm")
    return model, [{"node": "gn", "operator": "GroupNormalization", "epsilon": float(np.float32(1e-3)), "groups": 2,
                    "scale": floats(scale), "bias": floats(bias)}]


def bfloat16_bits(values):
    """Round-to-nearest-even bfloat16 bits of float32 values, and the floats they stand for."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    return rounded, (rounded.astype(np.uint32) << 16).view(np.float32)


def storage(rng):
    c = 3
    nodes, inits, cases = [], [], []

    def add(kind, tensors, expected):
        name = f"bn_{kind}"
        inputs = ["x"] + [f"{name}_{p}" for p in ("scale", "bias", "mean", "var")]
        nodes.append(helper.make_node("BatchNormalization", inputs, [f"y_{kind}"], name=name, epsilon=1e-4))
        for t, n in zip(tensors, inputs[1:]):
            t.name = n
            inits.append(t)
        cases.append({"node": name, "operator": "BatchNormalization", "epsilon": float(np.float32(1e-4)),
                      **{k: floats(v) for k, v in zip(("scale", "bias", "mean", "variance"), expected)}})

    def params():
        return [rng.uniform(0.5, 2, c), rng.normal(0, 1, c), rng.normal(0, 1, c), rng.uniform(0.5, 2, c)]

    p = [v.astype(np.float32) for v in params()]
    add("float_raw", [numpy_helper.from_array(v) for v in p], p)
    p = [v.astype(np.float32) for v in params()]
    add("float_typed", [helper.make_tensor("", TensorProto.FLOAT, [c], v.tolist()) for v in p], p)
    p = [v.astype(np.float16) for v in params()]
    add("float16_raw", [numpy_helper.from_array(v) for v in p], [v.astype(np.float32) for v in p])
    p = [v.astype(np.float16) for v in params()]
    add("float16_typed", [helper.make_tensor("", TensorProto.FLOAT16, [c], v.tolist()) for v in p],
        [v.astype(np.float32) for v in p])
    pairs = [bfloat16_bits(v) for v in params()]
    add("bfloat16_raw", [helper.make_tensor("", TensorProto.BFLOAT16, [c], b.tobytes(), raw=True) for b, _ in pairs], [f for _, f in pairs])
    p = params()
    add("double_raw", [numpy_helper.from_array(v.astype(np.float64)) for v in p], [v.astype(np.float32) for v in p])
    p = params()
    add("double_typed", [helper.make_tensor("", TensorProto.DOUBLE, [c], v.tolist()) for v in p], [v.astype(np.float32) for v in p])
    stored = {t.name: ("raw" if t.raw_data else "typed", t.data_type) for t in inits}
    for kind, (how, dtype) in [("float_raw", ("raw", 1)), ("float_typed", ("typed", 1)), ("float16_raw", ("raw", 10)),
                               ("float16_typed", ("typed", 10)), ("bfloat16_raw", ("raw", 16)), ("double_raw", ("raw", 11)),
                               ("double_typed", ("typed", 11))]:
        assert stored[f"bn_{kind}_scale"] == (how, dtype), (kind, stored[f"bn_{kind}_scale"])
    graph = helper.make_graph(nodes, "storage", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 2])],
                              [helper.make_tensor_value_info(n.output[0], TensorProto.FLOAT, None) for n in nodes], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)], producer_name=GENERATOR), cases


def bad_models(rng):
    c = 2
    values = [rng.uniform(0.5, 2, c).astype(np.float32) for _ in range(4)]
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn")
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c]), helper.make_tensor_value_info("s", TensorProto.FLOAT, [c])]
    bad_input = graph_model([node], [numpy_helper.from_array(v, n) for v, n in zip(values[1:], "bmv")], inputs, 15, "bad_input")
    bad_type = graph_model([node], [numpy_helper.from_array(np.array([1, 2], dtype=np.int32), "s")]
                           + [numpy_helper.from_array(v, n) for v, n in zip(values[1:], "bmv")],
                           [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c])], 15, "bad_type")
    return bad_input, bad_type


def main():
    rng = seeded_rng(SEED)
    os.makedirs(OUT, exist_ok=True)
    files = {}
    kept, folded, resnet_nodes = resnet(rng)
    for case in resnet_nodes:
        case["operator"] = "BatchNormalization"
    files["resnet18_bn.onnx"] = (kept, resnet_nodes)
    files["resnet18_folded.onnx"] = (folded, [])
    files["instance_layer.onnx"] = instance_layer(rng)
    files["group_norm.onnx"] = group_norm(rng)
    files["storage.onnx"] = storage(rng)
    bad_input, bad_type = bad_models(rng)
    for name, (model, _) in files.items():
        onnx.save(model, os.path.join(OUT, name))
    onnx.save(bad_input, os.path.join(OUT, "bad_input.onnx"))
    onnx.save(bad_type, os.path.join(OUT, "bad_type.onnx"))
    with open(os.path.join(OUT, "not_onnx.onnx"), "w", encoding="utf-8") as f:
        f.write("This is a text file, not an ONNX model.\n")
    doc = {
        "generator": GENERATOR,
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__, "onnx": onnx.__version__, "numpy": np.__version__},
        "files": {name: {"opset": max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), "nodes": cases}
                  for name, (model, cases) in files.items()},
    }
    size = write_json(os.path.join(OUT, "onnx_import.json"), doc)
    print(f"wrote {OUT}: onnx_import.json ({size} bytes) and {len(files) + 3} model files")


if __name__ == "__main__":
    main()
