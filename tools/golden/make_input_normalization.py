#!/usr/bin/python3
"""Golden reference vectors for image *input* normalization.

Generates tests/MLNet.Normalization.Tests/Golden/input_normalization.json from
independent references:

  * torchvision.transforms.functional.to_tensor   (ToTensor: uint8 HWC -> float CHW / 255)
  * torchvision.transforms.Normalize              ((x - mean) / std per channel, after to_tensor)
  * keras_applications.imagenet_utils.preprocess_input  (modes 'caffe', 'tf', 'torch')
  * numpy float64                                 (per-channel mean / population std for "fit")

Inputs are integer pixel values 0..255 stored as floats (exactly what ML.NET's
ExtractPixels produces), generated from a fixed numpy seed, and written into the
JSON next to the expected output.  All reference computations run in float32,
as the references do; fit statistics are float64.

Run from the repository root with the Debian interpreter (python3-torch,
python3-torchvision, python3-keras-applications, python3-numpy):

    /usr/bin/python3 tools/golden/make_input_normalization.py

The output is deterministic: re-running produces a byte-identical file.
"""

import json
import os
import sys

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as TF
import keras_applications
from keras_applications import imagenet_utils

SEED = 20240611
GENERATOR = "tools/golden/make_input_normalization.py"
OUT_PATH = os.path.join("tests", "MLNet.Normalization.Tests", "Golden", "input_normalization.json")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


class KerasBackendShim:
    """Minimal stand-in for keras.backend; preprocess_input on numpy arrays only
    calls floatx() (for non-float input) and image_data_format() (if
    data_format is None). We always pass float32 arrays and data_format."""

    @staticmethod
    def floatx():
        return "float32"

    @staticmethod
    def image_data_format():
        return "channels_last"


BACKEND = KerasBackendShim()


def flist(a):
    """Flatten (row-major) and convert every element to a Python float."""
    return [float(v) for v in np.asarray(a).reshape(-1)]


def random_pixels(rng, shape):
    """Random integer pixels 0..255 as float32 (always includes 0 and 255)."""
    x = rng.integers(0, 256, size=shape).astype(np.float32)
    flat = x.reshape(-1)
    flat[0] = 0.0
    flat[-1] = 255.0
    return x


def chw_to_layout(chw, layout):
    return chw if layout == "chw" else np.ascontiguousarray(np.transpose(chw, (1, 2, 0)))


def layout_to_hwc(x, layout):
    return np.ascontiguousarray(np.transpose(x, (1, 2, 0))) if layout == "chw" else x


# ---------------------------------------------------------------- references

def ref_to_tensor(x, layout):
    """torchvision ToTensor on uint8 HWC -> float32 CHW (x/255); back to `layout`."""
    hwc_u8 = layout_to_hwc(x, layout).astype(np.uint8)
    t = TF.to_tensor(hwc_u8)  # CHW float32, divided by 255
    assert t.dtype == torch.float32
    return chw_to_layout(t.numpy(), layout)


def ref_normalize(x, layout, mean, std):
    """to_tensor followed by torchvision.transforms.Normalize(mean, std)."""
    hwc_u8 = layout_to_hwc(x, layout).astype(np.uint8)
    t = TF.to_tensor(hwc_u8)
    t = T.Normalize(mean=list(mean), std=list(std))(t)
    assert t.dtype == torch.float32
    return chw_to_layout(t.numpy(), layout)


def ref_keras(x, layout, mode):
    """keras_applications preprocess_input on a batch of one image (float32)."""
    data_format = "channels_first" if layout == "chw" else "channels_last"
    batch = np.array(x, dtype=np.float32, copy=True)[np.newaxis, ...]  # (1,C,H,W) or (1,H,W,C)
    # preprocess_input works in place (and for 'caffe' on a reversed view), so pass a copy.
    y = imagenet_utils.preprocess_input(batch, data_format=data_format, mode=mode, backend=BACKEND)
    assert y.dtype == np.float32, y.dtype
    return np.ascontiguousarray(y[0])


# ---------------------------------------------------------------- cases

def make_case(name, op, layout, x, max_value, mean, std, output, description):
    assert output.shape == x.shape
    return {
        "name": name,
        "op": op,
        "description": description,
        "layout": layout,
        "shape": [int(d) for d in x.shape],
        "max": float(max_value),
        "mean": None if mean is None else [float(v) for v in mean],
        "std": None if std is None else [float(v) for v in std],
        "input": flist(x),
        "output": flist(output),
    }


