"""Generates patchcore_maps.json, the reference of PatchCore's map options
`map_max_filter` and `map_normalization: image_median` (run once; the output
is committed).

    PYTHONPATH=.assets/pytest-deps python3 Tests/Fixtures/scorers/make_patchcore_maps_fixture.py

Needs numpy and scipy. A memory bank with two normal modes of different
spread (a tight one, σ 0.1, and a wide one, σ 1); test images of each mode,
one with an anomalous cell. Patch scores are euclidean distances to the
nearest bank row (float64); a map is the patch scores maximum-filtered
(`scipy.ndimage.maximum_filter`, mode `nearest`), then, for image_median,
minus their numpy median; the image score is the largest patch score.
"""
import json
import os

import numpy as np
from scipy.ndimage import maximum_filter

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
    grid = distances.reshape(2, height, width)
    for max_filter, normalization in ((1, "image_median"), (3, "none"), (3, "image_median")):
        maps = maximum_filter(grid, size=(1, max_filter, max_filter), mode="nearest")
        if normalization == "image_median":
            maps = maps - np.median(maps.reshape(2, -1), axis=1)[:, None, None]
        cases.append({"height": height, "width": width, "max_filter": max_filter, "normalization": normalization,
                      "test_shape": list(test.shape), "test": test.astype(np.float64).ravel().tolist(),
                      "patch_scores": grid.ravel().tolist(),
                      "image_scores": grid.reshape(2, -1).max(1).tolist(),
                      "maps": maps.ravel().tolist()})

with open(os.path.join(HERE, "patchcore_maps.json"), "w") as f:
    json.dump({"bank_shape": list(bank.shape), "bank": bank.astype(np.float64).ravel().tolist(), "cases": cases}, f)
    f.write("\n")
