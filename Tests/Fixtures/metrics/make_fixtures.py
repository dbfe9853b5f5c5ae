"""Generates Tests/Fixtures/metrics/metrics.json: independent reference values for MetricsTests.

Run once from the repository root: python3 Tests/Fixtures/metrics/make_fixtures.py
Needs numpy, scipy and scikit-learn (versions are recorded in the JSON). Not used at run time.
The ROC threshold +inf (sklearn >= 1.3) is written as null.
"""
import json
import pathlib

import numpy as np
import scipy
import sklearn
from scipy.ndimage import gaussian_filter, label
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

rng = np.random.default_rng(20261123)


def floats(a):
    return [float(x) for x in np.asarray(a, dtype=np.float64).ravel()]


def ranking_case(name, scores, labels, curves=True):
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=int)
    case = {
        "name": name,
        "scores": floats(scores),
        "labels": [int(x) for x in labels],
        "auroc": float(roc_auc_score(labels, scores)),
        "averagePrecision": float(average_precision_score(labels, scores)),
    }
    if curves:
        fpr, tpr, thr = roc_curve(labels, scores, drop_intermediate=False)
        case["roc"] = {"fpr": floats(fpr), "tpr": floats(tpr),
                       "thresholds": [None if np.isinf(t) else float(t) for t in thr]}
        precision, recall, thr = precision_recall_curve(labels, scores)
        case["pr"] = {"precision": floats(precision), "recall": floats(recall), "thresholds": floats(thr)}
    return case


ranking = [
    ranking_case("distinct", [0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]),
    ranking_case("ties", [0.5, 0.5, 0.5, 0.2, 0.9, 0.9, 0.1, 0.5], [1, 0, 1, 0, 1, 0, 0, 0]),
    ranking_case("all tied", [1.0, 1.0, 1.0, 1.0], [0, 1, 0, 1]),
    ranking_case("negative and integer scores", [-3, 2, 0, -1, 2, 5, -3, 0, 7], [0, 1, 0, 0, 0, 1, 1, 1, 1]),
    ranking_case("inverted", [0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]),
]
labels = (rng.random(1000) < 0.3).astype(int)
tied = np.round(rng.normal(size=1000) + 0.8 * labels, 1)
ranking.append(ranking_case("1000 scores rounded to 0.1", tied, labels))
continuous = rng.normal(size=1000) + 0.5 * labels
ranking.append(ranking_case("1000 continuous scores", continuous, labels, curves=False))

normal = rng.normal(loc=2.0, scale=0.5, size=1000)
percentiles = {
    "values": floats(normal),
    "small": [3.0, 1.0, 4.0, 1.5, 9.0],
    "percentiles": [0, 5, 37.5, 50, 95, 99, 100],
}
percentiles["expected"] = [float(np.percentile(normal, p)) for p in percentiles["percentiles"]]
percentiles["expectedSmall"] = [float(np.percentile(percentiles["small"], p)) for p in percentiles["percentiles"]]

# Hand-drawn mask: diagonal touching joins components under 8-connectivity only.
drawn = np.array([
    [1, 0, 0, 0, 1, 1, 0],
    [0, 1, 0, 0, 0, 0, 0],
    [0, 0, 1, 0, 0, 1, 1],
    [1, 0, 0, 0, 1, 0, 1],
    [1, 1, 0, 1, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 1],
], dtype=int)
eight, n8 = label(drawn, np.ones((3, 3), dtype=int))
four, n4 = label(drawn)
components = {"height": 6, "width": 7, "mask": [int(x) for x in drawn.ravel()],
              "labels8": [int(x) for x in eight.ravel()], "count8": int(n8),
              "labels4": [int(x) for x in four.ravel()], "count4": int(n4)}


def pro_curve(maps, masks):
    """Independent float64 PRO curve: one point per distinct score, (0, 0) first, (1, 1) last."""
    scores, is_normal, weights = [], [], []
    regions = 0
    for amap, mask in zip(maps, masks):
        labelled, n = label(mask, np.ones((3, 3), dtype=int))
        scores.append(amap.ravel().astype(np.float64))
        is_normal.append((labelled == 0).ravel())
        w = np.zeros(mask.size)
        for k in range(1, n + 1):
            region = (labelled == k).ravel()
            w[region] = 1.0 / region.sum()
        weights.append(w)
        regions += n
    scores = np.concatenate(scores)
    is_normal = np.concatenate(is_normal)
    weights = np.concatenate(weights)
    fprs, pros = [0.0], [0.0]
    for t in np.unique(scores)[::-1]:
        above = scores >= t
        fprs.append(min((above & is_normal).sum() / is_normal.sum(), 1.0))
        pros.append(min(weights[above].sum() / regions, 1.0))
    fprs.append(1.0)
    pros.append(1.0)
    return np.array(fprs), np.array(pros)


