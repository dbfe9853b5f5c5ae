"""Generates the Scorers test fixtures (run once; outputs are committed).

    python3 Tests/Fixtures/scorers/make_fixtures.py

Needs numpy and scikit-learn. Every fixture stores its inputs too, so the
Swift tests never depend on numpy's random streams.
"""
import json
import os

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.mixture import GaussianMixture

HERE = os.path.dirname(os.path.abspath(__file__))


def dump(name, payload):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(payload, f)
        f.write("\n")


def as_list(a):
    return np.asarray(a, dtype=np.float64).ravel().tolist()


# --- Ledoit–Wolf -------------------------------------------------------------
rng = np.random.default_rng(11)
mixing = rng.normal(size=(6, 6))
train = (rng.normal(size=(40, 6)) @ mixing + rng.normal(size=6)).astype(np.float32)
test = (rng.normal(size=(5, 6)) @ mixing * 1.5).astype(np.float32)
lw = LedoitWolf().fit(train.astype(np.float64))
dump("ledoit_wolf.json", {
    "train_shape": list(train.shape), "train": as_list(train),
    "test_shape": list(test.shape), "test": as_list(test),
    "location": as_list(lw.location_),
    "covariance": as_list(lw.covariance_),
    "shrinkage": float(lw.shrinkage_),
    # sklearn's mahalanobis() returns squared distances.
    "test_distances": as_list(np.sqrt(lw.mahalanobis(test.astype(np.float64)))),
})

# --- Gaussian mixture ---------------------------------------------------------
rng = np.random.default_rng(12)
centres = np.array([[0.0, 0.0, 0.0], [8.0, 8.0, 0.0], [-8.0, 6.0, 5.0]])
scales = [np.diag([1.0, 0.5, 0.8]), np.array([[1.0, 0.6, 0.0], [0.0, 0.8, 0.3], [0.0, 0.0, 0.5]]), np.eye(3) * 0.7]
points = np.concatenate([rng.normal(size=(120, 3)) @ s + c for c, s in zip(centres, scales)]).astype(np.float32)
queries = np.array([[0.5, 0.2, 0.1], [8.0, 7.0, 0.5], [-7.0, 6.0, 4.0], [20.0, -20.0, 9.0]], dtype=np.float32)
gmm = {}
for kind, sk in (("full", "full"), ("diagonal", "diag")):
    model = GaussianMixture(n_components=3, covariance_type=sk, reg_covar=1e-6, tol=1e-3, max_iter=100,
                            init_params="k-means++", random_state=0).fit(points.astype(np.float64))
    order = np.argsort(model.means_[:, 0])
    gmm[kind] = {
        "means_sorted_by_x": as_list(model.means_[order]),
        "weights_sorted_by_x": as_list(model.weights_[order]),
        "mean_log_likelihood": float(model.score(points.astype(np.float64))),
        "query_log_likelihoods": as_list(model.score_samples(queries.astype(np.float64))),
    }
dump("gmm.json", {"points_shape": list(points.shape), "points": as_list(points),
                  "queries_shape": list(queries.shape), "queries": as_list(queries), **gmm})


# --- PatchCore patch features, the reference's way -----------------------------
def unfold(x, p):
    """torch.nn.Unfold(p, stride 1, padding (p-1)//2) then the reference's
    reshape/permute: [N, C, H, W] -> [N, H*W, C, p, p]."""
    n, c, h, w = x.shape
    pad = (p - 1) // 2
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, h * w, c, p, p), dtype=np.float64)
    for y in range(h):
        for xx in range(w):
            out[:, y * w + xx] = padded[:, :, y:y + p, xx:xx + p]
    return out


def bilinear_axis(size_in, size_out):
    """Interpolation matrix [out, in] of torch bilinear, align_corners=False."""
    m = np.zeros((size_out, size_in))
    scale = size_in / size_out
    for i in range(size_out):
        src = max((i + 0.5) * scale - 0.5, 0.0)
        i0 = min(int(np.floor(src)), size_in - 1)
        i1 = min(i0 + 1, size_in - 1)
        frac = src - i0
        m[i, i0] += 1 - frac
        m[i, i1] += frac
    return m


def adaptive_pool_1d(v, length):
    """torch adaptive_avg_pool1d over the last axis."""
    total = v.shape[-1]
    out = np.zeros(v.shape[:-1] + (length,))
    for i in range(length):
        lo = (i * total) // length
        hi = -((-(i + 1) * total) // length)
        out[..., i] = v[..., lo:hi].mean(axis=-1)
    return out


def reference_patch_features(taps, p, pretrain, target):
    grid = taps[0].shape[2:]
    per_tap = []
    for tap in taps:
        n, c, h, w = tap.shape
        patches = unfold(tap.astype(np.float64), p)                   # [N, h*w, C, p, p]
        patches = patches.reshape(n, h, w, c, p, p)
        if (h, w) != tuple(grid):                                      # resize the unfolded patches
            rows, cols = bilinear_axis(h, grid[0]), bilinear_axis(w, grid[1])
            patches = np.einsum("Yh,nhwcab,Xw->nYXcab", rows, patches, cols)
        flat = patches.reshape(-1, c * p * p)
        per_tap.append(adaptive_pool_1d(flat, pretrain if pretrain else c))
    stacked = np.concatenate(per_tap, axis=1)
    return adaptive_pool_1d(stacked, target) if target else stacked


rng = np.random.default_rng(13)
taps = [rng.normal(size=(2, 3, 4, 6)).astype(np.float32), rng.normal(size=(2, 5, 2, 3)).astype(np.float32)]
cases = []
for pretrain, target in ((None, None), (4, 6), (7, None)):
    features = reference_patch_features(taps, 3, pretrain, target)
    cases.append({"pretrain": pretrain, "target": target, "shape": list(features.shape),
                  "features": as_list(features)})
dump("patch_features.json", {"taps": [{"shape": list(t.shape), "data": as_list(t)} for t in taps],
                             "cases": cases})
print("wrote fixtures to", HERE)
