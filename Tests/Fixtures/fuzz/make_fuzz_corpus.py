#!/usr/bin/env python3
"""Writes the hostile-input corpus of issue #10 (specs and images) and expected.json.

Each spec must be refused by `trawl validate` with an error containing the expected text;
each image must be refused by the decoder (or, once decoded, by the resize bound of the
input pipeline at a shorter side of 4096) with an error containing the expected text.
Standard library only: python3 Tests/Fixtures/fuzz/make_fuzz_corpus.py
"""
import json
import os
import shutil
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SPECS = os.path.join(HERE, "specs")
IMAGES = os.path.join(HERE, "images")
expected = {"specs": {}, "images": {}}
for folder in (SPECS, IMAGES):
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)


def base(name, **scorer):
    return {"name": name, "dataset": {"kind": "folders", "root": "data"},
            "backbone": {"name": "efficientnet-lite0"}, "scorer": {"kind": "patchcore", **scorer}}


def spec(name, document, expect):
    """`document`: a dict (written as JSON), str or bytes (written as is)."""
    path = os.path.join(SPECS, name + ".json")
    if isinstance(document, dict):
        document = json.dumps(document)
    if isinstance(document, str):
        document = document.encode("utf-8")
    with open(path, "wb") as f:
        f.write(document)
    expected["specs"][name + ".json"] = expect


def spec_with(name, expect, edit):
    document = base(name)
    edit(document)
    spec(name, document, expect)


def setter(*path_and_value):
    *path, value = path_and_value

    def edit(document):
        target = document
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
    return edit


# --- duplicate keys (item 10) ---
spec("dup-top-name", '{"name": "dup-top-name", "name": "other", "dataset": {"kind": "folders", "root": "data"},'
     ' "backbone": {"name": "efficientnet-lite0"}, "scorer": {"kind": "patchcore"}}', "name: duplicate key")
spec("dup-scorer-k", '{"name": "dup-scorer-k", "dataset": {"kind": "folders", "root": "data"},'
     ' "backbone": {"name": "efficientnet-lite0"}, "scorer": {"kind": "patchcore", "k": 1, "k": 500}}',
     "scorer.k: duplicate key")
spec("dup-dataset-root", '{"name": "dup-dataset-root", "dataset": {"kind": "folders", "root": "a", "root": "b"},'
     ' "backbone": {"name": "efficientnet-lite0"}, "scorer": {"kind": "patchcore"}}', "dataset.root: duplicate key")
spec("dup-in-array-object", '{"name": "dup-in-array-object", "dataset": {"kind": "manifest", "path": "m.csv",'
     ' "label": {"anomalous_when": {"all": [{"column": "a", "column": "b", "op": "<", "value": 1}]}}},'
     ' "backbone": {"name": "efficientnet-lite0"}, "scorer": {"kind": "knn"}}',
     "dataset.label.anomalous_when.all[0].column: duplicate key")

# --- unbounded numbers (item 7) ---
spec_with("blur-sigma-1e20", "scorer.blur_sigma: 1e+20 is out of range; allowed: a number in [0, 64]",
          setter("scorer", "blur_sigma", 1e20))
spec_with("blur-sigma-1e6", "scorer.blur_sigma: 1000000 is out of range", setter("scorer", "blur_sigma", 1e6))
spec_with("blur-sigma-negative", "scorer.blur_sigma: -1 is out of range", setter("scorer", "blur_sigma", -1))
spec("ridge-1e300", {**base("ridge-1e300"), "scorer": {"kind": "mahalanobis", "estimator": "sample", "ridge": 1e300}},
     "scorer.ridge: 1e+300 is out of range; allowed: a number in [0, 100]")
spec("ridge-sweep-1e300", {**base("ridge-sweep-1e300"),
                           "scorer": {"kind": "mahalanobis", "estimator": "sample", "ridge": [0.01, 1e300]}},
     "scorer.ridge[1]: 1e+300 is out of range")
spec("regularization-1e300", {**base("regularization-1e300"), "scorer": {"kind": "gmm", "regularization": 1e300}},
     "scorer.regularization: 1e+300 is out of range; allowed: a number in (0, 1]")
