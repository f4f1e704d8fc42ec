#!/usr/bin/python3
"""Stratified Fashion-MNIST subset for the samples.

Reads the full Fashion-MNIST IDX files and writes, in the same gz-compressed IDX
format and under the same four file names, a class-balanced subset into
samples/data/fashion-mnist-subset/:

  * train: 3000 images, 300 per class, drawn from the 60000 training images
  * test:  1000 images, 100 per class, drawn from the 10000 test images

Images are picked with a fixed numpy seed and kept in their original order, so
the subset is a plain sample of the source. The gz files carry mtime 0 and no
file name, so re-running produces byte-identical files.

Run from the repository root with the system interpreter (python3-numpy):

    /usr/bin/python3 tools/data/make_fashion_mnist_subset.py [--source DIR] [--output DIR]
"""

import argparse
import gzip
import os
import struct
import sys

import numpy as np

SEED = 20240611
CLASSES = 10
SIDE = 28
IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension
DEFAULT_SOURCE = "/usr/share/datasets/fashion-mnist"
DEFAULT_OUTPUT = os.path.join("samples", "data", "fashion-mnist-subset")

# (prefix, images per class)
SPLITS = [("train", 300), ("t10k", 100)]


def read_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != IMAGES_MAGIC:
        sys.exit(f"{path}: magic {magic:#010x}, expected {IMAGES_MAGIC:#010x} (IDX3 unsigned byte images)")
    if (rows, cols) != (SIDE, SIDE):
        sys.exit(f"{path}: images are {rows}x{cols}, expected {SIDE}x{SIDE}")
    pixels = np.frombuffer(data, dtype=np.uint8, offset=16)
    if pixels.size != count * rows * cols:
        sys.exit(f"{path}: header says {count} images but the file holds {pixels.size} pixel bytes")
    return pixels.reshape(count, rows, cols)


def read_labels(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic != LABELS_MAGIC:
        sys.exit(f"{path}: magic {magic:#010x}, expected {LABELS_MAGIC:#010x} (IDX1 unsigned byte labels)")
    labels = np.frombuffer(data, dtype=np.uint8, offset=8)
    if labels.size != count:
        sys.exit(f"{path}: header says {count} labels but the file holds {labels.size}")
    return labels


def write_gz(path, payload):
    # filename="" and mtime=0 keep the gzip header free of anything that varies between runs.
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
        f.write(payload)


def stratified_indices(labels, per_class, rng):
    picked = []
    for label in range(CLASSES):
        candidates = np.flatnonzero(labels == label)
        if candidates.size < per_class:
            sys.exit(f"class {label} has only {candidates.size} images, {per_class} needed")
        picked.append(rng.choice(candidates, size=per_class, replace=False))
    return np.sort(np.concatenate(picked))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default=DEFAULT_SOURCE, help=f"folder with the full data (default {DEFAULT_SOURCE})")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help=f"folder to write (default {DEFAULT_OUTPUT})")
    args = parser.parse_args()

    rng = np.random.default_rng(SEED)
    os.makedirs(args.output, exist_ok=True)
    for prefix, per_class in SPLITS:
        images = read_images(os.path.join(args.source, f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_labels(os.path.join(args.source, f"{prefix}-labels-idx1-ubyte.gz"))
        if len(images) != len(labels):
            sys.exit(f"{prefix}: {len(images)} images but {len(labels)} labels")

        keep = stratified_indices(labels, per_class, rng)
        subset_images, subset_labels = images[keep], labels[keep]
        count = len(keep)

        write_gz(os.path.join(args.output, f"{prefix}-images-idx3-ubyte.gz"),
                 struct.pack(">IIII", IMAGES_MAGIC, count, SIDE, SIDE) + subset_images.tobytes())
        write_gz(os.path.join(args.output, f"{prefix}-labels-idx1-ubyte.gz"),
                 struct.pack(">II", LABELS_MAGIC, count) + subset_labels.tobytes())
        per_label = np.bincount(subset_labels, minlength=CLASSES).tolist()
        print(f"{prefix}: {count} of {len(labels)} images, per class {per_label}")


if __name__ == "__main__":
    main()
