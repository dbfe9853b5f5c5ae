"""Expected counts for the real ELPV and Fashion-MNIST assets (run from the repository root).

Writes Tests/Fixtures/datasets/expected_assets.json, computed from the raw files without
any Trawl code: ELPV image counts by (defect probability, cell type); Fashion-MNIST
label counts and the pixel sums of a few images.
"""
import collections
import json
import numpy as np

labels = [line.split() for line in open(".assets/elpv/elpv_dataset/data/labels.csv") if line.strip()]
elpv = collections.Counter(f"{float(p):.4f} {t}" for _, p, t in labels)

def idx(path, offset):
    return np.frombuffer(open(path, "rb").read(), dtype=np.uint8, offset=offset)

fm = {}
for prefix in ("train", "t10k"):
    y = idx(f".assets/fashion-mnist/{prefix}-labels-idx1-ubyte", 8)
    x = idx(f".assets/fashion-mnist/{prefix}-images-idx3-ubyte", 16).reshape(-1, 28, 28)
    fm[prefix] = {
        "labelCounts": [int((y == c).sum()) for c in range(10)],
        "pixelSums": {str(i): int(x[i].sum(dtype=np.int64)) for i in (0, 1, 9999)},
        "labels": {str(i): int(y[i]) for i in (0, 1, 9999)},
    }

json.dump({"elpv": {"total": len(labels), "byProbabilityAndType": dict(sorted(elpv.items()))},
           "fashionMNIST": fm},
          open("Tests/Fixtures/datasets/expected_assets.json", "w"), indent=1, sort_keys=True)
