"""Generates the Images test fixtures (run from this directory: python3 make_fixtures.py).

Needs numpy and Pillow (fixture generation only). PNGs are written by the small encoder below,
so every colour type and bit depth is covered and the expected arrays come from numpy, not
from a decoder. JPEG expectations are Pillow's decoded values (libjpeg-turbo, islow IDCT).
Expected arrays are float32 [C, H, W] on the 0..255 scale (16-bit samples * 255 / 65535).
"""
import io
import struct
import zlib

import numpy as np
from PIL import Image

rng = np.random.default_rng(20261123)
H, W = 5, 7


def chunk(kind, payload):
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_rows(samples, bit_depth):
    """samples: [H, W*channels] integers -> list of raw row bytes (no filter byte)."""
    rows = []
    for row in samples:
        if bit_depth == 16:
            rows.append(row.astype(">u2").tobytes())
        elif bit_depth == 8:
            rows.append(row.astype(np.uint8).tobytes())
        else:
            per_byte = 8 // bit_depth
            padded = np.concatenate([row, np.zeros((-len(row)) % per_byte, dtype=row.dtype)])
            out = bytearray()
            for i in range(0, len(padded), per_byte):
                byte = 0
                for v in padded[i:i + per_byte]:
                    byte = (byte << bit_depth) | int(v)
                out.append(byte)
            rows.append(bytes(out))
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_bytes(pixels, color_type, bit_depth, palette=None, trns=None, interlace=False):
    """pixels: [H, W, channels] integer array (palette indices for colour type 3)."""
    h, w = pixels.shape[:2]
    flat = pixels.reshape(h, w, -1)
    raw = b""
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            sub = flat[y0::dy, x0::dx]
            if sub.size == 0:
                continue
            for row in pack_rows(sub.reshape(sub.shape[0], -1), bit_depth):
                raw += b"\x00" + row
    else:
        for row in pack_rows(flat.reshape(h, -1), bit_depth):
            raw += b"\x00" + row
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0))
    if palette is not None:
        out += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        out += chunk(b"tRNS", trns)
    out += chunk(b"IDAT", zlib.compress(raw, 9))
    out += chunk(b"IEND", b"")
    return out


def chw(hwc, scale=1.0):
    a = hwc.reshape(hwc.shape[0], hwc.shape[1], -1).astype(np.float64) * scale
    return np.ascontiguousarray(a.transpose(2, 0, 1)).astype(np.float32)


def luma(rgb):
    """PIL's L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16 on integer samples."""
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16


def save(name, data):
    with open(name, "wb") as f:
        f.write(data)


def expect(name, array):
    np.save(name, array)


# --- PNG colour types -------------------------------------------------------------------------
gray8 = rng.integers(0, 256, (H, W), dtype=np.int64)
gray16 = rng.integers(0, 65536, (H, W), dtype=np.int64)
alpha8 = rng.integers(0, 256, (H, W), dtype=np.int64)
rgb8 = rng.integers(0, 256, (H, W, 3), dtype=np.int64)
rgb16 = rng.integers(0, 65536, (H, W, 3), dtype=np.int64)
gray1 = rng.integers(0, 2, (H, W), dtype=np.int64)
palette = rng.integers(0, 256, (6, 3), dtype=np.int64)
indices = rng.integers(0, 6, (H, W), dtype=np.int64)
S16 = 255.0 / 65535.0

cases = {
    "gray8": (png_bytes(gray8, 0, 8), chw(gray8)),
    "gray16": (png_bytes(gray16, 0, 16), chw(gray16, S16)),
    "gray1": (png_bytes(gray1, 0, 1), chw(gray1 * 255)),
    "graya8": (png_bytes(np.stack([gray8, alpha8], -1), 4, 8), chw(gray8)),
    "rgb8": (png_bytes(rgb8, 2, 8), chw(rgb8)),
    "rgb16": (png_bytes(rgb16, 2, 16), chw(rgb16, S16)),
    "rgba8": (png_bytes(np.concatenate([rgb8, alpha8[..., None]], -1), 6, 8), chw(rgb8)),
    "palette_trns": (png_bytes(indices, 3, 8, palette=palette, trns=bytes([0, 128, 255])), chw(palette[indices])),
    "rgb8_interlaced": (png_bytes(rgb8, 2, 8, interlace=True), chw(rgb8)),
    # gray 16-bit with a tRNS colour key: alpha is added by libpng, then dropped.
    "gray16_trns": (png_bytes(gray16, 0, 16, trns=struct.pack(">H", int(gray16[0, 0]))), chw(gray16, S16)),
}
for name, (data, original) in cases.items():
    save(f"{name}.png", data)
    expect(f"{name}_original.npy", original)
expect("rgb8_gray.npy", chw(luma(rgb8)))
expect("rgb16_gray.npy", chw(luma(rgb16), S16))

# Cross-check the numpy expectations against Pillow where Pillow reads the same thing.
for name in ["gray8", "graya8", "rgb8", "rgba8", "palette_trns", "rgb8_interlaced", "gray1"]:
    im = Image.open(f"{name}.png")
    mode = "L" if name.startswith("gray") else "RGB"
    got = chw(np.asarray(im.convert(mode)))
    assert np.array_equal(got, np.load(f"{name}_original.npy")), name
