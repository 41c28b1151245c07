"""Many collectors, one learner, on Ray (SPEC §9).

The learner holds a :class:`StoreIngest` over its :class:`~mouse_data.DatasetStore`; each
collector (a Ray task or actor) holds a :class:`StoreWriter` from ``ingest.writer(collector_id)``.
A writer cuts the rows it is given into numbered blocks (at episode ends and every
``block_steps`` rows) and ships them as Arrow record batches through Ray's object store; a
thread of the learner maps them (zero-copy) and hands them to the C++ sequencer
(``mouse_data._core.Ingest``), which applies each collector's blocks in number order, whole
episodes at a time, exactly once. This module only moves blocks and acknowledgements.

Needs the ``ray`` extra: ``pip install "mouse-data[ray]"``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

try:
    import pyarrow as pa
    import ray
except ImportError as e:  # pragma: no cover - exercised without the extra only
    from .errors import MissingDependencyError

    raise MissingDependencyError(
        "mouse_data.ray needs ray and pyarrow: pip install \"mouse-data[ray]\"") from e

from . import _core
from .errors import Error

__all__ = ["StoreIngest", "StoreWriter", "CollectorActor", "CollectorError", "IngestError"]

log = logging.getLogger("mouse_data.ray")

#: Seconds the ingest thread waits for blocks per round trip when none come (blocks end the wait
#: at once; this only paces an idle thread's checks for close, flushes and log lines).
_POLL_S = 0.25

#: Name of the file that save() writes beside the dataset: the last block applied per collector.
STATE_FILE = "mouse_ingest.json"


class IngestError(Error, RuntimeError):
    """Blocks could not be delivered: the ingest is closed, a block was refused
    (``max_buffer_steps``), or the learner did not answer in time."""


class CollectorError(IngestError):
    """A collector failed; raised on the learner (``StoreIngest.wait``). ``collector_id``
    names it."""

    def __init__(self, collector_id: str, message: str) -> None:
        super().__init__(f"collector {collector_id!r}: {message}")
        self.collector_id = collector_id


# -- the mailbox: a small async actor between writers and the learner's thread ----------------


class _Mailbox:
    """Queues what writers send (registrations, parcels of blocks as object references, errors)
    for the learner's thread, and hands back what it answers (acknowledgements, the last block
    applied for a registration). Holds references, never the blocks' bytes."""

    def __init__(self) -> None:
        self._queue: deque = deque()
        self._queued_blocks = 0
        self._changed = asyncio.Event()
        self._runs: dict[str, int] = {}
        self._acked: dict[str, int] = {}      # collector -> last parcel with all before it taken
        self._taken: dict[str, set[int]] = {}  # collector -> parcels taken after that one
        self._errors: dict[str, str] = {}     # collector -> error to raise on its writer
        self._opened: dict[tuple[str, int], int] = {}
        self._closed = False

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _until(self, ready: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not ready():
            left = deadline - time.monotonic()
            if left <= 0 or self._closed:
                return ready()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass
        return True

    async def register(self, collector: str, timeout: float) -> tuple[int, int]:
        if self._closed:
            raise IngestError("StoreIngest is closed")
        run = self._runs.get(collector, 0) + 1
        self._runs[collector] = run
        self._acked[collector] = -1
        self._taken[collector] = set()
        self._errors.pop(collector, None)
        self._queue.append(("open", collector, run))
        self._notify()
        if not await self._until(lambda: (collector, run) in self._opened, timeout):
            raise IngestError(f"collector {collector!r}: the learner did not answer the "
                              f"registration within {timeout} s")
        return run, self._opened.pop((collector, run))

    async def put(self, collector: str, run: int, seq: int, refs: list, blocks: int) -> bool:
        if self._closed or self._runs.get(collector) != run:
            return False  # closed, or a newer run of this collector superseded this one
        self._queue.append(("parcel", collector, run, seq, refs, blocks))
        self._queued_blocks += blocks
        self._notify()
        return True

    async def report_error(self, collector: str, message: str) -> None:
        self._queue.append(("error", collector, message))
        self._notify()

    async def wait_acked(self, collector: str, run: int, seq: int,
                         timeout: float) -> tuple[int, str | None]:
        def ready() -> bool:
            return (self._acked.get(collector, -1) >= seq or collector in self._errors
                    or self._runs.get(collector) != run)
        await self._until(ready, timeout)
        if self._runs.get(collector) != run:
            return -1, "a newer writer under the same collector id replaced this one"
        if self._closed and self._acked.get(collector, -1) < seq:
            return self._acked.get(collector, -1), "StoreIngest is closed"
        return self._acked.get(collector, -1), self._errors.get(collector)

    async def take(self, timeout: float) -> tuple[list, int]:
        await self._until(lambda: bool(self._queue), timeout)
        items = list(self._queue)
        self._queue.clear()
        return items, self._queued_blocks

    async def answer(self, acks: dict, opened: dict, errors: dict, taken_blocks: int) -> None:
        self._queued_blocks -= taken_blocks
        for collector, (run, seqs) in acks.items():
            if self._runs.get(collector) != run:
                continue
            # Parcels may be taken out of order: acknowledged = every parcel up to it taken.
            done = self._taken.setdefault(collector, set())
            done.update(seqs)
            acked = self._acked.get(collector, -1)
            while acked + 1 in done:
                acked += 1
                done.discard(acked)
            self._acked[collector] = acked
        self._opened.update(opened)
        for collector, message in errors.items():
            self._errors[collector] = message
        self._notify()

    async def close(self) -> None:
        self._closed = True
        self._notify()


_MailboxActor = ray.remote(num_cpus=0)(_Mailbox)


# -- the collector's side ----------------------------------------------------------------------


def _column(name: str, chunks: list[np.ndarray], rows: int) -> Any:
    """One Arrow array of `rows` rows from a column's numpy chunks: numbers zero-copy from the
    concatenation, [N, ...] arrays as fixed-size lists of their flattened rows."""
    arr = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
    if arr.dtype.kind in "biuf":
        arr = np.ascontiguousarray(arr)
        if arr.ndim == 1:
            return pa.array(arr)
        width = int(np.prod(arr.shape[1:]))
        return pa.FixedSizeListArray.from_arrays(pa.array(arr.reshape(-1)), width)
    try:
        return pa.array(arr.tolist())
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise TypeError(f"StoreWriter: column {name!r} of dtype {arr.dtype} cannot become an "
                        f"Arrow column ({e})") from None


class StoreWriter:
    """What a collector holds (from ``StoreIngest.writer``): appends steps locally, cuts them
    into blocks and ships the blocks to the learner.

    A block ends at a row whose ``done`` is not 0 (an episode end) or after ``block_steps``
    rows, whichever comes first, so the same rows always give the same blocks; blocks are
    numbered from 0. Finished blocks are shipped together once they hold ``block_steps`` rows
    (and at ``flush``/``close``), as Arrow record batches through Ray's object store. At most
    ``max_inflight_blocks`` shipped blocks wait unacknowledged; beyond that the writer blocks
    until the learner takes them (backpressure, the learner never waits for collectors).

    On its first block the writer registers with the learner and learns the last block applied
    under its ``collector_id``: a writer started again under the same id (a collector restarted
    by Ray) that replays the same steps skips the blocks already applied, so every step lands
    once. Picklable (the learner makes it, a Ray task or actor uses it); not thread-safe.
    Usable as a context manager: ``close`` on exit, and an exception inside is reported to the
    learner (``StoreIngest.wait`` raises it with the collector id).
    """

    def __init__(self, mailbox: Any, collector_id: str, block_steps: int,
                 max_inflight_blocks: int, timeout: float) -> None:
        self._mailbox = mailbox
        self.collector_id = collector_id
        self.block_steps = block_steps
        self.max_inflight_blocks = max_inflight_blocks
        self.timeout = timeout
        self._reset()

    def _reset(self) -> None:
        self._run: int | None = None
        self._applied = -1
        self._number = 0
        self._names: tuple[str, ...] | None = None
        self._chunks: dict[str, list[np.ndarray]] = {}
        self._rows = 0
        self._parcel: list[tuple[int, Any, bool]] = []
        self._parcel_rows = 0
        self._seq = 0
        self._inflight: deque[tuple[int, int]] = deque()  # (parcel seq, blocks)
        self._inflight_blocks = 0
        self._puts: list[Any] = []
        self._closed = False
        self.steps_written = 0
        self.blocks_skipped = 0

    def __getstate__(self) -> dict[str, Any]:
        return {"mailbox": self._mailbox, "collector_id": self.collector_id,
                "block_steps": self.block_steps,
                "max_inflight_blocks": self.max_inflight_blocks, "timeout": self.timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["mailbox"], state["collector_id"], state["block_steps"],
                      state["max_inflight_blocks"], state["timeout"])

    def __repr__(self) -> str:
        return (f"StoreWriter(collector_id={self.collector_id!r}, "
                f"block_steps={self.block_steps}, blocks={self._number})")

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, kind: Any, value: Any, tb: Any) -> None:
        if value is not None:
            self.report_error(value)
        else:
            self.close()

    # -- appending -------------------------------------------------------------------------

    def append(self, row: Mapping[str, Any]) -> None:
        """Append one step (column -> value: numbers, bools, numpy arrays / tensors, lists of
        numbers). Needs a ``done`` value; every row of a block has the same columns."""
        if not isinstance(row, Mapping):
            raise TypeError(f"StoreWriter.append: row must be a mapping of column name to "
                            f"value, got {type(row).__name__}")
        self.append_columns({k: np.asarray(v)[None] for k, v in row.items()})

    def append_columns(self, columns: Mapping[str, Any]) -> None:
        """Append N steps given as columns (name -> array of N rows: numpy arrays, tensors,
        lists). ``done`` is required and numeric or bool. TypeError / ValueError name the
        column; nothing is appended then."""
        self._check_open()
        if not isinstance(columns, Mapping) or not columns:
            raise TypeError("StoreWriter.append_columns: columns must be a non-empty mapping of "
                            "column name to array")
        cols: dict[str, np.ndarray] = {}
        rows = None
        for name, value in columns.items():
            if not isinstance(name, str):
                raise TypeError(f"StoreWriter.append_columns: column names are str, got {name!r}")
            arr = np.asarray(value.numpy() if hasattr(value, "numpy") and
                             not isinstance(value, np.ndarray) else value)
            if arr.ndim == 0:
                raise ValueError(f"StoreWriter.append_columns: column {name!r} is a scalar; "
                                 "expected an array of rows")
            if rows is None:
                rows = len(arr)
            elif len(arr) != rows:
                raise ValueError(f"StoreWriter.append_columns: column {name!r} has {len(arr)} "
                                 f"rows, expected {rows}")
            cols[name] = arr
        if "done" not in cols:
            raise ValueError("StoreWriter.append_columns: no 'done' column; a row whose done "
                             "is not 0 ends an episode")
        if cols["done"].dtype.kind not in "biuf":
            raise TypeError(f"StoreWriter.append_columns: column 'done' has dtype "
                            f"{cols['done'].dtype}; expected bool, integers or floats")
        names = tuple(sorted(cols))
        if self._rows and names != self._names:
            raise ValueError(f"StoreWriter.append_columns: columns {list(names)} differ from "
                             f"the columns {list(self._names or ())} of the block being cut")
        ends = np.flatnonzero(cols["done"] != 0)
        start = 0
        k = 0
        assert rows is not None
        while start < rows:
            while k < len(ends) and ends[k] < start:
                k += 1
            cut = start + self.block_steps - self._rows
            episode_end = k < len(ends) and ends[k] < cut
            if episode_end:
                cut = int(ends[k]) + 1
            cut = min(cut, rows)
            self._names = names
            for name in names:
                self._chunks.setdefault(name, []).append(cols[name][start:cut])
            self._rows += cut - start
            self.steps_written += cut - start
            start = cut
            if episode_end or self._rows >= self.block_steps:
                self._cut(release=False)

    # -- shipping --------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise IngestError(f"StoreWriter {self.collector_id!r} is closed")

    def _register(self) -> None:
        if self._run is None:
            self._run, self._applied = ray.get(
                self._mailbox.register.remote(self.collector_id, self.timeout),
                timeout=self.timeout + 5)

    def _cut(self, release: bool) -> None:
        self._register()
        number = self._number
        self._number += 1
        names = self._names or ()
        rows = self._rows
        if number > self._applied:
            batch = pa.RecordBatch.from_arrays(
                [_column(n, self._chunks[n], rows) for n in names], names=list(names))
            self._parcel.append((number, batch, release))
            self._parcel_rows += rows
        else:
            self.blocks_skipped += 1
        self._chunks = {}
        self._rows = 0
        if self._parcel_rows >= self.block_steps or (release and self._parcel):
            self._ship()

    def _ship(self) -> None:
        if not self._parcel:
            return
        ref = ray.put(self._parcel)
        blocks = len(self._parcel)
        # Not waited for here: its answer is checked when the writer waits for acknowledgements.
        self._puts.append(self._mailbox.put.remote(self.collector_id, self._run, self._seq,
                                                   [ref], blocks))
        self._inflight.append((self._seq, blocks))
        self._inflight_blocks += blocks
        self._seq += 1
        self._parcel = []
        self._parcel_rows = 0
        while self._inflight_blocks > self.max_inflight_blocks:
            self._wait_acked(self._inflight[0][0])

    def _wait_acked(self, seq: int) -> None:
        puts, self._puts = self._puts, []
        if not all(ray.get(puts, timeout=self.timeout)):
            self._closed = True
            raise IngestError(f"StoreWriter {self.collector_id!r}: the learner no longer takes "
                              "this writer's blocks (ingest closed, or a newer writer under "
                              "the same id)")
        acked, error = ray.get(
            self._mailbox.wait_acked.remote(self.collector_id, self._run, seq, self.timeout),
            timeout=self.timeout + 5)
        while self._inflight and self._inflight[0][0] <= acked:
            self._inflight_blocks -= self._inflight.popleft()[1]
        if error is not None:
            self._closed = True
            raise IngestError(f"StoreWriter {self.collector_id!r}: {error}")
        if acked < seq:
            raise IngestError(f"StoreWriter {self.collector_id!r}: the learner did not "
                              f"acknowledge within {self.timeout} s")

    def flush(self) -> None:
        """Ship every step appended so far and wait until the learner has taken them. A
        trailing unfinished episode is cut into a block and released: the learner applies it
        as it is (its next rows start a new episode for the learner)."""
        self._check_open()
        if self._rows:
            self._cut(release=True)
        self._ship()
        if self._inflight:
            self._wait_acked(self._inflight[-1][0])

    def close(self) -> None:
        """``flush``, then refuse further appends. Closing twice is a no-op."""
        if self._closed:
            return
        self.flush()
        self._closed = True

    def report_error(self, error: BaseException | str) -> None:
        """Tell the learner that this collector failed (``StoreIngest.wait`` raises
        :class:`CollectorError` with the collector id and this message)."""
        message = error if isinstance(error, str) else "".join(
            traceback.format_exception_only(type(error), error)).strip()
        ray.get(self._mailbox.report_error.remote(self.collector_id, message),
                timeout=self.timeout)


