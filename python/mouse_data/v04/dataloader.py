"""``DataLoader`` of the 0.4 face: ragged windows sampled by the mouse_data engine.

Each batch holds ``batch_size`` windows. A window starts at any row of its store and runs for
``sequence_length`` rows, or to the end of the store when that comes first, so its length is
``1 .. sequence_length``. The engine (``PrefetchBatchifier(lengths="ragged", layout="packed")``)
draws the stores, starts and lengths in its C++ worker threads. The loader then returns, like
the 0.4 loader:

- without a preparer: the raw rows, ``list`` (windows) of ``list`` (steps) of dicts;
- with ``preparer``: ``preparer(rows)`` (after ``augmenter(rows)`` when given).

With ``num_workers > 0`` one Python thread reads the rows, augments and prepares them
``prefetch`` batches ahead of the caller; with ``num_workers=0`` all of it runs in
``next_batch()``.

``packed=True`` skips the rows: batches are the engine's packed TensorDict (flat ``[N, ...]``
columns, ``sequence_id``, ``position``, ``cu_seqlens``, ``lengths``), passed through
``preparer`` when given and augmented by a ``mouse_data.TokenAugmenter`` in the engine.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._args import Args
from .._preparer import QueueThread
from ..batch import PrefetchBatchifier
from ..dataset_store import DatasetStore
from ..errors import InvalidArgumentError, WrongTypeError
from .datastore import rows_of

__all__ = ["DataLoader"]

BatchAugmenter = Callable[[list[list[dict]]], list[list[dict]]]
BatchPreparer = Callable[[Any], Any]

_WEIGHT_MODES = ("per_store", "per_step")
_BOUNDARIES = ("none", "source", "episode")


def _rows(ds: Any, start: int, n: int) -> list[dict]:
    """Rows ``[start, start + n)`` of a dataset (or a ``pyarrow.Table``) as dicts."""
    if hasattr(ds, "to_pydict"):  # a pyarrow.Table (datasets not installed)
        return rows_of(ds.slice(start, n).to_pydict())
    return rows_of(ds[start:start + n])


def _batch_maker(engine: PrefetchBatchifier, datasets: list[Any],
                 augment: BatchAugmenter | None,
                 preparer: BatchPreparer | None) -> Callable[[], Any]:
    """A function making the next batch: the engine's next windows read as rows from the
    snapshot ``datasets`` (one per engine store), augmented, prepared."""

    def make() -> Any:
        sampled = engine.next()
        batch = [_rows(datasets[s], int(start), int(n))
                 for s, start, n in zip(sampled.stores, sampled.starts, sampled.lengths)]
        if augment is not None:
            batch = augment(batch)
        return batch if preparer is None else preparer(batch)

    return make


class _RowsThread(QueueThread):
    """One Python thread that turns the engine's windows into rows, augments and prepares them,
    ``depth`` batches ahead of the consumer (the 0.4 workers' sample -> augment -> prepare, with
    the sampling itself in the engine's C++ threads). It ends at the first error, which ``get``
    raises."""

    def __init__(self, make: Callable[[], Any], depth: int) -> None:
        self._make = make
        super().__init__("mouse-data-v04-rows", depth, "DataLoader: the row thread has stopped")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                item: Any = (self._make(),)  # wrapped: a batch may be anything
            except BaseException as e:  # noqa: BLE001 - shipped to the consumer
                self._put(e)
                return
            if not self._put(item):
                return

    def get(self) -> Any:
        """The next prepared batch; raises what making it raised."""
        return super().get()[0]


class DataLoader:
    """Batches of ragged windows from one or more stores (the 0.4 ``DataLoader``).

    Keyword-only. ``stores``: a ``Datastore`` (any ``mouse_data.DatasetStore``) or a non-empty
    list. ``sequence_length``: the longest window. ``batch_size``: windows per batch.
    ``weights`` (one positive number per store, None: all 1) and ``weight_mode`` choose the store
    of each window: ``"per_store"`` draws store ``i`` with probability ``w_i / sum(w)``,
    ``"per_step"`` with probability proportional to ``w_i * len(store_i)``; empty stores are
    never drawn. ``prefetch``: batches kept ready. ``num_workers``: the engine's sampling
    threads (0: everything on the calling thread); with workers, one Python thread also makes
    the rows, augments and prepares ahead. No free-threaded Python is needed. ``seed``: None
    for fresh entropy, else reproducible windows (and a reproducible
    fork of the augmenter). ``augmenter``: a callable on the raw rows (``Augmenter``), applied
    before ``preparer``. ``preparer``: a callable that turns the rows into the model's batch.

    Extensions: ``packed=True`` returns the engine's packed TensorDict instead of rows (the
    ``preparer`` then receives it, and ``augmenter`` is a ``mouse_data.TokenAugmenter`` or an
    ``Augmenter`` mapped onto one by ``Augmenter.to_token_augmenter``);
    ``max_tokens`` (packed only) fills each batch up to that many rows; ``boundaries``
    (``"none"``, the 0.4 rule; ``"source"``; ``"episode"``) also cuts windows where a source or
    an episode ends.

    The stores are snapshotted at construction and by :meth:`refresh`: call it after appending
    so that batches see the new rows.
    """

    def __init__(
        self,
        *,
        stores: DatasetStore | list[DatasetStore],
        sequence_length: int,
        batch_size: int,
        weights: list[float] | None = None,
        weight_mode: str = "per_store",
        prefetch: int = 4,
        num_workers: int = 1,
        seed: int | None = None,
        augmenter: BatchAugmenter | None = None,
        preparer: BatchPreparer | None = None,
        packed: bool = False,
        max_tokens: int | None = None,
        boundaries: str = "none",
    ) -> None:
        self._engine: PrefetchBatchifier | None = None
        self._thread: _RowsThread | None = None
        self._make: Callable[[], Any] | None = None
        self._lock = threading.Lock()
        if isinstance(stores, DatasetStore):
            stores = [stores]
        if isinstance(stores, (str, bytes)) or not isinstance(stores, Sequence) or not stores \
                or not all(isinstance(s, DatasetStore) for s in stores):
            raise WrongTypeError("DataLoader: stores must be a Datastore or a non-empty list of "
                                 f"Datastores, got {stores!r}")
        if weight_mode not in _WEIGHT_MODES:
            raise InvalidArgumentError("DataLoader: weight_mode must be 'per_store' or "
                                       f"'per_step', got {weight_mode!r}")
        if boundaries not in _BOUNDARIES:
            raise InvalidArgumentError("DataLoader: boundaries must be 'none', 'source' or "
                                       f"'episode', got {boundaries!r}")
        a = Args("DataLoader", DataLoader.__init__)
        sequence_length = a.int("sequence_length", sequence_length, minimum=1)
        batch_size = a.int("batch_size", batch_size, minimum=1)
        prefetch = a.int("prefetch", prefetch, minimum=1)
        num_workers = a.int("num_workers", num_workers, minimum=0)
        if weights is not None:
            weights = [float(w) for w in weights]
            if len(weights) != len(stores):
                raise InvalidArgumentError(f"DataLoader: weights has {len(weights)} entries for "
                                           f"{len(stores)} stores")
            if any(not w > 0 for w in weights):
                raise InvalidArgumentError(f"DataLoader: weights must all be positive, got "
                                           f"{weights}")
        seed = a.seed("seed", seed)
        if not isinstance(packed, bool):
            raise WrongTypeError(f"DataLoader: packed must be a bool, got {packed!r}")
        if max_tokens is not None:
            max_tokens = a.int("max_tokens", max_tokens, minimum=1)
            if not packed:
                raise InvalidArgumentError("DataLoader: max_tokens needs packed=True")
        from ..augment import TokenAugmenter

        from .augmenter import Augmenter

        if packed and augmenter is not None and \
                not isinstance(augmenter, (TokenAugmenter, Augmenter)):
            raise WrongTypeError("DataLoader: with packed=True the augmenter must be a "
                                 "mouse_data.TokenAugmenter or a mouse_data.v04.Augmenter (it "
                                 f"runs on encoded columns), got {type(augmenter).__name__}")
        if packed and isinstance(augmenter, Augmenter):
            augmenter.to_token_augmenter()  # a spec without an equivalent fails here
        if not packed and isinstance(augmenter, TokenAugmenter):
            raise WrongTypeError("DataLoader: a TokenAugmenter works on encoded columns: pass "
                                 "packed=True, or use mouse_data.v04.Augmenter on the rows")
        if augmenter is not None and not callable(augmenter):
            raise WrongTypeError(f"DataLoader: augmenter must be callable, got {augmenter!r}")
        if preparer is not None and not callable(preparer):
            raise WrongTypeError(f"DataLoader: preparer must be callable, got {preparer!r}")

        self.stores: list[DatasetStore] = list(stores)
        self.sequence_length = sequence_length
        self.batch_size = batch_size
        self.weight_mode = weight_mode
        self.seed = seed
        self.augmenter = augmenter
        self.preparer = preparer
        self.packed = packed
        self.max_tokens = max_tokens
        self.boundaries = boundaries
        self._weights = [1.0] * len(self.stores) if weights is None else weights
        self._prefetch = prefetch
        self._num_workers = num_workers
        self._seed_seq = np.random.SeedSequence(seed) if seed is not None else None
        self._datasets: list[Any] = []
        self._ns: list[int] = []
        self._active: list[int] = []
        self._augment: BatchAugmenter | None = None
        self._closed = False
        self._snapshot()

    # -- public ------------------------------------------------------------------------------

    @property
    def total_batches(self) -> int:
        """About how many batches of non-overlapping full windows the stores hold:
        ``ceil(sum(len(store) // sequence_length) / batch_size)``."""
        windows = sum(n // self.sequence_length for n in self._ns)
        return -(-windows // self.batch_size)

    def refresh(self) -> None:
        """Drop the prefetched batches and take a new snapshot of the stores (their lengths and,
        with ``per_step`` weights, their shares): call after appending rows."""
        self._check_open()
        with self._lock:
            self._stop_engine()
            self._snapshot()

    def next_batch(self) -> Any:
        """The next batch: raw rows ``list[list[dict]]`` without a preparer, else the
        preparer's output (``packed=True``: the packed TensorDict, or the preparer's output of
        it). ValueError when every store is empty."""
        self._check_open()
        with self._lock:
            engine = self._engine if self._engine is not None else self._start_engine()
            if self.packed:
                return engine.next_batch()
            if self._thread is not None:
                return self._thread.get()
            assert self._make is not None
            return self._make()

    def close(self) -> None:
        """Stop the engine's workers and drop prefetched batches (idempotent)."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self._stop_engine()

    def __iter__(self) -> DataLoader:
        return self

    def __next__(self) -> Any:
        return self.next_batch()

    def __enter__(self) -> DataLoader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def __repr__(self) -> str:
        stores = ", ".join(f"{s.name or '?'}({n})" for s, n in zip(self.stores, self._ns))
        return (f"DataLoader(stores=[{stores}], S_max={self.sequence_length}, "
                f"B={self.batch_size}, seed={self.seed})")

    # -- internal ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidArgumentError("DataLoader: used after close()")

    def _snapshot(self) -> None:
        # As the 0.4 loader: each store's rows as a dataset, taken now; the engine samples from
        # stores made of these datasets (zero-copy for loaded sources), so rows appended later
        # appear only after refresh().
        self._datasets = [s.to_dataset() if len(s) else None for s in self.stores]
        self._ns = [0 if ds is None else len(ds) for ds in self._datasets]

    def _engine_store(self, i: int) -> DatasetStore:
        store = self.stores[i]
        c = store._config
        snap = DatasetStore(c[0], c[1], c[2], c[3], obs_image_dtype=c[4], image_cache=c[5],
                            validate=False, format=store._requested_format)
        snap.from_dataset(self._datasets[i])
        return snap

    def _child_seed(self) -> int | None:
        if self._seed_seq is None:
            return None
        return int(self._seed_seq.spawn(1)[0].generate_state(1, np.uint64)[0] >> 1)

    def _start_engine(self) -> PrefetchBatchifier:
        self._active = [i for i, n in enumerate(self._ns) if n > 0]
        if not self._active:
            raise InvalidArgumentError("DataLoader: cannot sample batches: all stores are empty")
        engine_seed = self._child_seed()
        augment_seed = self._child_seed()
        kwargs: dict[str, Any] = dict(
            prefetch=self._prefetch, num_workers=self._num_workers, seed=engine_seed,
            weights=[self._weights[i] for i in self._active], weight_mode=self.weight_mode,
            boundaries=self.boundaries, lengths="ragged", layout="packed")
        if self.packed:
            from .augmenter import Augmenter

            kwargs["augmenter"] = self.augmenter.to_token_augmenter(seed=augment_seed) \
                if isinstance(self.augmenter, Augmenter) else self.augmenter
            kwargs["max_tokens"] = self.max_tokens
            kwargs["preparer"] = self.preparer
            self._augment = None
        else:
            fork = getattr(self.augmenter, "fork", None)
            if self.augmenter is not None and callable(fork) and augment_seed is not None \
                    and "seed" in inspect.signature(fork).parameters:
                self._augment = fork(seed=augment_seed)
            else:
                self._augment = self.augmenter
        self._engine = PrefetchBatchifier(
            stores=[self._engine_store(i) for i in self._active],
            sequence_length=self.sequence_length, batch_size=self.batch_size, **kwargs)
        if not self.packed:
            # The batch maker holds no reference to the loader, so that a loader nobody holds
            # is collected (and closes its engine and thread).
            self._make = _batch_maker(self._engine, [self._datasets[i] for i in self._active],
                                      self._augment, self.preparer)
            if self._num_workers > 0:
                self._thread = _RowsThread(self._make, self._prefetch)
        return self._engine

    def _stop_engine(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.stop()
        self._make = None
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.close()
