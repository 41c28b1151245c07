"""Collectors on Ray (SPEC §9): how fast prebuilt blocks of steps reach one learner's store.

Each collector is a Ray task that builds its blocks first (synthetic, so this measures the path,
not environments), then writes them as fast as it can:

- mouse_data: ``StoreWriter.append_columns`` of each block (one episode per block, cut there),
  shipped in parcels (one Arrow IPC stream of blocks per Ray object, 16 MiB by default)
  through Ray's object store, applied by the learner's
  ``StoreIngest`` into a ``DatasetStore``;
- TorchRL: ``RayReplayBuffer`` (a ``LazyTensorStorage`` in its Ray actor), each collector
  calling ``extend`` with a TensorDict of the same block through the buffer's client.

Rates count from the moment every collector has its blocks built until the last step landed, with 1, 2 and 4 collectors, for
CartPole-sized steps (observation float32[4], action, reward, done) and 84x84x3 uint8 frames.
Then the learner's ``next_batch`` (PrefetchBatchifier, B=32, S=64, random windows of a store
of CartPole steps) is timed idle and while about 100k steps/s are ingested.

Usage: python bench/ray_bench.py [--quick]   (mouse_data importable; ray and torchrl
installed). Prints markdown tables.
"""

from __future__ import annotations

import argparse
import os
import platform
import threading
import time
from functools import partial

import numpy as np

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray  # noqa: E402

import mouse_data as md  # noqa: E402
from mouse_data.ray import StoreIngest  # noqa: E402

FRAME = 84 * 84 * 3


def make_block(kind: str, rows: int, seed: int) -> dict[str, np.ndarray]:
    """One episode of `rows` steps (done 1 on its last row)."""
    rng = np.random.default_rng(seed)
    done = np.zeros(rows, dtype=np.int64)
    done[-1] = 1
    cols = {"action": rng.integers(0, 2, rows), "reward": np.ones(rows),
            "done": done}
    if kind == "cartpole":
        cols["observation"] = rng.standard_normal((rows, 4), dtype=np.float32)
    else:
        cols["frame"] = rng.integers(0, 255, (rows, FRAME), dtype=np.uint8)
    return cols


def step_bytes(kind: str) -> int:
    return (16 if kind == "cartpole" else FRAME) + 8 + 8 + 8


@ray.remote(num_cpus=0)
class Gate:
    """Collectors build their blocks, report ready, and start writing together when opened, so
    the timing leaves out worker start-up and block building."""

    def __init__(self) -> None:
        import asyncio

        self.ready = 0
        self.opened = asyncio.Event()

    async def arrive(self) -> None:
        self.ready += 1
        await self.opened.wait()

    async def count(self) -> int:
        return self.ready

    async def open(self) -> None:
        self.opened.set()


@ray.remote(num_cpus=0)
def mouse_collector(writer, kind: str, rows: int, blocks: int, seed: int, gate) -> int:
    data = [make_block(kind, rows, seed * 1000 + b) for b in range(min(blocks, 8))]
    ray.get(gate.arrive.remote())
    for b in range(blocks):
        writer.append_columns(data[b % len(data)])
    writer.close()
    return rows * blocks


@ray.remote(num_cpus=0)
def torchrl_collector(client, kind: str, rows: int, blocks: int, seed: int, gate) -> int:
    import torch
    from tensordict import TensorDict

    data = [TensorDict({k: torch.from_numpy(v) for k, v in make_block(kind, rows, seed * 1000 + b).items()},
                       batch_size=[rows]) for b in range(min(blocks, 8))]
    ray.get(gate.arrive.remote())
    for b in range(blocks):
        client.extend(data[b % len(data)])
    return rows * blocks


def timed(count, total: int, refs: list, gate, timeout: float = 600) -> float:
    """Steps/s from opening the gate (once every collector arrived) until count() reaches
    `total`; a collector that failed raises here."""
    deadline = time.monotonic() + timeout

    def check() -> None:
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        ray.get(ready)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count()} of {total}")

    while ray.get(gate.count.remote()) < len(refs):
        check()
        time.sleep(0.01)
    t0 = time.perf_counter()
    ray.get(gate.open.remote())
    while count() < total:
        check()
        time.sleep(0.002)
    return total / (time.perf_counter() - t0)


def run_mouse(kind: str, collectors: int, rows: int, blocks: int) -> float:
    store = md.DatasetStore(max_action_dim=2, max_obs_continuous_dim=4 if kind == "cartpole" else 0)
    ingest = StoreIngest(store, block_steps=rows, log_every=0)
    try:
        gate = Gate.remote()
        refs = [mouse_collector.remote(ingest.writer(f"c{c}"), kind, rows, blocks, c, gate)
                for c in range(collectors)]
        rate = timed(lambda: ingest.stats()["steps_applied"], collectors * rows * blocks, refs,
                     gate)
        ray.get(refs)
        assert len(store) == collectors * rows * blocks
        return rate
    finally:
        ingest.close()


