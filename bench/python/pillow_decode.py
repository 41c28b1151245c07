#!/usr/bin/env python3
"""Pillow's frame decode on the same bytes image_bench times:
`np.asarray(Image.open(BytesIO(b)).convert("RGB"))` per frame, frames/s on one core.

    build/release/bench/image_bench --benchmark_filter=none   # writes the frame files
    python bench/python/pillow_decode.py --write-pil          # adds Pillow-written PNGs
    build/release/bench/image_bench                           # now times pil_* too
    python bench/python/pillow_decode.py                      # times Pillow on every set

The frame files (MOUSE_IMAGE_FRAMES_DIR, default /tmp/mouse-image-frames) are "MFRAMES1",
a little-endian uint32 count, then per frame uint32 height, width, channels, byte length and
the bytes. --write-pil encodes raw_84 / raw_32 with Pillow's PNG defaults (as `datasets` does:
Image.fromarray(a).save(buf, format="PNG")) into pil_84 / pil_32. Each set is checked against
the pixels mouse-data's decode_image gave it (<set>.decoded.frames, written by image_bench): the
report says whether Pillow's pixels are identical.
"""

from __future__ import annotations

import argparse
import io
import os
import struct
import sys
import time

import numpy as np
from PIL import Image
import PIL


def read_frames(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"MFRAMES1":
        raise SystemExit(f"{path}: not a frame file (expected MFRAMES1)")
    (n,) = struct.unpack_from("<I", data, 8)
    pos, frames = 12, []
    for _ in range(n):
        h, w, c, size = struct.unpack_from("<4I", data, pos)
        pos += 16
        frames.append(((h, w, c), data[pos : pos + size]))
        pos += size
    return frames


def write_frames(path, frames):
    with open(path, "wb") as f:
        f.write(b"MFRAMES1" + struct.pack("<I", len(frames)))
        for (h, w, c), b in frames:
            f.write(struct.pack("<4I", h, w, c, len(b)) + b)


def decode(b):
    return np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))


def time_set(frames, seconds):
    blobs = [b for _, b in frames]
    for b in blobs[:8]:
        decode(b)
    n, start = 0, time.process_time()
    while True:
        for b in blobs:
            decode(b)
        n += len(blobs)
        spent = time.process_time() - start
        if spent >= seconds:
            return n / spent


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=os.environ.get("MOUSE_IMAGE_FRAMES_DIR", "/tmp/mouse-image-frames"))
    ap.add_argument("--write-pil", action="store_true", help="write pil_84 / pil_32 from raw_84 / raw_32")
    ap.add_argument("--seconds", type=float, default=2.0, help="CPU seconds per set")
    args = ap.parse_args()

    if args.write_pil:
        for side in (84, 32):
            raw = read_frames(os.path.join(args.dir, f"raw_{side}.frames"))
            out = []
            for (h, w, c), b in raw:
                buf = io.BytesIO()
                Image.fromarray(np.frombuffer(b, np.uint8).reshape(h, w, c)).save(buf, format="PNG")
                out.append(((h, w, c), buf.getvalue()))
            write_frames(os.path.join(args.dir, f"pil_{side}.frames"), out)
            print(f"wrote pil_{side}.frames ({len(out)} frames)", file=sys.stderr)

    print(f"Pillow {PIL.__version__}, numpy {np.__version__}, Python {sys.version.split()[0]}")
    print("| set | frames | Pillow frames/s (1 core, CPU time) | Pillow's pixels = decode_image's |")
    print("|---|---|---|---|")
    for name in ("ours_84", "ours_32", "pil_84", "pil_32", "pusht_96", "jpeg_84"):
        path = os.path.join(args.dir, f"{name}.frames")
        if not os.path.exists(path):
            print(f"| {name} | — | not there (run image_bench first) | |")
            continue
        frames = read_frames(path)
        verdict = "—"
        ours_path = os.path.join(args.dir, f"{name}.decoded.frames")
        if os.path.exists(ours_path):
            ours = read_frames(ours_path)
            same = len(ours) == len(frames) and all(
                decode(b).tobytes() == px for (_, b), (_, px) in zip(frames, ours))
            verdict = "yes" if same else "NO"
        rate = time_set(frames, args.seconds)
        print(f"| {name} | {len(frames)} | {rate:,.0f} | {verdict} |")


if __name__ == "__main__":
    main()
