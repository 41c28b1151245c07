"""The peers of bench/peers/run.py: one class per way of getting [B, S] windows of consecutive
steps out of the same on-disk dataset. run.py starts one process per (peer, dataset), which
imports this module, opens the peer, times every variant (worker counts, samplers) and reports
JSON on stdout, so each peer's open time and peak RSS are its own.

Every peer gives (a) `open()`, (b) `variants()`: (label, workers, make) where make() returns a
`next_batch` callable and a closer, and (c) `check()`: the window starts and the first window in
canonical form (the SPEC's tensor keys), for run.py to compare with mouse_data's own rows.
"""

from __future__ import annotations

import os
import sys
import time
import types
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

B, S = 32, 64

# Dataset column -> tensor key of mouse_data / mouse-core (SPEC section 3).
COLUMN_KEYS = {
    "action": "action",
    "reward": "reward",
    "done": "done",
    "xformed_reward": "xformed_reward",
    "episode_step": "time",
    "observation": "obs_continuous",
    "observation_discrete": "obs_discrete",
    "metadata_q_star": "q_star",
    "observation_image": "obs_image",
}


@dataclass
class Spec:
    """What a peer process is given (run.py passes it as JSON)."""

    name: str                     # dataset name, e.g. cartpole-1m
    path: str                     # save_to_disk directory
    rows: int
    columns: list[str]            # dataset columns (with their dtypes in npy/)
    npy_dir: str                  # one .npy per column (images pre-decoded to uint8 H x W x C)
    scratch: str                  # a directory the peer may write to
    image_shape: list[int] | None = None
    max_action_dim: int = 2
    obs_dim: int = 0
    check_starts: list[int] = field(default_factory=list)
    min_time: float = 2.0         # seconds per timed variant
    min_batches: int = 3
    max_batches: int = 20000
    quick: bool = False


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def canonical_window(columns: dict[str, Any], spec: Spec) -> dict[str, np.ndarray]:
    """Raw dataset columns of one window ([S, ...] each) as the SPEC's keys and shapes, to be held
    against mouse_data's encoded rows."""
    out = {}
    for col, value in columns.items():
        key = COLUMN_KEYS.get(col)
        if key is None:
            continue
        a = _to_numpy(value)
        if key == "obs_image":
            a = a.reshape(a.shape[0], -1)
        elif key == "q_star" and a.shape[-1] < spec.max_action_dim:
            pad = np.full((a.shape[0], spec.max_action_dim - a.shape[-1]), -np.inf, a.dtype)
            a = np.concatenate([a, pad], axis=1)
        out[key] = a
    return out


def batch_shapes(batch: Any) -> dict[str, list[int]]:
    """Shape of every tensor of a batch (TensorDict, dict of tensors or of arrays)."""
    if hasattr(batch, "items") and not isinstance(batch, dict):
        items = batch.items(include_nested=True, leaves_only=True)
    else:
        items = batch.items()
    return {"/".join(k) if isinstance(k, tuple) else k: list(v.shape) for k, v in items}


def batch_nbytes(batch: Any) -> int:
    if hasattr(batch, "items") and not isinstance(batch, dict):
        items = batch.items(include_nested=True, leaves_only=True)
    else:
        items = batch.items()
    total = 0
    for _, v in items:
        total += v.numel() * v.element_size() if hasattr(v, "numel") else v.nbytes
    return total


def random_starts(rng: np.random.Generator, rows: int) -> np.ndarray:
    return rng.integers(0, rows - S + 1, size=B)


WORKER_PEAK_MB: list[float] = []
"""Peak RSS of each DataLoader worker process, read before it is shut down."""


def _peak_rss_mb(pid: int | str = "self") -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class _BatchTask:
    """A map-style torch Dataset whose item k is batch k ([B, S] windows at random starts drawn
    from (seed, k)), for a torch DataLoader with batch_size=None and worker processes."""

    def __init__(self, fetch: Callable[[np.ndarray], Any], rows: int, length: int, seed: int = 7):
        self.fetch, self.rows, self.length, self.seed = fetch, rows, length, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, k: int) -> Any:
        return self.fetch(random_starts(np.random.default_rng((self.seed, k)), self.rows))


