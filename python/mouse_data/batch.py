"""PrefetchBatchifier: [B, S] windows of consecutive steps, prefetched by C++ worker threads."""

from __future__ import annotations

import json
from dataclasses import dataclass
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


class PrefetchBatchifier:
    """Background-thread batchifier over a DatasetStore (the seed's ``mouse.data.PrefetchBatchifier``).

    Parameters
    ----------
    store : DatasetStore with data loaded; it must outlive the batchifier (kept referenced).
    sequence_length : S, consecutive steps per window (> 0).
    batch_size : B, windows per batch (> 0).
    sampling : ``"random"`` (B starts uniform on [0, N-S], with replacement), ``"last"`` (the
        last B non-overlapping windows), ``"sequential"`` (windows 0..W-1 in order, a short last
        batch per epoch, then wrap) or ``"batch"`` (each epoch in a fresh random permutation).
    prefetch : Batches kept ready (>= 1).
    num_workers : C++ worker threads (0 = sample on the calling thread). Order is kept in every
        mode, so ``sequential`` / ``batch`` may use several workers.
    pin_memory : Allocate batches in CUDA page-locked memory when a CUDA runtime is present
        (a warning and ordinary memory otherwise).
    seed : Makes every mode reproducible, whatever ``num_workers`` is (default: random).
    boundaries : ``"none"``, ``"source"`` (windows stay inside one loaded dataset or the buffer)
        or ``"episode"`` (inside one episode; short episodes are right-padded and a bool
        ``mask`` [B, S] marks real steps; padding has zeros, q_star -inf and time -1).
    augmenter : A TokenAugmenter applied to every batch inside the workers (batch n gets the
        n-th snapshot and masks, reproducibly).
    format : Output type; defaults to the store's.

    ``next_batch`` releases the GIL while it waits, so the training step in the main thread
    overlaps with the workers. A worker's exception is re-raised by ``next_batch`` with its type
    and message.
    """

    def __init__(
        self,
        store: DatasetStore,
        sequence_length: int,
        batch_size: int,
        sampling: str = "random",
        prefetch: int = 4,
        num_workers: int = 1,
        pin_memory: bool = False,
        *,
        seed: int | None = None,
        boundaries: str = "none",
        augmenter: Any = None,
        format: str | None = None,
    ) -> None:
        if not isinstance(store, DatasetStore):
            raise TypeError(f"store must be a mouse_data.DatasetStore, got {type(store).__name__}")
        self._store = store
        self._format = resolve_format(format) if format is not None else store._format
        self._augmenter = augmenter
        core_aug = augmenter._core if augmenter is not None else None
        self._core = _core.Batchifier(
            store._core, int(sequence_length), int(batch_size), sampling, int(prefetch),
            int(num_workers), bool(pin_memory), None if seed is None else int(seed), boundaries,
            core_aug,
        )
        self._device = getattr(augmenter, "device", None)

    @property
    def total_batches(self) -> int:
        """ceil(W / B) for the W windows of the store as it is now."""
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
        batch, starts, number, epoch = self._core.next(self._format)
        return SampledBatch(wrap(batch, self._format, self._device), starts, number, epoch)

    def state(self) -> dict[str, Any]:
        """Where the batchifier stands (JSON-serialisable), for ``restore``."""
        return json.loads(self._core.state())

    def restore(self, state: dict[str, Any] | str) -> None:
        """Continue from ``state``: the next batch is the one that followed when it was taken.
        ValueError when it belongs to another configuration."""
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
