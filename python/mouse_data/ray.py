"""Many collectors, one learner, on Ray (SPEC §9).

The learner holds a :class:`StoreIngest` over its :class:`~mouse_data.DatasetStore`; each
collector (a Ray task or actor) holds a :class:`StoreWriter` from ``ingest.writer(collector_id)``.
A writer cuts the rows it is given into numbered blocks (at episode ends and every
``block_steps`` rows) and ships them, a parcel of blocks at a time, as one Arrow IPC stream
through Ray's object store; a
thread of the learner maps them (zero-copy) and hands them to the C++ sequencer
(``mouse_data._core.Ingest``), which applies each collector's blocks in number order, whole
episodes at a time, exactly once. This module only moves blocks and acknowledgements.

Needs the ``ray`` extra: ``pip install "mouse-data[ray]"``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from typing import Any


try:
    import pyarrow as pa  # noqa: F401 - the extra's other half, used by the writers
    import ray
except ImportError as e:  # pragma: no cover - exercised without the extra only
    from .errors import MissingDependencyError

    raise MissingDependencyError(
        "mouse_data.ray needs ray and pyarrow: pip install \"mouse-data[ray]\"") from e

from . import _core
from ._ray_collector import CollectorActor
from ._ray_writer import CollectorError, IngestError, StoreWriter, _MailboxActor, unpack

__all__ = ["StoreIngest", "StoreWriter", "CollectorActor", "CollectorError", "IngestError"]

log = logging.getLogger("mouse_data.ray")

#: Seconds the ingest thread waits for blocks per round trip when none come (blocks end the wait
#: at once; this only paces an idle thread's checks for close, flushes and log lines).
_POLL_S = 0.25

#: Name of the file that save() writes beside the dataset: the last block applied per collector.
STATE_FILE = "mouse_ingest.json"


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
        max_inflight_blocks: shipped blocks a writer may have unacknowledged before it blocks
            (at least two parcels may always be in flight).
        parcel_bytes, parcel_seconds: a writer ships its finished blocks together, in one Ray
            object, once they hold ``parcel_bytes`` bytes or the oldest waited
            ``parcel_seconds`` (checked on each append; ``StoreWriter.ship`` and ``flush`` ship
            at once). Bigger parcels cost fewer Ray calls per step.
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
                 max_buffer_steps: int = 1_000_000, parcel_bytes: int = 16 << 20,
                 parcel_seconds: float = 0.05, flush_path: str | os.PathLike | None = None,
                 flush_every: float | None = None, log_every: float = 30.0,
                 timeout: float = 60.0) -> None:
        from .dataset_store import DatasetStore

        if not isinstance(store, DatasetStore):
            raise TypeError(f"StoreIngest: store must be a DatasetStore, got "
                            f"{type(store).__name__}")
        for name, value, low in (("block_steps", block_steps, 1),
                                 ("max_inflight_blocks", max_inflight_blocks, 1),
                                 ("max_buffer_steps", max_buffer_steps, 0),
                                 ("parcel_bytes", parcel_bytes, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"StoreIngest: {name} must be an int >= {low}, got {value!r}")
        if (isinstance(parcel_seconds, bool) or not isinstance(parcel_seconds, (int, float))
                or not parcel_seconds >= 0):
            raise ValueError(f"StoreIngest: parcel_seconds must be a number >= 0, got "
                             f"{parcel_seconds!r}")
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
        self.parcel_bytes = parcel_bytes
        self.parcel_seconds = float(parcel_seconds)
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
                           self.max_inflight_blocks, self.timeout, self.parcel_bytes,
                           self.parcel_seconds)

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

    def _apply(self, collector: str, parcel: Any) -> str | None:
        try:
            blocks = unpack(parcel)
        except Exception as e:  # noqa: BLE001 - a parcel that is not one is the writer's fault
            return f"an unreadable parcel: {e}"
        with self._lock:
            for number, batch, release in blocks:
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