assert np.array_equal(chw(np.asarray(Image.open("rgb8.png").convert("L"))), np.load("rgb8_gray.npy"))

# --- JPEG: decoded by Pillow (libjpeg-turbo), 4:2:0 colour, odd size to exercise edge MCUs ----
JH, JW = 17, 23
yy, xx = np.mgrid[0:JH, 0:JW]
smooth = np.stack([xx * 11, yy * 15, (xx + yy) * 6], -1) + rng.integers(0, 40, (JH, JW, 3))
photo = Image.fromarray(np.clip(smooth, 0, 255).astype(np.uint8), "RGB")
for name, kwargs in [("baseline", {}), ("progressive", {"progressive": True})]:
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=85, **kwargs)
    save(f"{name}.jpg", buffer.getvalue())
    decoded = Image.open(f"{name}.jpg")
    expect(f"{name}_rgb.npy", chw(np.asarray(decoded.convert("RGB"))))
    expect(f"{name}_gray.npy", chw(np.asarray(decoded.convert("L"))))
buffer = io.BytesIO()
photo.convert("L").save(buffer, "JPEG", quality=85)
save("gray.jpg", buffer.getvalue())
expect("gray_jpg_original.npy", chw(np.asarray(Image.open("gray.jpg"))))
buffer = io.BytesIO()
photo.convert("CMYK").save(buffer, "JPEG")
save("cmyk.jpg", buffer.getvalue())

# --- Broken files -----------------------------------------------------------------------------
good = bytearray(cases["rgb8"][0])
idat = good.index(b"IDAT")
length = struct.unpack(">I", good[idat - 4:idat])[0]
flipped = bytearray(good)
flipped[idat + 6] ^= 0xFF  # a byte inside the IDAT payload (its CRC no longer matches either)
save("corrupt_idat.png", bytes(flipped))
bad_crc = bytearray(good)
bad_crc[idat + 4 + length] ^= 0xFF  # the IDAT CRC itself: the pixels would decode fine
save("corrupt_crc.png", bytes(bad_crc))
# Corrupt the compressed stream but fix the CRC, so libpng/zlib must catch it.
payload = bytearray(good[idat + 4:idat + 4 + length])
payload[2:] = bytes(b ^ 0x5A for b in payload[2:])
fixed = good[:idat + 4] + payload + struct.pack(">I", zlib.crc32(b"IDAT" + payload) & 0xFFFFFFFF) + good[idat + 8 + length:]
save("corrupt_zlib.png", bytes(fixed))
save("truncated.png", bytes(good[: idat + 20]))
jpeg = open("baseline.jpg", "rb").read()
save("truncated.jpg", jpeg[: int(len(jpeg) * 0.7)])
sos = jpeg.index(b"\xff\xda")
scan = sos + 2 + struct.unpack(">H", jpeg[sos + 2:sos + 4])[0]
damaged = bytearray(jpeg)
# A stray restart marker inside the entropy-coded data (Pillow decodes it with a warning). Plain
# bit flips there often decode without any warning: JPEG has no checksum to catch them.
damaged[scan + 30:scan + 32] = b"\xff\xd0"
save("corrupt_scan.jpg", bytes(damaged))
twelve_bit = bytearray(jpeg)
twelve_bit[jpeg.index(b"\xff\xc0") + 4] = 12  # SOF0 sample precision 8 -> 12
save("precision12.jpg", bytes(twelve_bit))
save("empty.png", b"")
save("text.png", b"hello, this is not an image\n")

# --- Resize and conversion references (Pillow) ------------------------------------------------
source = rng.integers(0, 256, (29, 37, 3), dtype=np.uint8)
Image.fromarray(source, "RGB").save("resize_source.png")
for (w, h) in [(16, 11), (50, 40), (37, 13), (9, 29), (5, 3)]:
    out = Image.fromarray(source, "RGB").resize((w, h), Image.BILINEAR)
    expect(f"resize_bilinear_{w}x{h}.npy", chw(np.asarray(out)))
for (w, h) in [(16, 11), (50, 61), (10, 7)]:
    out = Image.fromarray(source, "RGB").resize((w, h), Image.NEAREST)
    expect(f"resize_nearest_{w}x{h}.npy", chw(np.asarray(out)))
gray_source = Image.fromarray(source, "RGB").convert("L")
expect("resize_bilinear_gray_20x8.npy", chw(np.asarray(gray_source.resize((20, 8), Image.BILINEAR))))

# --- Jet colormap: matplotlib's segment data, interpolated by numpy -------------------------
ts = np.array([0, 0.05, 0.11, 0.2, 0.35, 0.5, 0.64, 0.7, 0.9, 0.95, 1.0])
red = np.interp(ts, [0, 0.35, 0.66, 0.89, 1], [0, 0, 1, 1, 0.5])
green = np.interp(ts, [0, 0.125, 0.375, 0.64, 0.91, 1], [0, 0, 1, 1, 0, 0])
blue = np.interp(ts, [0, 0.11, 0.34, 0.65, 1], [0.5, 1, 1, 0, 0])
expect("jet.npy", np.stack([ts, red, green, blue], -1).astype(np.float64))
