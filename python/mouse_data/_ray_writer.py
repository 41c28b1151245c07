"""The collectors' side of mouse_data.ray (SPEC §9): StoreWriter, which cuts steps into numbered
blocks and ships them through Ray's object store, and the mailbox actor between writers and the
learner's ingest thread. Imported through mouse_data.ray."""

from __future__ import annotations

import asyncio
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import ray

from .errors import Error


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


def _pack(parcel: list[tuple[int, Any, bool]],
          scratch: np.ndarray) -> tuple[list[int], list[bool], np.ndarray]:
    """A parcel as one Ray object: the blocks' numbers and release flags, and their record
    batches as one Arrow IPC stream in a uint8 array (Ray stores an array with one copy and
    maps it on the learner, where the batches are read from it without another). Written into
    `scratch` when it is big enough (the caller keeps it: pages already touched, not faulted
    in again for every parcel); valid until the next call."""
    def write(sink: Any) -> None:
        with pa.ipc.new_stream(sink, parcel[0][1].schema) as stream:
            for _, batch, _ in parcel:
                stream.write_batch(batch)

    sizer = pa.MockOutputStream()  # sizes the stream without copying anything
    write(sizer)
    size = sizer.size()
    data = scratch[:size] if len(scratch) >= size else np.empty(size, dtype=np.uint8)
    write(pa.FixedSizeBufferWriter(pa.py_buffer(data)))
    return [n for n, _, _ in parcel], [r for _, _, r in parcel], data


def unpack(parcel: tuple[list[int], list[bool], np.ndarray]) -> list[tuple[int, Any, bool]]:
    """The learner's side of `_pack`: (number, record batch, release) per block, the batches'
    buffers inside the mapped array."""
    numbers, releases, data = parcel
    batches = list(pa.ipc.open_stream(pa.py_buffer(data)))
    if len(batches) != len(numbers):
        raise IngestError(f"a parcel of blocks {numbers} holds {len(batches)} record batches")
    return list(zip(numbers, batches, releases))


class StoreWriter:
    """What a collector holds (from ``StoreIngest.writer``): appends steps locally, cuts them
    into blocks and ships the blocks to the learner.

    A block ends at a row whose ``done`` is not 0 (an episode end) or after ``block_steps``
    rows, whichever comes first, so the same rows always give the same blocks; blocks are
    numbered from 0. Finished blocks travel together, as Arrow record batches in one Ray object
    (a parcel), once they hold ``parcel_bytes`` bytes or the oldest of them waited
    ``parcel_seconds`` (checked on each append), and at ``ship``/``flush``/``close``: one object
    and one actor call per parcel, not per block. At most ``max_inflight_blocks`` shipped blocks
    (or two parcels, whichever is more) wait unacknowledged; beyond that the writer blocks
    until the learner takes them (backpressure, the learner never waits for collectors).

    On its first block the writer registers with the learner and learns the last block applied
    under its ``collector_id``: a writer started again under the same id (a collector restarted
    by Ray) that replays the same steps skips the blocks already applied, so every step lands
    once. Picklable (the learner makes it, a Ray task or actor uses it); not thread-safe.
    Usable as a context manager: ``close`` on exit, and an exception inside is reported to the
    learner (``StoreIngest.wait`` raises it with the collector id).
    """

    def __init__(self, mailbox: Any, collector_id: str, block_steps: int,
                 max_inflight_blocks: int, timeout: float, parcel_bytes: int = 16 << 20,
                 parcel_seconds: float = 0.05) -> None:
        self._mailbox = mailbox
        self.collector_id = collector_id
        self.block_steps = block_steps
        self.max_inflight_blocks = max_inflight_blocks
        self.timeout = timeout
        self.parcel_bytes = parcel_bytes
        self.parcel_seconds = parcel_seconds
        self._reset()

    def _reset(self) -> None:
        self._run: int | None = None
        self._applied = -1
        self._number = 0
        self._names: tuple[str, ...] | None = None
        self._chunks: dict[str, list[np.ndarray]] = {}
        self._rows = 0
        self._parcel: list[tuple[int, Any, bool]] = []
        self._parcel_bytes = 0
        self._parcel_since = 0.0
        self._scratch = np.empty(0, dtype=np.uint8)
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
                "max_inflight_blocks": self.max_inflight_blocks, "timeout": self.timeout,
                "parcel_bytes": self.parcel_bytes, "parcel_seconds": self.parcel_seconds}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["mailbox"], state["collector_id"], state["block_steps"],
                      state["max_inflight_blocks"], state["timeout"], state["parcel_bytes"],
                      state["parcel_seconds"])

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
        if self._parcel and time.monotonic() - self._parcel_since >= self.parcel_seconds:
            self._ship()

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
            if self._parcel and batch.schema != self._parcel[0][1].schema:
                self._ship()  # a parcel is one Arrow stream: one schema
            if not self._parcel:
                self._parcel_since = time.monotonic()
            self._parcel.append((number, batch, release))
            self._parcel_bytes += batch.nbytes
        else:
            self.blocks_skipped += 1
        self._chunks = {}
        self._rows = 0
        if self._parcel_bytes >= self.parcel_bytes or (release and self._parcel):
            self._ship()

    def _ship(self) -> None:
        if not self._parcel:
            return
        packed = _pack(self._parcel, self._scratch)
        if len(packed[2]) > len(self._scratch):
            self._scratch = packed[2]
        ref = ray.put(packed)  # copies into Ray's object store: the scratch is free again
        blocks = len(self._parcel)
        # Not waited for here: its answer is checked when the writer waits for acknowledgements.
        self._puts.append(self._mailbox.put.remote(self.collector_id, self._run, self._seq,
                                                   [ref], blocks))
        self._inflight.append((self._seq, blocks))
        self._inflight_blocks += blocks
        self._seq += 1
        self._parcel = []
        self._parcel_bytes = 0
        while self._inflight_blocks > self.max_inflight_blocks and len(self._inflight) > 1:
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

    def ship(self) -> None:
        """Ship the finished blocks now (not a trailing unfinished episode), without waiting
        for the learner: what a collector calls at the end of a burst of steps so they need not
        wait ``parcel_seconds`` for the next append."""
        self._check_open()
        self._ship()

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
