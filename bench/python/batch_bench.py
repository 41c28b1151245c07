#!/usr/bin/env python3
"""next_batch from Python, in one run beside the C++ batch_bench, a memcpy of the same batch
bytes and mouse-core 0.3.0's PrefetchBatchifier on the same data (B=32, S=64, random windows of
a 1M-step CartPole-like dataset), plus the time to open 1M / 10M-row datasets through `datasets`.
Packed batches (layout="packed", max_tokens=32*64, batch_size=32: the same windows' rows) beside
the padded ones, and the cost of a Python ``preparer`` on its thread against the same function
called on the consumer's thread.

    PYTHONPATH=build/release/python python bench/python/batch_bench.py [--build build/release]

Prints a Markdown table (what BENCHMARKS.md records) and, with --json, the raw numbers.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import types

import numpy as np

B, S = 32, 64


def load_mouse_core():
    """mouse.data from mouse-core 0.3.0 without its model code (which needs transformers)."""
    spec = importlib.util.find_spec("mouse")
    if spec is None or not spec.submodule_search_locations:
        return None
    # Stub the packages: mouse/__init__ imports the models (transformers) and mouse/data/__init__
    # imports hub.py, which needs names the pinned huggingface_hub no longer has.
    root = list(spec.submodule_search_locations)[0]
    for name, path in (("mouse", root), ("mouse.data", os.path.join(root, "data"))):
        pkg = types.ModuleType(name)
        pkg.__path__ = [path]
        sys.modules.setdefault(name, pkg)
    try:
        import mouse.data.batch as batch
        import mouse.data.dataset_store as store
    except ImportError as e:
        print(f"mouse-core not usable: {e}", file=sys.stderr)
        return None
    return store.DatasetStore, batch.PrefetchBatchifier


def time_batches(next_batch, n, warmup=5):
    for _ in range(warmup):
        next_batch()
    t0 = time.perf_counter()
    for _ in range(n):
        next_batch()
    return (time.perf_counter() - t0) / n


def cxx_batch_bench(binary):
    out = subprocess.run(
        [binary, "--benchmark_filter=BM_Batchifier/mode:0/workers:[012]/episode:0/|BM_MemcpyBaseline/"
                 "|BM_MemcpyBaselinePacked/|BM_PackedVsPadded/variant:[01]/",
         "--benchmark_format=json", "--benchmark_min_time=2s"],
        capture_output=True, text=True, check=True)
    res = {}
    for b in json.loads(out.stdout)["benchmarks"]:
        res[b["name"]] = b["real_time"] * {"us": 1e-6, "ms": 1e-3, "ns": 1e-9}[b["time_unit"]]
    return res


def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--batches", type=int, default=2000)
    ap.add_argument("--core-batches", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--skip-open", action="store_true")
    ap.add_argument("--skip-core", action="store_true", help="leave out mouse-core 0.3.0")
    args = ap.parse_args()

    import datasets

    import mouse_data

    res: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mouse-py-bench-") as tmp:
        path = os.path.join(tmp, "cartpole")
        subprocess.run([os.path.join(args.build, "bench", "mouse-synth"), path, "1000000"], check=True)
        ds = datasets.load_from_disk(path)

        store = mouse_data.DatasetStore(max_action_dim=2, max_obs_continuous_dim=4)
        t0 = time.perf_counter()
        store.from_dataset(ds)
        res["open 1M (from_dataset of a loaded datasets.Dataset)"] = time.perf_counter() - t0
        nbytes = sum(v.numel() * v.element_size() for v in store[np.arange(B * S)].values())

        for fmt in ("torch", "numpy"):
            for workers in (0, 1, 2):
                b = mouse_data.PrefetchBatchifier(store, S, B, num_workers=workers, prefetch=8,
                                                  seed=1, format=fmt)
                res[f"mouse_data {fmt} workers={workers}"] = time_batches(b.next_batch, args.batches)
                b.close()

        src = np.ones(1_000_000 * (nbytes // (B * S)), dtype=np.uint8)
        row = nbytes // (B * S)
        rng = np.random.default_rng(1)

        def memcpy_batch():
            dst = np.empty(nbytes, dtype=np.uint8)
            for w, st in enumerate(rng.integers(0, 1_000_000 - S, B)):
                dst[w * S * row:(w + 1) * S * row] = src[st * row:(st + S) * row]
            return dst

        res["numpy memcpy of the batch bytes"] = time_batches(memcpy_batch, args.batches)

        for workers in (0, 1, 2):
            b = mouse_data.PrefetchBatchifier(store, S, B, num_workers=workers, prefetch=8,
                                              seed=1, layout="packed", max_tokens=B * S)
            res[f"mouse_data torch packed T={B * S} workers={workers}"] = time_batches(
                b.next_batch, args.batches)
            b.close()

        # A preparer: the same function on the preparer thread (fed by the C++ workers) and on
        # the consumer's thread after next_batch. "light" is a few small torch ops per batch
        # (document starts, a cumulative sum), tens of microseconds.
        def light(td):
            starts = td["position"].eq(0).nonzero()
            return starts.numel() + td["reward"].cumsum(0)[-1].item()

        for name, fn in (("identity", lambda td: td), ("light", light)):
            b = mouse_data.PrefetchBatchifier(store, S, B, num_workers=2, prefetch=8, seed=1,
                                              layout="packed", max_tokens=B * S)
            res[f"packed + {name} on the consumer thread"] = time_batches(
                lambda: fn(b.next_batch()), args.batches)  # noqa: B023
            b.close()
            b = mouse_data.PrefetchBatchifier(store, S, B, num_workers=2, prefetch=8, seed=1,
                                              layout="packed", max_tokens=B * S, preparer=fn)
            res[f"packed + {name} as preparer"] = time_batches(b.next_batch, args.batches)
            b.close()

        cxx = cxx_batch_bench(os.path.join(args.build, "bench", "batch_bench"))
        for w in (0, 1, 2):
            res[f"C++ batch_bench workers={w}"] = cxx[
                f"BM_Batchifier/mode:0/workers:{w}/episode:0/real_time"]
        res["C++ memcpy baseline"] = cxx["BM_MemcpyBaseline/real_time"]
        for w in (0, 1, 2):
            res[f"C++ packed T={B * S} B={B} workers={w}"] = cxx[
                f"BM_PackedVsPadded/variant:1/workers:{w}/real_time"]
            res[f"C++ padded (same bench) workers={w}"] = cxx[
                f"BM_PackedVsPadded/variant:0/workers:{w}/real_time"]
        res["C++ memcpy baseline of the packed bytes"] = cxx["BM_MemcpyBaselinePacked/real_time"]

        core = None if args.skip_core else load_mouse_core()
        if core is not None:
            CoreStore, CoreBatchifier = core
            cs = CoreStore(max_action_dim=2, max_obs_continuous_dim=4)
            cs.from_dataset(ds)
            for workers in (0, 2):
                b = CoreBatchifier(cs, S, B, sampling="random", num_workers=workers, prefetch=4)
                res[f"mouse-core 0.3.0 workers={workers}"] = time_batches(
                    b.next_batch, args.core_batches, warmup=2)
                b.close()

        if not args.skip_open:
            big = os.path.join(tmp, "cartpole10m")
            subprocess.run([os.path.join(args.build, "bench", "mouse-synth"), big, "10000000"],
                           check=True)
            ds10 = datasets.load_from_disk(big)
            before = rss_mb()
            t0 = time.perf_counter()
            s10 = mouse_data.DatasetStore(max_action_dim=2, max_obs_continuous_dim=4)
            s10.from_dataset(ds10)
            res["open 10M (from_dataset of a loaded datasets.Dataset)"] = time.perf_counter() - t0
            res["open 10M RSS growth (MB)"] = rss_mb() - before

    if args.json:
        print(json.dumps(res, indent=1))
    print(f"\nB={B} S={S}, {nbytes} batch bytes; load {os.getloadavg()[0]:.2f}\n")
    print("| what | µs / batch | batches/s |")
    print("|---|---|---|")
    for k, v in res.items():
        if k.startswith("open"):
            continue
        print(f"| {k} | {v * 1e6:.1f} | {1 / v:.0f} |")
    ratio = lambda a, b: res[a] / res[b]  # noqa: E731
    print()
    for w in (0, 1, 2):
        print(f"Python / C++ at workers={w}: "
              f"{ratio(f'mouse_data torch workers={w}', f'C++ batch_bench workers={w}'):.3f}")
        if f"mouse-core 0.3.0 workers={w}" in res:
            print(f"mouse-core / mouse_data at workers={w}: "
                  f"{ratio(f'mouse-core 0.3.0 workers={w}', f'mouse_data torch workers={w}'):.0f}x")
    for w in (0, 1, 2):
        print(f"packed / padded per row at workers={w}: Python "
              f"{ratio(f'mouse_data torch packed T={B * S} workers={w}', f'mouse_data torch workers={w}'):.3f}, "
              f"C++ {ratio(f'C++ packed T={B * S} B={B} workers={w}', f'C++ padded (same bench) workers={w}'):.3f}")
    print(f"C++ packed / memcpy of its bytes at workers=0: "
          f"{ratio(f'C++ packed T={B * S} B={B} workers=0', 'C++ memcpy baseline of the packed bytes'):.3f}; "
          f"padded / memcpy of its bytes: "
          f"{ratio('C++ padded (same bench) workers=0', 'C++ memcpy baseline'):.3f}")
    for name in ("identity", "light"):
        print(f"preparer {name}: {res[f'packed + {name} as preparer'] * 1e6:.1f} µs/batch on its "
              f"thread vs {res[f'packed + {name} on the consumer thread'] * 1e6:.1f} on the "
              "consumer's")
    for k, v in res.items():
        if k.startswith("open"):
            print(f"{k}: {v * (1 if 'MB' in k else 1e3):.2f} {'MB' if 'MB' in k else 'ms'}")


if __name__ == "__main__":
    main()