def run_torchrl(kind: str, collectors: int, rows: int, blocks: int) -> float:
    from torchrl.data import LazyTensorStorage
    from torchrl.data.replay_buffers.ray_buffer import RayReplayBuffer

    total = collectors * rows * blocks
    rb = RayReplayBuffer(storage=partial(LazyTensorStorage, total), batch_size=32,
                         remote_config={"num_cpus": 0})
    try:
        client = rb.client()
        gate = Gate.remote()
        refs = [torchrl_collector.remote(client, kind, rows, blocks, c, gate)
                for c in range(collectors)]
        rate = timed(lambda: len(rb), total, refs, gate)
        ray.get(refs)
        return rate
    finally:
        rb.close()


@ray.remote(num_cpus=0)
def paced_collector(writer, rows: int, rate: float, seconds: float) -> int:
    block = make_block("cartpole", rows, 7)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        writer.append_columns(block)
        n += rows
        sleep = t0 + n / rate - time.perf_counter()
        if sleep > 0:
            time.sleep(sleep)
    writer.close()
    return n


def next_batch_times(quick: bool, workers: int) -> tuple[float, float, float, float]:
    """Mean next() seconds idle, while ~100k steps/s are ingested, and idle again afterwards
    (the store then holds the ingested steps too: random windows over more rows cost more
    cache misses), and the rate reached. With 0 workers batches are assembled on the calling
    thread, so the time is their cost."""
    rows = 200_000 if quick else 2_000_000  # beyond the caches: growth by ingestion changes little
    store = md.DatasetStore(max_action_dim=2, max_obs_continuous_dim=4)
    store.append_columns(make_block("cartpole", rows, 1))
    batcher = md.PrefetchBatchifier(store, 64, 32, num_workers=workers, seed=0, format="numpy")
    seconds = 3.0 if quick else 6.0

    def mean_next(for_s: float) -> float:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < for_s:
            batcher.next()
            n += 1
        return (time.perf_counter() - t0) / n

    try:
        mean_next(0.5)
        idle = mean_next(seconds)
        ingest = StoreIngest(store, block_steps=5000, log_every=0)
        try:
            ref = paced_collector.remote(ingest.writer("paced"), 5000, 100_000, seconds + 3)
            ingest.wait(5000, timeout=60)
            before = ingest.stats()["steps_applied"]
            t0 = time.perf_counter()
            busy = mean_next(seconds)
            rate = (ingest.stats()["steps_applied"] - before) / (time.perf_counter() - t0)
            ray.get(ref)
        finally:
            ingest.close()
        after = mean_next(seconds)
        return idle, busy, after, rate
    finally:
        batcher.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a small run (about a minute)")
    ap.add_argument("--only-sampling", action="store_true", help="skip the ingest-rate table")
    args = ap.parse_args()
    ray.init(num_cpus=4, include_dashboard=False, _node_ip_address="127.0.0.1",
             configure_logging=False, log_to_driver=False)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"load {os.getloadavg()[0]:.2f}; ray {ray.__version__}\n")
    sizes = {"cartpole": (10_000, 20 if args.quick else 300),
             "frames": (100, 10 if args.quick else 40)}
    print("| steps | collectors | mouse-data steps/s | MB/s | TorchRL RayReplayBuffer steps/s "
          "| MB/s | ratio |")
    print("|---|---|---|---|---|---|---|")
    for kind, (rows, blocks) in ({} if args.only_sampling else sizes).items():
        for collectors in (1, 2, 4):
            ours = run_mouse(kind, collectors, rows, blocks)
            try:
                theirs = run_torchrl(kind, collectors, rows, blocks)
            except Exception as e:  # noqa: BLE001 - report, keep going
                print(f"TorchRL failed: {e!r}")
                theirs = float("nan")
            mb = step_bytes(kind) / 1e6
            print(f"| {kind} ({rows}-step blocks) | {collectors} | {ours:,.0f} | {ours * mb:,.0f} "
                  f"| {theirs:,.0f} | {theirs * mb:,.0f} | {ours / theirs:.1f}x |", flush=True)
    print("\n| next_batch (B=32, S=64, CartPole) | workers | idle, µs | while ingesting, µs "
          "| idle after, µs | ingest rate, steps/s | slowdown vs before / after |")
    print("|---|---|---|---|---|---|---|")
    for workers in (0, 1):
        idle, busy, after, rate = next_batch_times(args.quick, workers)
        print(f"| random windows | {workers} | {idle * 1e6:.1f} | {busy * 1e6:.1f} "
              f"| {after * 1e6:.1f} | {rate:,.0f} | {100 * (busy / idle - 1):.0f}% / "
              f"{100 * (busy / after - 1):.0f}% |", flush=True)
    print(f"\nload after: {os.getloadavg()[0]:.2f}")
    ray.shutdown()


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
