"""Generates patchcore_image_median.json, the reference of PatchCore's
`map_normalization: image_median` (run once; the output is committed).

    PYTHONPATH=.assets/pytest-deps python3 Tests/Fixtures/scorers/make_map_normalization_fixture.py

Needs numpy. A memory bank with two normal modes of different spread (a tight
one, σ 0.1, and a wide one, σ 1); test images of each mode, one with an
anomalous cell. Patch scores are euclidean distances to the nearest bank row
(float64); each image's map is its patch scores minus their numpy median; the
image score is the largest patch score.
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(21)
D = 4
tight_centre, wide_centre = np.zeros(D), np.full(D, 5.0)
bank = np.concatenate([tight_centre + 0.1 * rng.normal(size=(30, D)),
                       wide_centre + 1.0 * rng.normal(size=(30, D))]).astype(np.float32)


def image(centre, spread, cells, anomalous_cell=None):
    rows = centre + spread * rng.normal(size=(cells, D))
    if anomalous_cell is not None:
        rows[anomalous_cell] = centre + 1.5
    return rows


cases = []
for height, width in ((4, 5), (3, 3)):   # an even and an odd cell count
    cells = height * width
    test = np.concatenate([image(tight_centre, 0.1, cells, anomalous_cell=cells // 2),
                           image(wide_centre, 1.0, cells)]).astype(np.float32)
    distances = np.sqrt(((test.astype(np.float64)[:, None, :] - bank.astype(np.float64)[None]) ** 2).sum(-1)).min(1)
    per_image = distances.reshape(2, cells)
    maps = per_image - np.median(per_image, axis=1, keepdims=True)
    cases.append({"height": height, "width": width,
                  "test_shape": list(test.shape), "test": test.astype(np.float64).ravel().tolist(),
                  "patch_scores": per_image.ravel().tolist(),
                  "image_scores": per_image.max(1).tolist(),
                  "maps": maps.ravel().tolist()})

with open(os.path.join(HERE, "patchcore_image_median.json"), "w") as f:
    json.dump({"bank_shape": list(bank.shape), "bank": bank.astype(np.float64).ravel().tolist(), "cases": cases}, f)
    f.write("\n")