spec("regularization-zero", {**base("regularization-zero"), "scorer": {"kind": "gmm", "regularization": 0}},
     "scorer.regularization: 0 is out of range")
spec("gmm-components-huge", {**base("gmm-components-huge"), "scorer": {"kind": "gmm", "components": 1000000}},
     "scorer.components: 1000000 is out of range")
spec("gmm-iterations-zero", {**base("gmm-iterations-zero"), "scorer": {"kind": "gmm", "iterations": 0}},
     "scorer.iterations: 0 is out of range")
spec_with("k-zero", "scorer.k: 0 is out of range", setter("scorer", "k", 0))
spec_with("k-huge", "scorer.k: 100000 is out of range", setter("scorer", "k", 100000))
spec_with("k-fraction", "scorer.k: expected an integer in [1, 1024], got a number 1.5", setter("scorer", "k", 1.5))
spec_with("k-string", "scorer.k: expected an integer in [1, 1024], got a string", setter("scorer", "k", "3"))
spec_with("k-empty-list", "scorer.k: expected a non-empty array", setter("scorer", "k", []))
spec_with("k-listed-twice", "scorer.k[1]: the value is listed twice", setter("scorer", "k", [1, 1]))
spec_with("k-nested-list", "scorer.k[0]: expected an integer", setter("scorer", "k", [[1]]))
spec_with("coreset-ratio-zero", "scorer.coreset_ratio: 0 is out of range", setter("scorer", "coreset_ratio", 0))
spec_with("coreset-ratio-above-one", "scorer.coreset_ratio: 1.5 is out of range", setter("scorer", "coreset_ratio", 1.5))
spec_with("projection-dim-huge", "scorer.projection_dim: 100000 is out of range", setter("scorer", "projection_dim", 100000))
spec_with("pooling-even", "features.pooling: 2 is even", setter("features", "pooling", 2))
spec_with("pooling-huge", "features.pooling: 99 is out of range", setter("features", "pooling", 99))
spec_with("pretrain-dim-huge", "features.pretrain_dim: 1000000 is out of range", setter("features", "pretrain_dim", 1000000))
spec_with("input-size-tiny", "backbone.input_size: 31 is out of range", setter("backbone", "input_size", 31))
spec_with("input-size-1e9", "backbone.input_size: 1000000000 is out of range", setter("backbone", "input_size", 10**9))
spec_with("resize-below-input", "backbone.resize: 64 is smaller than input_size", setter("backbone", "resize", 64))
spec_with("seed-negative", "seed: -1 is out of range", setter("seed", -1))
spec_with("seed-1e300", "seed: expected an integer", setter("seed", 1e300))
spec_with("seed-fraction", "seed: expected an integer", setter("seed", 0.5))
spec_with("train-fraction-above-one", "dataset.train_fraction: 1.5 is out of range",
          setter("dataset", "train_fraction", 1.5))
spec_with("max-train-images-zero", "dataset.max_train_images: 0 is out of range", setter("dataset", "max_train_images", 0))
spec_with("max-train-images-1e12", "dataset.max_train_images: 1000000000000 is out of range",
          setter("dataset", "max_train_images", 10**12))
spec_with("percentile-101", "threshold.percentile: 101 is out of range",
          setter("threshold", {"rule": "train_percentile", "percentile": 101}))
spec_with("tolerance-two", "tolerances.auroc: 2 is out of range", setter("tolerances", {"auroc": 2}))
spec_with("heatmaps-negative", "outputs.heatmaps: -1 is out of range", setter("outputs", {"heatmaps": -1}))
spec_with("heatmaps-huge", "outputs.heatmaps: 1000000000 is out of range", setter("outputs", {"heatmaps": 10**9}))

# --- sweep size (item 8) ---
spec_with("grid-dims-200x200", "the sweeps make 40000 grid points, more than the limit of 10000",
          lambda d: d.update(features={"pretrain_dim": list(range(1, 201)), "target_dim": list(range(1, 201))}))
spec_with("grid-ratio-k-10100", "the sweeps make 10100 grid points",
          lambda d: d["scorer"].update(coreset_ratio=[i / 100 for i in range(1, 101)], k=list(range(1, 102))))
