"""What every golden-vector script shares: deterministic setup and the JSON writer."""
import json
import os
import sys

import numpy as np
import torch


def seeded_rng(seed):
    """Checks the script runs from the repository root, seeds numpy and torch, and returns a numpy Generator."""
    if not os.path.isdir(os.path.join("tests", "MLNet.Normalization.Tests")):
        sys.exit("run from the repository root")
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    return np.random.default_rng(seed)


def write_json(path, doc):
    """Writes doc with one value per line and a final newline (stable diffs); returns the file size."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return os.path.getsize(path)