def dataloader_variant(fetch: Callable[[np.ndarray], Any], rows: int, workers: int):
    """next_batch over `fetch`: called directly for 0 workers (no DataLoader overhead), through a
    torch DataLoader with `workers` processes otherwise (its defaults: prefetch_factor 2)."""
    if workers == 0:
        rng = np.random.default_rng(7)
        return (lambda: fetch(random_starts(rng, rows))), (lambda: None)
    import torch.utils.data as tud

    task = _BatchTask(fetch, rows, 1 << 30)
    task.__class__ = type("BatchTask", (_BatchTask, tud.Dataset), {})
    # fork: the DataLoader's default on Linux, stated because importing torchrl makes spawn the
    # process-wide default (relevant when --quick runs every peer in one process).
    loader = tud.DataLoader(task, batch_size=None, shuffle=False, num_workers=workers,
                            persistent_workers=True, multiprocessing_context="fork")
    it = iter(loader)

    def close() -> None:
        nonlocal it
        for w in getattr(it, "_workers", []):
            WORKER_PEAK_MB.append(_peak_rss_mb(w.pid))
        del it

    return (lambda: next(it)), close


# ------------------------------------------------------------------------------------------
# mouse_data (ours)


class MouseData:
    """mouse_data from Python: DatasetStore.from_dataset(path) maps the Arrow files (no copy),
    PrefetchBatchifier with C++ workers. Images decode to uint8 (the fast option) and int64 (the
    default, as mouse-core), through the frame cache the store builds by default (decoded once,
    in the cache directory), and, for comparison, without it (image_cache=False: decoded on
    every read)."""

    name = "mouse_data"

    def __init__(self, spec: Spec):
        self.spec = spec

    def _store(self, image_dtype: str = "uint8", image_cache=None, populate: bool = False):
        import mouse_data

        sp = self.spec
        pixels = int(np.prod(sp.image_shape)) if sp.image_shape else 0
        store = mouse_data.DatasetStore(max_action_dim=sp.max_action_dim,
                                        max_obs_continuous_dim=sp.obs_dim,
                                        max_obs_discrete_dim=64 if "observation_discrete" in sp.columns else 0,
                                        max_obs_image_pixels=pixels, obs_image_dtype=image_dtype,
                                        image_cache=image_cache, populate=populate)
        store.from_dataset(sp.path)
        return store

    def open(self) -> None:
        self.store = self._store()

    def variants(self):
        import mouse_data

        def make(store, workers, sampling="random"):
            def build():
                b = mouse_data.PrefetchBatchifier(store, S, B, sampling=sampling,
                                                  num_workers=workers, prefetch=8, seed=1)
                return b.next_batch, b.close
            return build

        out = [(f"random, {w} workers", w, make(self.store, w)) for w in (0, 2)]
        out += [(f"batch (epochs), {w} workers", w, make(self.store, w, "batch")) for w in (0, 2)]
        if self.spec.image_shape:
            self.store64 = self._store("int64")
            out += [(f"random, int64 images, {w} workers", w, make(self.store64, w)) for w in (0, 2)]
            self.store_decode = self._store(image_cache=False)
            out += [(f"random, no frame cache, {w} workers", w, make(self.store_decode, w))
                    for w in (0, 2)]
        else:
            # The mapped columns pre-faulted at open (populate=True): the cost of a batch
            # without page faults, beside the default's at each size.
            self.store_populated = self._store(populate=True)
            out += [(f"random, populate, {w} workers", w, make(self.store_populated, w))
                    for w in (0, 2)]
        return out

    def check(self):
        import mouse_data

        b = mouse_data.PrefetchBatchifier(self.store, S, B, num_workers=0, seed=1)
        got = b.next()
        b.close()
        starts = [int(s) for s in got.starts]
        window = {k: _to_numpy(v[0]) for k, v in got.data.items()}
        return starts, window


# ------------------------------------------------------------------------------------------
# mouse-core 0.3.0