def shape_for(layout, c, h, w):
    return (c, h, w) if layout == "chw" else (h, w, c)


def build_cases(rng):
    cases = []
    C, H, W = 3, 4, 5
    custom_mean = (0.5, 0.25, 0.75)
    custom_std = (0.2, 0.3, 0.4)

    for layout in ("chw", "hwc"):
        shp = shape_for(layout, C, H, W)

        x = random_pixels(rng, shp)
        cases.append(make_case(
            f"scale_zero_one_{layout}", "scale_zero_one", layout, x, 255.0, None, None,
            ref_to_tensor(x, layout),
            "torchvision to_tensor: y = x / 255 (float32)"))

        x = random_pixels(rng, shp)
        cases.append(make_case(
            f"scale_minus_one_one_{layout}", "scale_minus_one_one", layout, x, 255.0, None, None,
            ref_keras(x, layout, "tf"),
            "keras_applications preprocess_input mode='tf': y = x / 127.5 - 1 (float32, in-place ops)"))

        x = random_pixels(rng, shp)
        cases.append(make_case(
            f"normalize_imagenet_{layout}", "normalize_imagenet", layout, x, 255.0,
            IMAGENET_MEAN, IMAGENET_STD,
            ref_normalize(x, layout, IMAGENET_MEAN, IMAGENET_STD),
            "torchvision to_tensor + Normalize(mean, std): y = (x/255 - mean[c]) / std[c] (float32)"))

        x = random_pixels(rng, shp)
        cases.append(make_case(
            f"normalize_custom_{layout}", "normalize_custom", layout, x, 255.0,
            custom_mean, custom_std,
            ref_normalize(x, layout, custom_mean, custom_std),
            "torchvision to_tensor + Normalize(mean, std): y = (x/255 - mean[c]) / std[c] (float32)"))

        x = random_pixels(rng, shp)
        cases.append(make_case(
            f"keras_caffe_{layout}", "keras_caffe", layout, x, 255.0, CAFFE_MEAN_BGR, None,
            ref_keras(x, layout, "caffe"),
            "keras_applications preprocess_input mode='caffe': RGB input -> BGR output, "
            "y[k] = x[2-k] - mean[k] with mean (B,G,R) = (103.939,116.779,123.68) in raw 0..255 units, "
            "no scaling (float32). 'mean' lists the means in OUTPUT (BGR) channel order."))

        x = random_pixels(rng, shp)
        cases.append(make_case(
            f"keras_tf_{layout}", "keras_tf", layout, x, 255.0, None, None,
            ref_keras(x, layout, "tf"),
            "keras_applications preprocess_input mode='tf': y = x / 127.5 - 1 (float32, in-place ops)"))

        x = random_pixels(rng, shp)
        cases.append(make_case(
            f"keras_torch_{layout}", "keras_torch", layout, x, 255.0, IMAGENET_MEAN, IMAGENET_STD,
            ref_keras(x, layout, "torch"),
            "keras_applications preprocess_input mode='torch': y = (x/255 - mean[c]) / std[c], "
            "ImageNet mean/std, RGB order kept (float32, in-place ops)"))

    # Extra channel counts for normalize_custom: grayscale (C=1) and RGBA-like (C=4).
    gray_mean, gray_std = (0.2860,), (0.3530,)
    rgba_mean, rgba_std = (0.1, 0.6, 0.35, 0.5), (0.15, 0.25, 0.45, 0.5)
    for layout in ("chw", "hwc"):
        x = random_pixels(rng, shape_for(layout, 1, H, W))
        cases.append(make_case(
            f"normalize_custom_gray_{layout}", "normalize_custom", layout, x, 255.0, gray_mean, gray_std,
            ref_normalize(x, layout, gray_mean, gray_std),
            "C=1 (grayscale). torchvision to_tensor + Normalize: y = (x/255 - mean) / std (float32)"))
        x = random_pixels(rng, shape_for(layout, 4, H, W))
        cases.append(make_case(
            f"normalize_custom_rgba_{layout}", "normalize_custom", layout, x, 255.0, rgba_mean, rgba_std,
            ref_normalize(x, layout, rgba_mean, rgba_std),
            "C=4 (RGBA-like). torchvision to_tensor + Normalize: y = (x/255 - mean[c]) / std[c] (float32)"))

    # Documented single-pixel reference: RGB (10, 20, 30).
    px = np.array([10.0, 20.0, 30.0], dtype=np.float32).reshape(3, 1, 1)
    caffe = ref_keras(px, "chw", "caffe")
    torch_mode = ref_keras(px, "chw", "torch")
    np.testing.assert_allclose(caffe.reshape(-1), [-73.939, -96.779, -113.68], rtol=0, atol=1e-4)
    np.testing.assert_allclose(torch_mode.reshape(-1), [-1.94666, -1.68557, -1.28157], rtol=0, atol=1e-4)
    cases.append(make_case(
        "keras_caffe_single_pixel_10_20_30", "keras_caffe", "chw", px, 255.0, CAFFE_MEAN_BGR, None, caffe,
        "Documented sanity check: RGB (10,20,30) -> BGR (-73.939, -96.779, -113.68)"))
    cases.append(make_case(
        "keras_torch_single_pixel_10_20_30", "keras_torch", "chw", px, 255.0, IMAGENET_MEAN, IMAGENET_STD,
        torch_mode,
        "Documented sanity check: RGB (10,20,30) -> approx (-1.94666, -1.68557, -1.28157)"))
    return cases