spec_with("grid-over-raised-limit", "max_grid_points: the sweeps make 400 grid points, more than the limit of 100",
          lambda d: d.update(max_grid_points=100, features={"pretrain_dim": list(range(1, 21)),
                                                             "target_dim": list(range(1, 21))}))
spec_with("max-grid-points-zero", "max_grid_points: 0 is out of range", setter("max_grid_points", 0))
spec_with("max-grid-points-huge", "max_grid_points: 2000000 is out of range", setter("max_grid_points", 2000000))
spec_with("max-grid-points-string", "max_grid_points: expected an integer", setter("max_grid_points", "10"))
spec_with("description-5000-chars", "a string longer than 4096 characters", setter("description", "x" * 5000))
spec("nested-100-deep", '{"name": "nested-100-deep", "description": ' + "[" * 100 + "]" * 100 + "}",
     "nested deeper than 64 levels")

# --- malformed JSON ---
for name, text, expect in [
    ("empty", "", "not valid JSON (line 1, column 1: unexpected end of the document"),
    ("whitespace-only", "  \n\t ", "not valid JSON"),
    ("top-level-array", "[1, 2]", "expected an object, got an array"),
    ("top-level-number", "3", "expected an object, got a number"),
    ("trailing-comma", '{"name": "trailing-comma",}', "expected a key in double quotes"),
    ("comment", '{"name": "comment" // note\n}', "expected \",\" or \"}\""),
    ("single-quotes", "{'name': 'single-quotes'}", "expected a key in double quotes"),
    ("unterminated-string", '{"name": "unterminated', "unterminated string"),
    ("unclosed-object", '{"name": "unclosed-object"', "unexpected end of the document inside an object"),
    ("nan-literal", '{"name": "nan-literal", "seed": NaN}', "unexpected character \"N\""),
    ("infinity-literal", '{"name": "infinity-literal", "seed": Infinity}', "unexpected character \"I\""),
    ("number-1e400", '{"name": "number-1e400", "seed": 1e400}', "beyond the range of a double"),
    ("number-leading-zero", '{"name": "number-leading-zero", "seed": 007}', "leading zero"),
    ("number-bare-dot", '{"name": "number-bare-dot", "seed": 1.}', "no digits after"),
    ("lone-surrogate", '{"name": "lone-surrogate", "description": "\\ud800"}', "unpaired UTF-16 surrogate"),
    ("bad-escape", '{"name": "bad-escape", "description": "\\q"}', "invalid escape"),
    ("control-character", '{"name": "control-character", "description": "a\tb"}', "control character"),
    ("text-after-document", '{"name": "text-after-document"} {}', "unexpected text after the JSON document"),
    ("true-misspelt", '{"name": "true-misspelt", "outputs": {"overlays": tru}}', "invalid literal"),
]:
    spec(name, text, expect)
spec("invalid-utf8", b'{"name": "invalid-utf8", "description": "\xff\xfe"}', "invalid UTF-8")

# --- keys, kinds, names, paths ---
spec_with("unknown-key-typo", "scorer.coreset_ratoi: unknown key; did you mean \"coreset_ratio\"?",
          setter("scorer", "coreset_ratoi", 0.1))
spec_with("scorer-kind-typo", "scorer.kind: \"patchcor\" is not allowed", setter("scorer", "kind", "patchcor"))
spec_with("backbone-unknown", "backbone.name: \"resnet9000\" is not allowed", setter("backbone", "name", "resnet9000"))
spec_with("name-mismatch", "must equal the file name \"name-mismatch\"", setter("name", "something-else"))
spec_with("name-with-slash", "name: \"../escape\" is not allowed", setter("name", "../escape"))
spec_with("root-unset-variable", "environment variable TRAWL_FUZZ_UNSET is not set",
          setter("dataset", "root", "$TRAWL_FUZZ_UNSET/data"))
spec_with("metric-listed-twice", "metrics[1]: \"auroc\" is listed twice", setter("metrics", ["auroc", "auroc"]))
spec_with("missing-dataset", "missing required key \"dataset\"", lambda d: d.pop("dataset"))


