"""PrefetchBatchifier: [B, S] windows of consecutive steps, prefetched by C++ worker threads."""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _core
from ._output import resolve_format, wrap
from .dataset_store import DatasetStore


@dataclass
class SampledBatch:
    """A batch with where it came from (``PrefetchBatchifier.next()``)."""

    data: Any
    """The TensorDict [b, S] (or dict of arrays); with ``boundaries="episode"`` also ``mask``."""
    starts: list[int]
    """First store row of each window."""
    number: int
    """Batch number since construction (or restore), from 0."""
    epoch: int
    """Epoch (``sequential`` / ``batch`` sampling; 0 otherwise)."""
    stores: list[int] = field(default_factory=list)
    """Index (into ``stores``) of the store each window came from; all 0 with one store."""


def _env_int(name: str) -> int:
    value = os.environ[name]
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {value!r}") from None


def _distributed() -> Any:
    """torch.distributed when it is imported and initialised (never imports torch itself)."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist
    return None


def resolve_rank(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """(rank, world_size): the given values, else torch.distributed's when it is initialised,
    else the ``RANK`` / ``WORLD_SIZE`` environment variables (as set by ``torchrun``), else a
    single process (0, 1)."""
    if rank is not None and world_size is not None:
        return int(rank), int(world_size)
    dist = _distributed()
    if dist is not None:
        default = (dist.get_rank(), dist.get_world_size())
    elif "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        default = (_env_int("RANK"), _env_int("WORLD_SIZE"))
    else:
        default = None
    if default is None:
        if rank is not None or world_size is not None:
            given = "rank" if rank is not None else "world_size"
            raise ValueError(
                f"PrefetchBatchifier: {given} was given without "
                f"{'world_size' if given == 'rank' else 'rank'}, and neither torch.distributed nor "
                "RANK / WORLD_SIZE provide it")
        return 0, 1
    return (int(rank) if rank is not None else default[0],
            int(world_size) if world_size is not None else default[1])


class PrefetchBatchifier:
    """Background-thread batchifier over a DatasetStore (the seed's ``mouse.data.PrefetchBatchifier``).

    Parameters
    ----------
    store : DatasetStore with data loaded; it must outlive the batchifier (kept referenced).
        A list of stores is the same as ``stores=``.
    sequence_length : S, consecutive steps per window (> 0).
    batch_size : B, windows per batch (> 0).
    sampling : ``"random"`` (B starts uniform on [0, N-S], with replacement), ``"last"`` (the
        last B non-overlapping windows), ``"sequential"`` (windows 0..W-1 in order, a short last
        batch per epoch, then wrap) or ``"batch"`` (each epoch in a fresh random permutation).
    prefetch : Batches kept ready (>= 1).
    num_workers : C++ worker threads (0 = sample on the calling thread). Order is kept in every
        mode, so ``sequential`` / ``batch`` may use several workers. A ``next_batch`` whose
        batch is not ready yet, with room in the queue, assembles the next one itself (GIL
        released) rather than sleeping.
    pin_memory : Allocate batches in CUDA page-locked memory when a CUDA runtime is present
        (a warning and ordinary memory otherwise).
    seed : Makes every mode reproducible, whatever ``num_workers`` is (default: random).
    boundaries : ``"none"``, ``"source"`` (windows stay inside one loaded dataset or the buffer)
        or ``"episode"`` (inside one episode; short episodes are right-padded and a bool
        ``mask`` [B, S] marks real steps; padding has zeros, q_star -inf and time -1).
    augmenter : A TokenAugmenter applied to every batch as it is assembled (batch n gets the
        n-th snapshot and masks, reproducibly).
    format : Output type; defaults to the store's.
    stores : Several DatasetStores to mix (instead of ``store``). They must encode to the same
        columns (same max dims); a window never spans two stores. ``random`` draws each
        window's store by ``weights``; ``sequential`` / ``batch`` visit every store's windows
        once per epoch (store 0's first, then store 1's, ... or all in one permutation).
    weights : One weight >= 0 per store (default: all 1).
    weight_mode : ``"per_store"`` (store i with probability weight_i / sum) or ``"per_step"``
        (weight_i * len(store_i) / sum: equal weights draw every step equally often). A store
        without a window yet is left out of the draw until it has one.
    rank, world_size : This process among ``world_size`` training processes. Default: from
        ``torch.distributed`` when it is initialised, else the ``RANK`` / ``WORLD_SIZE``
        environment variables (``torchrun``), else one process. ``sequential`` / ``batch``
        deal every epoch's windows round-robin over the ranks (disjoint, together complete);
        ``random`` gives each rank its own stream of (seed, rank). ``state()`` is per rank, and
        restoring it with another rank or world size raises ValueError.
    drop_last : ``sequential`` / ``batch`` over several ranks when the windows do not divide
        evenly: False (default, as ``DistributedSampler``) repeats the epoch's first windows for
        the ranks one short, True drops the extra ones; either way every rank runs the same
        number of batches, so none waits alone in a collective. ``sampling="batch"`` on several
        ranks needs one permutation for all: without a ``seed``, rank 0's random seed is
        broadcast through ``torch.distributed`` (a collective: every rank must construct the
        batchifier), and without torch.distributed a seed is required.

    ``next_batch`` releases the GIL while it waits, so the training step in the main thread
    overlaps with the workers. A worker's exception is re-raised by ``next_batch`` with its type
    and message.
    """

    def __init__(
        self,
        store: DatasetStore | Sequence[DatasetStore] | None = None,
        sequence_length: int | None = None,
        batch_size: int | None = None,
        sampling: str = "random",
        prefetch: int = 4,
        num_workers: int = 1,
        pin_memory: bool = False,
        *,
        seed: int | None = None,
        boundaries: str = "none",
        augmenter: Any = None,
        format: str | None = None,
        stores: Sequence[DatasetStore] | None = None,
        weights: Sequence[float] | None = None,
        weight_mode: str = "per_store",
        rank: int | None = None,
        world_size: int | None = None,
        drop_last: bool = False,
    ) -> None:
        if store is not None and stores is not None:
            raise TypeError("PrefetchBatchifier: pass store or stores, not both")
        if stores is None:
            if store is None:
                raise TypeError("PrefetchBatchifier: a store (or stores=[...]) is required")
            if isinstance(store, DatasetStore):
                stores = [store]
            elif isinstance(store, Sequence) and not isinstance(store, (str, bytes)):
                stores = store
            else:
                raise TypeError("store must be a mouse_data.DatasetStore (or a list of them), "
                                f"got {type(store).__name__}")
        if isinstance(stores, (str, bytes)) or not isinstance(stores, Sequence):
            raise TypeError(
                f"stores must be a list of mouse_data.DatasetStore, got {type(stores).__name__}")
        stores = list(stores)
        if not stores:
            raise ValueError("PrefetchBatchifier: stores is empty")
        for i, st in enumerate(stores):
            if not isinstance(st, DatasetStore):
                where = "store" if len(stores) == 1 else f"stores[{i}]"
                raise TypeError(f"{where} must be a mouse_data.DatasetStore, got {type(st).__name__}")
        if sequence_length is None or batch_size is None:
            raise TypeError("PrefetchBatchifier: sequence_length and batch_size are required")
        weight_list = [] if weights is None else [float(w) for w in weights]
        rank, world_size = resolve_rank(rank, world_size)
        if seed is None and sampling == "batch" and world_size > 1:
            dist = _distributed()
            if dist is not None:
                box = [random.SystemRandom().getrandbits(63) if dist.get_rank() == 0 else None]
                dist.broadcast_object_list(box, src=0)
                seed = box[0]
        self._stores = stores
        self._store = stores[0]
        self._format = resolve_format(format) if format is not None else stores[0]._format
        self._augmenter = augmenter
        core_aug = augmenter._core if augmenter is not None else None
        self._core = _core.Batchifier(
            [st._core for st in stores], int(sequence_length), int(batch_size), sampling,
            int(prefetch), int(num_workers), bool(pin_memory), None if seed is None else int(seed),
            boundaries, core_aug, weight_list, weight_mode, rank, world_size, bool(drop_last),
        )
        self._rank = rank
        self._world_size = world_size
        self._device = getattr(augmenter, "device", None)

    @property
    def rank(self) -> int:
        """This process's rank (0 in a single process)."""
        return self._rank

    @property
    def world_size(self) -> int:
        """Number of ranks sharing the data (1 in a single process)."""
        return self._world_size

    @property
    def stores(self) -> list[DatasetStore]:
        """The stores sampled from."""
        return list(self._stores)

    @property
    def total_batches(self) -> int:
        """Batches per epoch of this rank for the W windows of the stores as they are now:
        ceil(W / B) in one process, ceil(ceil(W / world_size) / B) over ranks (floor with
        ``drop_last``)."""
        return self._core.total_batches()

    @property
    def seed(self) -> int:
        """The seed in use (drawn at random when none was given)."""
        return self._core.seed

    @property
    def pinned(self) -> bool:
        """Whether batches are allocated in CUDA page-locked memory."""
        return self._core.pinned

    def next_batch(self) -> Any:
        """The next batch, blocking (without the GIL) until it is ready."""
        return wrap(self._core.next_batch(self._format), self._format, self._device)

    def next(self) -> SampledBatch:
        """The next batch with its window starts, number and epoch."""
        batch, starts, number, epoch, stores = self._core.next(self._format)
        return SampledBatch(wrap(batch, self._format, self._device), starts, number, epoch, stores)

    def state(self) -> dict[str, Any]:
        """Where the batchifier stands (JSON-serialisable), for ``restore``."""
        return json.loads(self._core.state())

    def restore(self, state: dict[str, Any] | str) -> None:
        """Continue from ``state``: the next batch is the one that followed when it was taken.
        ValueError when it belongs to another configuration (sampling, S, B, rank, world size,
        stores or weights)."""
        self._core.restore(state if isinstance(state, str) else json.dumps(state))

    def close(self) -> None:
        """Stop and join the workers and drop prefetched batches (idempotent)."""
        self._core.close()

    @property
    def closed(self) -> bool:
        """Whether ``close`` has run."""
        return self._core.closed

    def __iter__(self) -> PrefetchBatchifier:
        return self

    def __next__(self) -> Any:
        if self._core.closed:
            raise StopIteration
        return self.next_batch()

    def __enter__(self) -> PrefetchBatchifier:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __del__(self) -> None:
        core = getattr(self, "_core", None)
        if core is not None:
            core.close()

    def __repr__(self) -> str:
        return (f"PrefetchBatchifier(total_batches={self.total_batches}, closed={self.closed})")