def import_mouse_core():
    """mouse.data's dataset_store and batch modules of mouse-core 0.3.0. Its package __init__
    files import model code (transformers) and a Hub module written for an older huggingface_hub,
    so `mouse` and `mouse.data` are registered as bare packages and the two modules imported."""
    import importlib.util

    if "mouse.data.batch" in sys.modules:
        return sys.modules["mouse.data.dataset_store"], sys.modules["mouse.data.batch"]
    spec = importlib.util.find_spec("mouse")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("mouse-core is not installed")
    root = list(spec.submodule_search_locations)[0]
    for name, path in (("mouse", root), ("mouse.data", os.path.join(root, "data"))):
        pkg = types.ModuleType(name)
        pkg.__path__ = [path]
        sys.modules[name] = pkg
    import mouse.data.batch as batch
    import mouse.data.dataset_store as store

    return store, batch


class MouseCore:
    """mouse-core 0.3.0: DatasetStore.from_dataset(load_from_disk(path)) and its
    PrefetchBatchifier (Python threads, rows through datasets' row access)."""

    name = "mouse-core 0.3.0"

    def __init__(self, spec: Spec):
        self.spec = spec

    def open(self) -> None:
        import datasets

        self.mc_store, self.mc_batch = import_mouse_core()
        sp = self.spec
        pixels = int(np.prod(sp.image_shape)) if sp.image_shape else 0
        self.store = self.mc_store.DatasetStore(
            max_action_dim=sp.max_action_dim, max_obs_continuous_dim=sp.obs_dim,
            max_obs_discrete_dim=64 if "observation_discrete" in sp.columns else 0,
            max_obs_image_pixels=pixels)
        self.store.from_dataset(datasets.load_from_disk(sp.path))

    def variants(self):
        def make(workers):
            def build():
                b = self.mc_batch.PrefetchBatchifier(self.store, S, B, sampling="random",
                                                     prefetch=8, num_workers=workers)
                return b.next_batch, b.close
            return build

        return [(f"random, {w} workers", w, make(w)) for w in (0, 2)]

    def check(self):
        # Synchronous mode draws its starts from numpy's default_rng(0) (seeded, not settable);
        # run.py also checks that this window is the one at the starts given here.
        b = self.mc_batch.PrefetchBatchifier(self.store, S, B, sampling="random", num_workers=0)
        batch = b.next_batch()
        starts = random_starts(np.random.default_rng(0), self.spec.rows)
        b.close()
        return [int(s) for s in starts], {k: _to_numpy(v[0]) for k, v in batch.items()}


# ------------------------------------------------------------------------------------------
# plain datasets


class HFDatasets:
    """datasets: load_from_disk(path).with_format("torch"), B windows per batch. Two ways: B
    slices ds[s:s+S] (what one writes first) and one batched ds[list of B*S rows] (one Arrow
    take, datasets' fast path); both are timed."""

    name = "datasets"

    def __init__(self, spec: Spec):
        self.spec = spec

    def open(self) -> None:
        import datasets

        self.ds = datasets.load_from_disk(self.spec.path).with_format("torch")

    @staticmethod
    def _stack(values: list[Any]):
        import torch

        return torch.stack([v if hasattr(v, "shape") else torch.stack(v) for v in values])

    def fetch_slices(self, starts: np.ndarray):
        parts = [self.ds[int(s):int(s) + S] for s in starts]
        return {k: self._stack([p[k] for p in parts]) for k in parts[0]}

    def fetch_batched(self, starts: np.ndarray):
        import torch

        rows = (starts[:, None] + np.arange(S)[None, :]).ravel()
        got = self.ds[rows]
        out = {}
        for k, v in got.items():
            if not hasattr(v, "shape"):
                v = torch.stack(v)
            out[k] = v.reshape(B, S, *v.shape[1:])
        return out

    def variants(self):
        rows = self.spec.rows
        out = []
        for label, fetch in (("B slices", self.fetch_slices), ("batched __getitem__", self.fetch_batched)):
            for w in (0, 2):
                out.append((f"{label}, {w} workers", w,
                            lambda fetch=fetch, w=w: dataloader_variant(fetch, rows, w)))
        return out

    def check(self):
        starts = np.asarray(self.spec.check_starts)
        windows = []
        for fetch in (self.fetch_slices, self.fetch_batched):
            got = {k: v[0] for k, v in fetch(starts).items()}
            if "observation_image" in got:  # the torch formatter gives images channels-first
                got["observation_image"] = got["observation_image"].permute(0, 2, 3, 1)
            windows.append(canonical_window(got, self.spec))
        for k in windows[0]:
            if not np.array_equal(windows[0][k], windows[1][k]):
                raise AssertionError(f"datasets: {k} differs between slices and batched __getitem__")
        return [int(s) for s in starts], windows[0]


