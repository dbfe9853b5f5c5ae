"""Reference arrays for TensorsTests, computed independently of Trawl.

Convolution and pooling by direct loops in float64 (PyTorch semantics),
bilinear resize by PyTorch's align_corners=False formula, blur by
scipy.ndimage.gaussian_filter. Run: python3 make_fixtures.py
"""
import json
import numpy as np
from scipy import ndimage

rng = np.random.default_rng(7)


def conv2d(x, w, b, stride, pad, dilation, groups):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    top, left, bottom, right = pad
    xp = np.zeros((n, c, h + top + bottom, wd + left + right))
    xp[:, :, top:top + h, left:left + wd] = x
    oh = (h + top + bottom - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd + left + right - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for img in range(n):
        for oc in range(o):
            g = oc // og
            for i in range(oh):
                for j in range(ow):
                    s = 0.0
                    for ci in range(cg):
                        for ki in range(kh):
                            for kj in range(kw):
                                s += w[oc, ci, ki, kj] * xp[img, g * cg + ci, i * stride + ki * dilation, j * stride + kj * dilation]
                    out[img, oc, i, j] = s + (b[oc] if b is not None else 0)
    return out


def pool(x, k, s, p, op, include_pad=True):
    n, c, h, w = x.shape
    oh = (h + 2 * p - k) // s + 1
    ow = (w + 2 * p - k) // s + 1
    out = np.zeros((n, c, oh, ow))
    for a in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    vals = [x[a, ch, r, q] for r in range(i * s - p, i * s - p + k) for q in range(j * s - p, j * s - p + k)
                            if 0 <= r < h and 0 <= q < w]
                    if op == "max":
                        out[a, ch, i, j] = max(vals)
                    else:
                        out[a, ch, i, j] = sum(vals) / (k * k if include_pad else len(vals))
    return out


def bilinear(x, oh, ow):
    h, w = x.shape[-2:]
    def taps(n_in, n_out):
        res = []
        for i in range(n_out):
            src = max((i + 0.5) * n_in / n_out - 0.5, 0.0)
            i0 = min(int(np.floor(src)), n_in - 1)
            res.append((i0, min(i0 + 1, n_in - 1), src - i0))
        return res
    rt, ct = taps(h, oh), taps(w, ow)
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for i, (r0, r1, fr) in enumerate(rt):
        for j, (c0, c1, fc) in enumerate(ct):
            top = x[..., r0, c0] * (1 - fc) + x[..., r0, c1] * fc
            bot = x[..., r1, c0] * (1 - fc) + x[..., r1, c1] * fc
            out[..., i, j] = top * (1 - fr) + bot * fr
    return out


def t(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "data": [float(v) for v in a.ravel()]}


cases = {}
x = rng.standard_normal((2, 4, 9, 8)).astype(np.float32)
for name, (o, k, stride, pad, dil, groups) in {
    "conv3x3": (5, 3, 1, (1, 1, 1, 1), 1, 1),
    "conv_stride2_asym": (3, 3, 2, (0, 0, 1, 1), 1, 1),
    "conv5x5_dilated": (2, 3, 1, (2, 2, 2, 2), 2, 1),
    "conv_grouped": (6, 3, 1, (1, 1, 1, 1), 1, 2),
    "conv_depthwise_s2": (4, 5, 2, (1, 2, 2, 1), 1, 4),
    "conv1x1": (7, 1, 1, (0, 0, 0, 0), 1, 1),
}.items():
    w = rng.standard_normal((o, 4 // groups, k, k)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    cases[name] = {"input": t(x), "weight": t(w), "bias": [float(v) for v in b], "stride": stride,
                   "padding": list(pad), "dilation": dil, "groups": groups,
                   "output": t(conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), stride, pad, dil, groups))}

p = rng.standard_normal((1, 2, 7, 6)).astype(np.float32)
cases["maxpool_k3_s2_p1"] = {"input": t(p), "output": t(pool(p, 3, 2, 1, "max"))}
cases["avgpool_k3_s1_p1_include"] = {"input": t(p), "output": t(pool(p, 3, 1, 1, "avg", True))}
cases["avgpool_k3_s2_p1_exclude"] = {"input": t(p), "output": t(pool(p, 3, 2, 1, "avg", False))}
m = rng.standard_normal((2, 5, 7)).astype(np.float32)
cases["bilinear_up"] = {"input": t(m), "output": t(bilinear(m.astype(np.float64), 12, 17))}
cases["bilinear_down"] = {"input": t(m), "output": t(bilinear(m.astype(np.float64), 3, 4))}
big = rng.random((2, 28, 23)).astype(np.float32)
cases["blur_sigma4"] = {"input": t(big), "output": t(ndimage.gaussian_filter(big, sigma=(0, 4, 4), mode="reflect", truncate=4.0))}
small = rng.random((5, 6)).astype(np.float32)
cases["blur_sigma2_small"] = {"input": t(small), "output": t(ndimage.gaussian_filter(small, sigma=2, mode="reflect"))}
json.dump(cases, open("reference.json", "w"))
