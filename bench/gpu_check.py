"""GPU check of ``PrefetchBatchifier(device="cuda")`` on a real NVIDIA GPU (CUDA build of torch).

    PYTHONPATH=build/release/python python bench/gpu_check.py [--rows 1000000] [--batches 10000]

Checks, each printed with its numbers; the exit status is 1 when one fails:
1. pinned: ``pin_memory=True`` batches are page-locked (``Tensor.is_pinned``) and a
   ``device="cuda"`` batchifier reports pinned host slabs.
2. equal: ``device="cuda"`` batches equal the host batches of the same seed, read on the
   current stream and on a side stream of the consumer's own.
3. bandwidth: host-to-device bytes per second of ``next_batch`` on the GPU (consumed by a
   kernel on the current stream) beside ``copy_`` of the same bytes from pinned memory (the
   floor, ``cudaMemcpyAsync``) and beside the CPU batchifier + ``.to("cuda", non_blocking)``.
4. leak: over ``--batches`` batches, GPU memory in use (``cudaMemGetInfo``) and the process's
   resident memory do not grow after the warm-up.

It prints a Markdown table for BENCHMARKS.md with the card's name.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

import mouse_data


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_store(rows: int, obs_dim: int) -> mouse_data.DatasetStore:
    rng = np.random.default_rng(0)
    store = mouse_data.DatasetStore(max_action_dim=4, max_obs_continuous_dim=obs_dim)
    store.append_columns({
        "action": rng.integers(0, 4, rows),
        "reward": rng.normal(size=rows).astype(np.float32),
        "done": (rng.random(rows) < 0.01).astype(np.int64),
        "obs_continuous": rng.normal(size=(rows, obs_dim)).astype(np.float32),
    })
    return store


def batch_bytes(td) -> int:
    return sum(t.numel() * t.element_size() for t in td.values())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--obs-dim", type=int, default=64)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--batches", type=int, default=10_000)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("gpu_check: torch.cuda.is_available() is False: no GPU to check", file=sys.stderr)
        return 2
    card = torch.cuda.get_device_name(0)
    failures: list[str] = []
    rows: list[tuple[str, str, str]] = []
    store = make_store(args.rows, args.obs_dim)
    S, B = args.seq, args.batch
    kw = dict(sampling="random", seed=11, num_workers=args.workers, format="torch")

    # 1. pinned
    with mouse_data.PrefetchBatchifier(store, S, B, pin_memory=True, **kw) as pin:
        b = pin.next_batch()
        pinned = all(t.is_pinned() for t in b.values())
    gpu = mouse_data.PrefetchBatchifier(store, S, B, device="cuda", **kw)
    ok = pinned and gpu.pinned
    rows.append(("pinned host memory", f"pin_memory batches pinned: {pinned}; device "
                 f"batchifier pinned: {gpu.pinned}", "ok" if ok else "FAIL"))
    if not ok:
        failures.append("pinned")

    # 2. equal, on the current stream and on a side stream
    host = mouse_data.PrefetchBatchifier(store, S, B, **kw)
    side = torch.cuda.Stream()
    equal = True
    for i in range(200):
        h = host.next_batch()
        # Kernels that read the batch on the consumer's stream right away: if that stream did
        # not wait for the copy, the clones would hold bytes of a copy still in flight.
        if i % 2:
            with torch.cuda.stream(side):
                g = gpu.next_batch()
                clones = {k: v.clone() for k, v in g.items()}
            side.synchronize()
        else:
            g = gpu.next_batch()
            clones = {k: v.clone() for k, v in g.items()}
        equal &= g.device == torch.device("cuda", 0)
        for k, v in h.items():
            equal &= bool(torch.equal(clones[k].cpu(), v))
            equal &= bool(torch.equal(g[k].cpu(), v))
    host.close()
    rows.append(("equal to host batches", "200 batches, current and side stream",
                 "ok" if equal else "FAIL"))
    if not equal:
        failures.append("equal")

    # 3. bandwidth: GPU batches consumed by a kernel, against the floor and the CPU path
    nbytes = batch_bytes(gpu.next_batch())
    n = 2000
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        g = gpu.next_batch()
        g["obs_continuous"].add_(0)  # consume on the current stream
    torch.cuda.synchronize()
    ours = n * nbytes / (time.perf_counter() - t0)

    src = torch.empty(nbytes, dtype=torch.uint8).pin_memory()
    dst = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        dst.copy_(src, non_blocking=True)
    torch.cuda.synchronize()
    floor = n * nbytes / (time.perf_counter() - t0)

    with mouse_data.PrefetchBatchifier(store, S, B, pin_memory=True, **kw) as cpu:
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(n):
            g = cpu.next_batch().to("cuda", non_blocking=True)
            g["obs_continuous"].add_(0)
        torch.cuda.synchronize()
        cpu_path = n * nbytes / (time.perf_counter() - t0)
    rows.append(("H2D, device=\"cuda\"", f"{ours / 1e9:.2f} GB/s ({nbytes / 2**20:.2f} MiB "
                 f"batches)", f"{ours / floor:.2f}x the floor"))
    rows.append(("H2D floor, pinned copy_", f"{floor / 1e9:.2f} GB/s", "1.00x"))
    rows.append(("pin_memory + .to(cuda)", f"{cpu_path / 1e9:.2f} GB/s",
                 f"{cpu_path / floor:.2f}x the floor"))

    # 4. leak over many batches
    for _ in range(200):
        gpu.next_batch()
    torch.cuda.synchronize()
    free0, total = torch.cuda.mem_get_info()
    rss0 = rss_mb()
    for _ in range(args.batches):
        g = gpu.next_batch()
        g["reward"].add_(0)
    torch.cuda.synchronize()
    free1, _ = torch.cuda.mem_get_info()
    rss1 = rss_mb()
    grew_gpu = (free0 - free1) / 2**20
    grew_rss = rss1 - rss0
    leak_ok = grew_gpu < 64 and grew_rss < 64
    rows.append((f"no leak over {args.batches} batches",
                 f"GPU memory in use +{grew_gpu:.1f} MiB, RSS +{grew_rss:.1f} MiB",
                 "ok" if leak_ok else "FAIL"))
    if not leak_ok:
        failures.append("leak")
    gpu.close()

    print(f"\nGPU check on {card} (torch {torch.__version__}, CUDA {torch.version.cuda}), "
          f"{args.rows} rows, batches [{B}, {S}] with obs_continuous [{args.obs_dim}], "
          f"{args.workers} workers\n")
    print("| check | measured | result |")
    print("|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")
    if failures:
        print(f"\nFAILED: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