# --- images (item 9 and malformed files) ---
def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(width, height, color_type=0, bit_depth=8, rows=None, ihdr=None):
    """A PNG; `rows` (raw filtered scanlines) default to black; ihdr overrides the header bytes."""
    header = ihdr or struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    if rows is None:
        channels = {0: 1, 2: 3, 4: 2, 6: 4, 3: 1}[color_type]
        rows = (b"\x00" + b"\x00" * (width * channels * bit_depth // 8)) * height
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def image(name, data, expect):
    with open(os.path.join(IMAGES, name), "wb") as f:
        f.write(data)
    expected["images"][name] = expect


valid = png(4, 4, color_type=2)
image("empty.png", b"", "empty file")
image("text-named-png.png", b"this is not an image\n", "not a PNG or JPEG file (starts with bytes")
image("gif-named-png.png", b"GIF89a" + b"\x00" * 32, "it looks like GIF")
image("truncated.png", valid[: len(valid) // 2], "truncated PNG data")
image("bad-ihdr-crc.png", valid[:29] + b"\x00\x00\x00\x00" + valid[33:], "corrupt PNG data")
image("zero-width.png", png(1, 1, ihdr=struct.pack(">IIBBBBB", 0, 10, 8, 0, 0, 0, 0), rows=b""), "corrupt PNG data")
image("width-2-31.png", png(1, 1, ihdr=struct.pack(">IIBBBBB", 2**31 - 1, 1, 8, 0, 0, 0, 0), rows=b""),
      "corrupt PNG data")
# 30000 × 30000 declared in the header, the pixel data cut off: refused before any pixel is allocated.
header_only = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0))
image("header-30000x30000.png", header_only + chunk(b"IDAT", zlib.compress(b"\x00" * 30001)),
      "the PNG is 30000×30000 = 900.0 megapixels, over the limit of 64.0")
image("rgba16-9000x9000-header.png",
      b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 9000, 9000, 16, 6, 0, 0, 0))
      + chunk(b"IDAT", zlib.compress(b"\x00" * 72001)),
      "the PNG is 9000×9000 = 81.0 megapixels")
image("strip-5000x1.png", png(5000, 1), "the PNG is 5000×1, an aspect ratio of 5000.0 : 1, over the limit of 20 : 1")
image("strip-1x5000.png", png(1, 5000), "the PNG is 1×5000, an aspect ratio of 5000.0 : 1")
image("palette-without-plte.png", png(4, 4, color_type=3), "corrupt PNG data")
image("bad-zlib.png", b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0))
      + chunk(b"IDAT", b"\x78\x9c\xff\xff\xff\xff") + chunk(b"IEND", b""), "PNG data")
# Within both limits once decoded (8000 × 400, aspect 20 : 1), but its shorter side resized to 4096
# would make 81920 × 4096 pixels: the resize bound refuses it.
image("wide-8000x400.png", png(8000, 400), "resized to a shorter side of 4096 would be 81920×4096")


baseline = open(os.path.join(HERE, "..", "images", "baseline.jpg"), "rb").read()


def jpeg_header(width, height):
    """The tables and frame header of ../images/baseline.jpg with the frame size replaced, cut
    off a few bytes into the scan: libjpeg reads the header, then the data ends."""
    sof = baseline.index(b"\xff\xc0")
    sos = baseline.index(b"\xff\xda")
    patched = baseline[: sof + 5] + struct.pack(">HH", height, width) + baseline[sof + 9:]
    return patched[: sos + 32]


image("jpeg-header-65000x65000.jpg", jpeg_header(65000, 65000), "the JPEG is 65000×65000 = 4225.0 megapixels")
image("jpeg-header-60000x1.jpg", jpeg_header(60000, 1), "the JPEG is 60000×1, an aspect ratio of 60000.0 : 1")
image("jpeg-zero-height.jpg", jpeg_header(100, 0), "JPEG")
image("jpeg-signature-only.jpg", b"\xff\xd8\xff", "JPEG data")
image("jpeg-truncated.jpg", baseline[: len(baseline) // 2], "JPEG data")

with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump(expected, f, indent=2, ensure_ascii=False, sort_keys=True)
    f.write("\n")