# ------------------------------------------------------------------------------------------
# a torch DataLoader over NumPy memmaps of the columns


class NumpyMemmap:
    """One .npy per column (written once by run.py; images pre-decoded to uint8), opened with
    np.load(mmap_mode="r"); a batch is one fancy-indexed gather per column at the [B, S] row
    ids, wrapped by torch.from_numpy; workers through a torch DataLoader."""

    name = "numpy memmap + DataLoader"

    def __init__(self, spec: Spec):
        self.spec = spec

    def open(self) -> None:
        self.cols = {c: np.load(os.path.join(self.spec.npy_dir, c + ".npy"), mmap_mode="r")
                     for c in self.spec.columns}

    def fetch(self, starts: np.ndarray):
        import torch

        rows = starts[:, None] + np.arange(S)[None, :]
        return {c: torch.from_numpy(col[rows]) for c, col in self.cols.items()}

    def variants(self):
        return [(f"random, {w} workers", w,
                 lambda w=w: dataloader_variant(self.fetch, self.spec.rows, w)) for w in (0, 2)]

    def check(self):
        starts = np.asarray(self.spec.check_starts)
        got = self.fetch(starts)
        return [int(s) for s in starts], canonical_window({k: v[0] for k, v in got.items()}, self.spec)


# ------------------------------------------------------------------------------------------
# TorchRL