def area_up_to(x, y, limit):
    """Trapezoid rule up to `limit`, interpolating y at the limit; divided by the limit."""
    keep = x <= limit
    xs, ys = list(x[keep]), list(y[keep])
    if xs[-1] < limit:
        j = int(np.argmax(x > limit))
        ys.append(y[j - 1] + (y[j] - y[j - 1]) * (limit - x[j - 1]) / (x[j] - x[j - 1]))
        xs.append(limit)
    return float(np.trapezoid(ys, xs) / limit)


def random_images(count, height, width):
    maps, masks = [], []
    for i in range(count):
        blobs = gaussian_filter(rng.normal(size=(height, width)), 1.5)
        mask = (blobs > 0.25).astype(int) if i != 0 else np.zeros((height, width), dtype=int)
        noise = rng.random((height, width))
        amap = np.round((0.6 * noise + 0.5 * mask) * 64) / 64  # multiples of 1/64: exact in float32, tied
        maps.append(amap.astype(np.float32))
        masks.append(mask)
    return maps, masks


maps, masks = random_images(5, 16, 12)
limits = [0.3, 1 / 3, 0.05, 1.0]
fprs, pros = pro_curve(maps, masks)
pixel = {
    "height": 16, "width": 12,
    "maps": [floats(m) for m in maps],
    "masks": [[int(x) for x in m.ravel()] for m in masks],
    "pixelAUROC": float(roc_auc_score(np.concatenate([m.ravel() for m in masks]),
                                      np.concatenate([m.ravel() for m in maps]).astype(np.float64))),
    "fprLimits": limits,
    "aupro": [area_up_to(fprs, pros, limit) for limit in limits],
    "proCurve": {"fpr": floats(fprs), "pro": floats(pros)},
    "regions": int(sum(label(m, np.ones((3, 3), dtype=int))[1] for m in masks)),
}

# anomalib's 10×5 PRO stripes (tests/unit/metrics/test_pro.py), here through AUPRO.
stripes = np.zeros((10, 5), dtype=int)
for row, length in zip([1, 3, 5, 7, 9], [1, 2, 3, 4, 5]):
    stripes[row, :length] = 1
stripe_map = (np.repeat((np.arange(10) / 10 + 0.05)[:, None], 5, axis=1)).astype(np.float32)
f, p = pro_curve([stripe_map], [stripes])
pixel["stripes10x5"] = {"aupro": [area_up_to(f, p, limit) for limit in limits]}

# AUPRO on the hand-drawn mask: 8-connectivity (5 regions) and, for contrast, 4-connectivity (9).
drawn_map = (np.round(rng.random(drawn.shape) * 64) / 64).astype(np.float32)
f, p = pro_curve([drawn_map], [drawn])
components["map"] = floats(drawn_map)
components["aupro"] = [area_up_to(f, p, limit) for limit in limits]
components["fprLimits"] = limits


def pro_curve_4(amap, mask):
    labelled, n = label(mask)
    scores, normal = amap.ravel().astype(np.float64), (labelled == 0).ravel()
    fprs, pros = [0.0], [0.0]
    for t in np.unique(scores)[::-1]:
        above = (scores >= t).reshape(mask.shape)
        fprs.append((above.ravel() & normal).sum() / normal.sum())
        pros.append(np.mean([above[labelled == k].mean() for k in range(1, n + 1)]))
    return np.array(fprs + [1.0]), np.array(pros + [1.0])


f, p = pro_curve_4(drawn_map, drawn)
components["aupro4Connected"] = [area_up_to(f, p, limit) for limit in limits]

fixture = {
    "generator": "Tests/Fixtures/metrics/make_fixtures.py",
    "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__},
    "ranking": ranking,
    "percentiles": percentiles,
    "components": components,
    "pixel": pixel,
}
out = pathlib.Path(__file__).with_name("metrics.json")
out.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
print(f"wrote {out} ({out.stat().st_size} bytes)")