# -- the learner's side ------------------------------------------------------------------------


class StoreIngest:
    """What the learner holds: receives collectors' blocks into ``store`` while it samples.

    A thread of this process takes the blocks writers ship (``ray.get`` maps them from the
    object store: the store appends the mapped Arrow buffers without copying numeric columns)
    and applies them in each collector's number order, whole episodes at a time
    (``mouse_data._core.Ingest``). Samplers (``PrefetchBatchifier``) run concurrently and never
    see part of an episode.

    Arguments:
        store: the learner's ``DatasetStore``.
        block_steps: rows per block at most (writers cut there and at episode ends).
        max_inflight_blocks: shipped blocks a writer may have unacknowledged before it blocks.
        max_buffer_steps: steps the learner holds in unfinished episodes at most (0: no bound).
            When a block would pass it, the block is **refused**: nothing of it is kept, its
            writer raises :class:`IngestError` and ``wait`` raises :class:`CollectorError`
            naming the collector (an episode longer than the bound cannot be taken whole).
        flush_path, flush_every: with both, ``save(flush_path)`` runs every ``flush_every``
            seconds on the ingest thread: a crash of the learner loses at most the steps of
            the last interval (``resume`` restarts from the save).
        log_every: seconds between log lines (logger ``mouse_data.ray``, INFO); 0 = none.
        timeout: seconds a writer waits for the learner's answers before raising.

    Needs ``ray.init()`` first. The mailbox actor takes no CPU.
    """

    def __init__(self, store: Any, *, block_steps: int = 1000, max_inflight_blocks: int = 8,
                 max_buffer_steps: int = 1_000_000, flush_path: str | os.PathLike | None = None,
                 flush_every: float | None = None, log_every: float = 30.0,
                 timeout: float = 60.0) -> None:
        from .dataset_store import DatasetStore

        if not isinstance(store, DatasetStore):
            raise TypeError(f"StoreIngest: store must be a DatasetStore, got "
                            f"{type(store).__name__}")
        for name, value, low in (("block_steps", block_steps, 1),
                                 ("max_inflight_blocks", max_inflight_blocks, 1),
                                 ("max_buffer_steps", max_buffer_steps, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"StoreIngest: {name} must be an int >= {low}, got {value!r}")
        if (flush_path is None) != (flush_every is None):
            raise ValueError("StoreIngest: give flush_path and flush_every together")
        if flush_every is not None and not flush_every > 0:
            raise ValueError(f"StoreIngest: flush_every must be > 0, got {flush_every!r}")
        if not ray.is_initialized():
            raise IngestError("StoreIngest needs a Ray runtime: call ray.init() first")
        self.store = store
        self.block_steps = block_steps
        self.max_inflight_blocks = max_inflight_blocks
        self.max_buffer_steps = max_buffer_steps
        self.timeout = timeout
        self._flush_path = None if flush_path is None else os.fspath(flush_path)
        self._flush_every = flush_every
        self._log_every = log_every
        self._core = _core.Ingest(store._core, max_buffer_steps)
        self._lock = threading.Lock()          # held while applying and while saving
        self._cond = threading.Condition()
        self._errors: list[CollectorError] = []
        self._closed = False
        self._queued_blocks = 0
        self._lost_parcels = 0
        self._last_seen: dict[str, float] = {}
        self._rate = (time.monotonic(), 0, 0)  # (when, steps_in, steps_applied)
        self._rates = (0.0, 0.0)
        self._mailbox = _MailboxActor.remote()
        self._thread = threading.Thread(target=self._run, name="mouse-data-ingest", daemon=True)
        self._thread.start()

    @classmethod
    def resume(cls, store: Any, path: str | os.PathLike, **kwargs: Any) -> StoreIngest:
        """A learner restarting from ``save(path)``: loads the saved steps into ``store``
        (``from_dataset(datasets.load_from_disk(path))``) and the last block applied per
        collector, so restarted writers replaying their steps land each exactly once. Other
        arguments as the constructor."""
        import datasets

        path = _saved_dir(os.fspath(path))
        with open(os.path.join(path, STATE_FILE)) as f:
            state = json.load(f)
        store.from_dataset(datasets.load_from_disk(path))
        ingest = cls(store, **kwargs)
        ingest._core.restore({str(k): int(v) for k, v in state["applied"].items()})
        return ingest

    def writer(self, collector_id: str) -> StoreWriter:
        """A picklable writer for the collector ``collector_id`` (a non-empty str of your
        choosing, stable across restarts of that collector)."""
        if not isinstance(collector_id, str) or not collector_id:
            raise ValueError(f"StoreIngest.writer: collector_id must be a non-empty str, got "
                             f"{collector_id!r}")
        self._check_open()
        return StoreWriter(self._mailbox, collector_id, self.block_steps,
                           self.max_inflight_blocks, self.timeout)

    def collector(self, collector_id: str, env_fn: Callable[[], Any],
                  policy_fn: Callable[[Any, Any], Any], steps_per_block: int | None = None,
                  seed: int | None = 0, max_restarts: int = -1) -> Any:
        """A :class:`CollectorActor` (a Ray actor handle) writing under ``collector_id``;
        Ray restarts it up to ``max_restarts`` times (-1: always) and retries its calls."""
        writer = self.writer(collector_id)
        return CollectorActor.options(max_restarts=max_restarts,
                                      max_task_retries=-1 if max_restarts else 0).remote(
            writer, env_fn, policy_fn, steps_per_block, seed)

    # -- the ingest thread ------------------------------------------------------------------

    def _run(self) -> None:
        next_flush = time.monotonic() + (self._flush_every or 0)
        next_log = time.monotonic() + self._log_every
        while not self._closed:
            try:
                items, queued = ray.get(self._mailbox.take.remote(_POLL_S), timeout=30)
            except Exception as e:  # noqa: BLE001 - the runtime went away, or the actor
                if self._closed:
                    return
                self._fail("<ingest>", f"the ingest mailbox failed: {e}")
                return
            taken = self._process(items)
            self._queued_blocks = queued - taken
            now = time.monotonic()
            if self._flush_every and now >= next_flush:
                try:
                    self.save(self._flush_path)  # type: ignore[arg-type]
                except Exception as e:  # noqa: BLE001
                    log.error("StoreIngest: periodic save to %s failed: %s", self._flush_path, e)
                next_flush = now + self._flush_every
            if self._log_every and now >= next_log:
                log.info("%s", self._log_line())
                next_log = now + self._log_every

    def _process(self, items: list) -> int:
        acks: dict[str, tuple[int, list[int]]] = {}
        opened: dict[tuple[str, int], int] = {}
        errors: dict[str, str] = {}
        parcels: list[tuple[str, Any]] = []
        taken = 0
        for item in items:
            kind, collector = item[0], item[1]
            self._last_seen[collector] = time.monotonic()
            if kind == "open":
                opened[(collector, item[2])] = self._core.open(collector)
            elif kind == "error":
                self._fail(collector, item[2])
            else:
                _, _, run, seq, refs, blocks = item
                taken += blocks
                acks.setdefault(collector, (run, []))[1].append(seq)
                parcels.append((collector, refs[0]))
        # One round trip for every parcel taken; a parcel whose writer died before it was taken
        # is lost (its blocks were not applied, so the restarted writer sends them again).
        try:
            fetched = ray.get([ref for _, ref in parcels], timeout=self.timeout)
        except Exception:  # noqa: BLE001
            fetched = []
            for _, ref in parcels:
                try:
                    fetched.append(ray.get(ref, timeout=self.timeout))
                except Exception:  # noqa: BLE001
                    fetched.append(None)
        for (collector, _), parcel in zip(parcels, fetched):
            if parcel is None:
                self._lost_parcels += 1
                continue
            if collector in errors:
                continue  # a collector that failed in this round: its later blocks wait for it
            message = self._apply(collector, parcel)
            if message is not None:
                errors[collector] = message
                self._fail(collector, message)
        if acks or opened or errors or taken:
            self._mailbox.answer.remote(acks, opened, errors, taken)
        with self._cond:
            self._cond.notify_all()
        return taken

    def _apply(self, collector: str, parcel: list) -> str | None:
        with self._lock:
            for number, batch, release in parcel:
                columns = {name: batch.column(i) for i, name in enumerate(batch.schema.names)}
                try:
                    outcome, _, _, _ = self._core.submit(collector, number, columns, release)
                except (ValueError, TypeError) as e:
                    return f"block {number}: {e}"
                if outcome == "refused":
                    held = self._core.stats()["steps_held"]
                    return (f"block {number} ({batch.num_rows} steps) refused: the learner holds "
                            f"{held} steps of unfinished episodes and max_buffer_steps is "
                            f"{self.max_buffer_steps}")
        return None

    def _fail(self, collector: str, message: str) -> None:
        log.error("StoreIngest: collector %r failed: %s", collector, message)
        with self._cond:
            self._errors.append(CollectorError(collector, message))
            self._cond.notify_all()

    # -- the learner's API ------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise IngestError("StoreIngest is closed")

    def wait(self, steps: int, timeout: float) -> int:
        """Block until ``steps`` steps have been applied to the store by this ingest (counted
        since it started); returns the count. Raises :class:`CollectorError` (the first
        collector error not raised yet) as soon as one is reported, ``TimeoutError`` after
        ``timeout`` seconds, :class:`IngestError` when closed."""
        self._check_open()
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._errors:
                    raise self._errors.pop(0)
                applied = self._core.stats()["steps_applied"]
                if applied >= steps:
                    return applied
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"StoreIngest.wait: {applied} of {steps} steps applied "
                                       f"after {timeout} s")
                if self._closed:
                    raise IngestError("StoreIngest is closed")
                self._cond.wait(min(left, 0.5))

    def errors(self) -> list[CollectorError]:
        """Collector errors reported and not raised by ``wait`` yet (they stay queued)."""
        with self._cond:
            return list(self._errors)

    def stats(self) -> dict[str, Any]:
        """Counters: ``steps_in`` / ``blocks_in`` (received), ``steps_applied`` /
        ``blocks_applied``, ``steps_held`` / ``blocks_held`` (unfinished episodes),
        ``duplicates`` (blocks dropped as already applied), ``refused``,
        ``blocks_in_flight`` (shipped, not yet taken), ``lost_parcels`` (shipped by a writer
        that died before they were taken), ``steps_per_s_in`` / ``steps_per_s_applied`` (since
        the previous call), ``errors``, and ``collectors``: per collector id ``applied`` /
        ``received`` (block numbers), ``lag_blocks`` (received - applied), ``runs``,
        ``steps_applied``, ``steps_held``, ``duplicates``, ``refused``,
        ``seconds_since_seen``."""
        s = self._core.stats()
        now = time.monotonic()
        when, steps_in, steps_applied = self._rate
        if now - when > 1e-3:
            self._rates = ((s["steps_in"] - steps_in) / (now - when),
                           (s["steps_applied"] - steps_applied) / (now - when))
            self._rate = (now, s["steps_in"], s["steps_applied"])
        s["steps_per_s_in"], s["steps_per_s_applied"] = self._rates
        s["blocks_in_flight"] = self._queued_blocks
        s["lost_parcels"] = self._lost_parcels
        s["errors"] = len(self._errors)
        for cid, c in s["collectors"].items():
            c["lag_blocks"] = c["received"] - c["applied"]
            c["seconds_since_seen"] = now - self._last_seen.get(cid, now)
        return s

    def _log_line(self) -> str:
        s = self.stats()
        lag = ", ".join(f"{cid}: {c['lag_blocks']}" for cid, c in s["collectors"].items())
        return (f"ingest: {s['steps_per_s_in']:.0f} steps/s in, {s['steps_per_s_applied']:.0f} "
                f"steps/s applied, {s['steps_applied']} applied, {s['steps_held']} held, "
                f"{s['blocks_in_flight']} blocks in flight, {s['duplicates']} duplicates, "
                f"lag (blocks) {{{lag}}}")

    def save(self, path: str | os.PathLike) -> int:
        """Write every step of the store as a ``save_to_disk`` dataset at ``path`` (loadable with
        ``datasets.load_from_disk`` and ``from_dataset``), with the last block applied per
        collector beside it (``mouse_ingest.json``), consistent with the rows; returns the
        steps written. The directory is replaced whole (written beside, then renamed), so a
        crash while saving leaves the previous save."""
        path = os.fspath(path)
        with self._lock:
            dataset = self.store.to_dataset()
            applied = self._core.applied()
        tmp = f"{path}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        dataset.save_to_disk(tmp)
        with open(os.path.join(tmp, STATE_FILE), "w") as f:
            json.dump({"version": 1, "steps": len(dataset), "applied": applied}, f)
        old = f"{path}.old"
        shutil.rmtree(old, ignore_errors=True)
        if os.path.exists(path):
            os.rename(path, old)
        os.rename(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
        return len(dataset)

    def close(self) -> None:
        """Stop taking blocks (writers then raise :class:`IngestError`) and stop the thread.
        Blocks held for unfinished episodes are not applied. Closing twice is a no-op."""
        if self._closed:
            return
        self._closed = True
        try:
            ray.get(self._mailbox.close.remote(), timeout=10)
        except Exception:  # noqa: BLE001 - the runtime may be shutting down
            pass
        self._thread.join(timeout=35)
        with self._cond:
            self._cond.notify_all()
        try:
            ray.kill(self._mailbox)
        except Exception:  # noqa: BLE001
            pass

    def __enter__(self) -> StoreIngest:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _saved_dir(path: str) -> str:
    """The save at `path`, or the one a crash between two renames left at `path`.old."""
    if os.path.exists(os.path.join(path, STATE_FILE)):
        return path
    if os.path.exists(os.path.join(f"{path}.old", STATE_FILE)):
        return f"{path}.old"
    raise FileNotFoundError(f"StoreIngest.resume: no save at {path} ({STATE_FILE} missing)")


# -- a collector for the common case -----------------------------------------------------------


class _Collector:
    """A gymnasium vector env stepping a policy and writing through one StoreWriter stream per
    sub-env (collector id ``f"{collector_id}/{i}"``), so each sub-env's episodes stay whole and
    contiguous. Rows follow SPEC §3's alignment: a reset row (observation, action 0, reward 0,
    done 0), then per step the next observation with the action, reward and done (1 terminated,
    2 truncated) that produced it."""

    def __init__(self, writer: StoreWriter, env_fn: Callable[[], Any],
                 policy_fn: Callable[[Any, Any], Any], steps_per_block: int | None = None,
                 seed: int | None = 0) -> None:
        self._env = env_fn()
        self._policy = policy_fn
        self._weights: Any = None
        n = int(self._env.num_envs)
        block = steps_per_block or writer.block_steps
        self._writers = [StoreWriter(writer._mailbox, f"{writer.collector_id}/{i}", block,
                                     writer.max_inflight_blocks, writer.timeout)
                         for i in range(n)]
        self._obs, _ = self._env.reset(seed=seed)
        self._reset_next = np.zeros(n, dtype=bool)  # this step's row is a reset row
        self.steps = 0

    def set_weights(self, weights: Any) -> None:
        """Install new policy weights: later actions are ``policy_fn(obs, weights)``."""
        self._weights = weights

    def _write(self, obs: Any, actions: Any, rewards: Any, done: Any) -> None:
        for i, w in enumerate(self._writers):
            w.append({"observation": np.asarray(obs[i]), "action": np.int64(actions[i]),
                      "reward": np.float64(rewards[i]), "done": np.int64(done[i])})

    def collect(self, steps: int) -> int:
        """Step the vector env ``steps`` times (``steps`` x num_envs rows, reset rows included)
        and write the rows; returns the steps taken so far. An exception is reported to the
        learner (with the sub-env's collector id) and raised."""
        n = len(self._writers)
        zeros = np.zeros(n, dtype=np.int64)
        try:
            for _ in range(steps):
                if self.steps == 0:
                    self._write(self._obs, zeros, np.zeros(n), zeros)
                actions = np.asarray(self._policy(self._obs, self._weights))
                obs, rewards, terminated, truncated, _ = self._env.step(actions)
                done = np.where(terminated, 1, np.where(truncated, 2, 0))
                # After an episode ends the next step resets that sub-env (gymnasium's
                # next-step autoreset): its row is a reset row.
                acts = np.where(self._reset_next, 0, actions)
                rews = np.where(self._reset_next, 0.0, rewards)
                self._write(obs, acts, rews, done)
                self._reset_next = done != 0
                self._obs = obs
                self.steps += 1
        except Exception as e:
            for w in self._writers:
                try:
                    w.report_error(e)
                except Exception:  # noqa: BLE001
                    pass
            raise
        return self.steps

    def flush(self) -> None:
        """Ship every row written so far (trailing unfinished episodes included)."""
        for w in self._writers:
            w.flush()

    def close(self) -> None:
        """Flush and close the writers and the env."""
        for w in self._writers:
            w.close()
        self._env.close()


#: The Ray actor class of :class:`_Collector` (``CollectorActor.remote(writer, env_fn,
#: policy_fn, steps_per_block, seed)``, or ``StoreIngest.collector``).
CollectorActor = ray.remote(num_cpus=1)(_Collector)
