"""Generates the Projections test fixtures (run once; outputs are committed).

    python3 Tests/Fixtures/projections/make_fixtures.py

Needs numpy and scipy. PCA is computed from numpy's eigh of the covariance with
sklearn's sign convention (svd_flip, u_based_decision=False); the UMAP curve
parameters exactly as umap-learn's find_ab_params (scipy curve_fit).
"""
import json
import os

import numpy as np
from scipy.optimize import curve_fit

HERE = os.path.dirname(os.path.abspath(__file__))


def dump(name, payload):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(payload, f)
        f.write("\n")


def as_list(a):
    return np.asarray(a, dtype=np.float64).ravel().tolist()


# --- PCA ------------------------------------------------------------------------
rng = np.random.default_rng(21)
mixing = rng.normal(size=(7, 7)) * np.array([5.0, 3.0, 2.0, 1.0, 0.5, 0.3, 0.1])[:, None]
points = (rng.normal(size=(80, 7)) @ mixing + rng.normal(size=7) * 4).astype(np.float32)
x = points.astype(np.float64)
mean = x.mean(axis=0)
covariance = np.cov(x, rowvar=False)          # divisor N - 1
values, vectors = np.linalg.eigh(covariance)
order = np.argsort(values)[::-1][:3]
axes = vectors[:, order].T                    # [3, 7]
largest = np.argmax(np.abs(axes), axis=1)
axes *= np.sign(axes[np.arange(3), largest])[:, None]
dump("pca.json", {
    "points_shape": list(points.shape), "points": as_list(points),
    "mean": as_list(mean), "axes": as_list(axes),
    "explained_variance": as_list(values[order]),
    "transformed": as_list((x - mean) @ axes.T),
})


# --- UMAP's a, b ------------------------------------------------------------------
def find_ab_params(spread, min_dist):
    def curve(x, a, b):
        return 1.0 / (1.0 + a * x ** (2 * b))

    xv = np.linspace(0, spread * 3, 300)
    yv = np.zeros(xv.shape)
    yv[xv < min_dist] = 1.0
    yv[xv >= min_dist] = np.exp(-(xv[xv >= min_dist] - min_dist) / spread)
    params, _ = curve_fit(curve, xv, yv)
    return params[0], params[1]


cases = [(0.1, 1.0), (0.0, 1.0), (0.5, 1.0), (0.25, 2.0)]
dump("curve.json", [
    {"min_dist": m, "spread": s, "a": float(a), "b": float(b)}
    for (m, s) in cases for (a, b) in [find_ab_params(s, m)]
])