class TorchRL:
    """TorchRL: ReplayBuffer(LazyMemmapStorage(N)) filled once from the columns (extend, in 1M-row
    chunks), SliceSampler(slice_len=64) with replacement and SliceSamplerWithoutReplacement
    (epochs). Fast paths used, as its docs advise for static data: trajectory boundaries given up
    front (`ends=` / `trajectories=`, which imply cached values) and `prefetch` (a thread pool of
    that many threads) for the worker counts. The buffer is one trajectory for random windows (as
    every other peer here samples windows across episodes) and consecutive 64-row trajectories for
    the sampler without replacement (each sample takes B of them, i.e. an epoch of windows, as
    mouse_data's sampling="batch")."""

    name = "TorchRL"

    def __init__(self, spec: Spec):
        self.spec = spec

    def open(self) -> None:
        import torch
        from tensordict import TensorDict
        from torchrl.data import LazyMemmapStorage, ReplayBuffer

        sp = self.spec
        cols = {c: np.load(os.path.join(sp.npy_dir, c + ".npy"), mmap_mode="r") for c in sp.columns}
        self.storage = LazyMemmapStorage(sp.rows, scratch_dir=os.path.join(sp.scratch, "torchrl"))
        # Filled once through a buffer's extend (the storage is then shared by the timed buffers).
        writer = ReplayBuffer(storage=self.storage)
        chunk = 1_000_000 if not sp.image_shape else 20_000
        for a in range(0, sp.rows, chunk):
            b = min(sp.rows, a + chunk)
            writer.extend(TensorDict({c: torch.from_numpy(np.array(v[a:b])) for c, v in cols.items()},
                                     batch_size=[b - a]))
        self.ends = torch.zeros(sp.rows, dtype=torch.bool)
        self.ends[-1] = True
        self.trajs = torch.arange(sp.rows, dtype=torch.int64) // S

    def buffer(self, sampler, workers: int):
        from torchrl.data import ReplayBuffer

        return ReplayBuffer(storage=self.storage, sampler=sampler, batch_size=B * S,
                            prefetch=workers or None)

    def random_sampler(self, **kw):
        from torchrl.data import SliceSampler

        if not kw:
            kw = {"ends": self.ends, "cache_values": True}
        return SliceSampler(slice_len=S, strict_length=True, **kw)

    def epoch_sampler(self):
        from torchrl.data import SliceSamplerWithoutReplacement

        return SliceSamplerWithoutReplacement(slice_len=S, trajectories=self.trajs, strict_length=True,
                                              drop_last=True)

    def variants(self):
        def make(kind, workers):
            def build():
                sampler = self.random_sampler() if kind == "random" else self.epoch_sampler()
                rb = self.buffer(sampler, workers)
                # Without replacement a sample holds at most one slice per trajectory, so now
                # and then it has fewer than B windows: [b <= B, S].
                return (lambda: rb.sample().reshape(-1, S)), (lambda: None)
            return build

        out = [(f"SliceSampler, {w} workers", w, make("random", w)) for w in (0, 2)]
        out += [(f"SliceSamplerWithoutReplacement, {w} workers", w, make("epoch", w)) for w in (0, 2)]
        return out

    def check(self):
        rb = self.buffer(self.random_sampler(), 0)
        sample, info = rb.sample(return_info=True)
        index = _to_numpy(info["index"]).reshape(B, S)
        starts = index[:, 0]
        if not (index == starts[:, None] + np.arange(S)[None, :]).all():
            raise AssertionError("TorchRL returned windows that are not runs of consecutive rows")
        first = sample.reshape(B, S)[0]
        return [int(s) for s in starts], canonical_window(
            {c: first.get(c) for c in self.spec.columns}, self.spec)

    def sampler_cost(self, n: int) -> dict[str, float]:
        """Seconds per draw of B x S indices by the sampler alone: with the boundaries given up
        front (cached), and in the sampler's default mode, which finds them from an end-of-run
        column (`end_key`) at every call."""
        import torch
        from tensordict import TensorDict

        run_end = torch.zeros(self.spec.rows, dtype=torch.bool)
        run_end[-1] = True
        cached = self.random_sampler()
        out = {"cached": _time_calls(lambda: cached.sample(self.storage, B * S), n)}
        # The column lives in a storage of its own, so the timed buffer keeps the data's columns.
        from torchrl.data import LazyTensorStorage

        ends_only = LazyTensorStorage(self.spec.rows)
        ends_only.set(range(self.spec.rows), TensorDict({"run_end": run_end}, [self.spec.rows]))
        default = self.random_sampler(end_key="run_end")
        out["end_key, no cache"] = _time_calls(lambda: default.sample(ends_only, B * S),
                                               max(2, n // 20))
        return out


def _time_calls(fn: Callable[[], Any], n: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


# ------------------------------------------------------------------------------------------
# the limit


class Memcpy:
    """NumPy copy of B runs of S rows' bytes (the byte size of mouse_data's batch rows) from a
    buffer of N rows into fresh memory: the floor for any gather of these windows."""

    name = "memcpy"

    def __init__(self, spec: Spec, row_bytes: int):
        self.spec, self.row_bytes = spec, row_bytes

    def open(self) -> None:
        self.src = np.ones(self.spec.rows * self.row_bytes, dtype=np.uint8)

    def variants(self):
        rb = self.row_bytes

        def build():
            rng = np.random.default_rng(1)

            def next_batch():
                dst = np.empty(B * S * rb, dtype=np.uint8)
                for w, st in enumerate(random_starts(rng, self.spec.rows)):
                    dst[w * S * rb:(w + 1) * S * rb] = self.src[st * rb:(st + S) * rb]
                return {"bytes": dst.reshape(B, S, rb)}
            return next_batch, (lambda: None)

        return [("random, 0 workers", 0, build)]

    def check(self):
        return None


PEERS = {"mouse_data": MouseData, "mouse-core": MouseCore, "datasets": HFDatasets,
         "numpy": NumpyMemmap, "torchrl": TorchRL}