# ---------------------------------------------------------------- fit cases

def channel_view(rows, layout, shape):
    """rows: (N, prod(shape)) -> (C, N*spatial) array (float64)."""
    n = rows.shape[0]
    x = rows.reshape((n,) + tuple(shape))
    if layout == "chw":
        x = np.transpose(x, (1, 0, 2, 3))       # C, N, H, W
    else:
        x = np.transpose(x, (3, 0, 1, 2))       # C, N, H, W
    return x.reshape(x.shape[0], -1)


def make_fit_case(name, layout, shape, rows, max_value, description):
    per_channel = channel_view(rows.astype(np.float64), layout, shape) / float(max_value)
    mean = per_channel.mean(axis=1, dtype=np.float64)
    std = per_channel.std(axis=1, ddof=0, dtype=np.float64)
    return {
        "name": name,
        "description": description,
        "layout": layout,
        "shape": [int(d) for d in shape],
        "max": float(max_value),
        "rows": [flist(r) for r in rows],
        "mean": [float(v) for v in mean],
        "std": [float(v) for v in std],
    }


def build_fit_cases(rng):
    fit = []
    rows = rng.integers(0, 256, size=(37, 3 * 4 * 5)).astype(np.float32)
    fit.append(make_fit_case("fit_random_chw_3x4x5", "chw", (3, 4, 5), rows, 255.0,
                             "37 rows of uniform random pixels 0..255, planar CHW"))

    rows = rng.integers(0, 256, size=(37, 4 * 5 * 3)).astype(np.float32)
    fit.append(make_fit_case("fit_random_hwc_4x5x3", "hwc", (4, 5, 3), rows, 255.0,
                             "37 rows of uniform random pixels 0..255, interleaved HWC"))

    # Strongly different channel statistics: channel 0 near-saturated (large mean,
    # tiny spread -> catastrophic cancellation for naive E[x^2]-E[x]^2 in float32),
    # channel 1 mid-grey with moderate spread, channel 2 dark.
    n, c, h, w = 200, 3, 8, 8
    x = np.empty((n, c, h, w), dtype=np.float32)
    x[:, 0] = rng.integers(250, 256, size=(n, h, w))
    x[:, 1] = np.clip(np.rint(rng.normal(128.0, 30.0, size=(n, h, w))), 0, 255)
    x[:, 2] = rng.integers(0, 8, size=(n, h, w))
    fit.append(make_fit_case("fit_skewed_chw_3x8x8", "chw", (c, h, w), x.reshape(n, -1), 255.0,
                             "200 rows; channel 0 in 250..255, channel 1 ~ N(128,30) clipped, "
                             "channel 2 in 0..7 (numerically demanding)"))
    return fit


def main():
    if not os.path.isdir(os.path.join("tests", "MLNet.Normalization.Tests")):
        sys.exit("run from the repository root")
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)

    doc = {
        "generator": GENERATOR,
        "versions": {
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "keras_applications": keras_applications.__version__,
            "numpy": np.__version__,
        },
        "cases": build_cases(rng),
        "fit_cases": build_fit_cases(rng),
    }
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w", encoding="utf-8", newline="\n") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    size = os.path.getsize(OUT_PATH)
    print(f"wrote {OUT_PATH}: {len(doc['cases'])} cases, {len(doc['fit_cases'])} fit_cases, {size} bytes")


if __name__ == "__main__":
    main()
