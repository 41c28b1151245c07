"""The Python thread that runs a batchifier's ``preparer`` on the batches its C++ workers make.

One thread pulls batches from the core (waiting without the GIL), calls the preparer and puts
its result, with the batch's record and the batchifier state after it, on a bounded queue the
consumer reads. The C++ side (sampling, gathering, packing, augmenting) never waits for Python;
only the preparer itself holds the GIL, so its cost is what it computes plus the switches of
the GIL between this thread and the training loop.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

# A queue entry: (prepared data, record tuple, state JSON after the batch) or an exception.
_Item = tuple[Any, tuple[Any, ...], str] | BaseException


class QueueThread:
    """A daemon thread (its ``_run``, in a subclass) that fills a bounded queue the one consumer
    reads with ``get``: entries are results, or exceptions that ``get`` raises. ``stop`` ends
    the thread and drops what is queued. Not thread-safe: one consumer; ``stop`` is the
    owner's."""

    def __init__(self, name: str, depth: int, stopped: str) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(depth, 1))
        self._stopped = stopped  # get's message when the thread ended with nothing queued
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        raise NotImplementedError

    def _put(self, item: Any) -> bool:
        # Waits for room, but gives up when asked to stop.
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def get(self) -> Any:
        """The next entry; raises the exception queued in its place."""
        while True:
            try:
                item = self._queue.get(timeout=0.1)
                break
            except queue.Empty:
                if not self._thread.is_alive():
                    raise RuntimeError(self._stopped) from None
        if isinstance(item, BaseException):
            raise item
        return item

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def stop(self) -> None:
        """Stops the thread (emptying the queue so that a blocked put sees the stop) and drops
        the queued entries."""
        self._stop.set()
        while self._thread.is_alive():
            self._drain()
            self._thread.join(timeout=0.05)
        self._drain()


class PreparerThread(QueueThread):
    """Feeds ``preparer(make(record))`` for every batch of ``core`` into a queue of ``depth``.

    ``make`` turns the core's record (``core.next``'s tuple) into the object the preparer gets.
    Not thread-safe: one consumer calls ``get``; ``stop`` is for the owner.
    """

    def __init__(self, core: Any, fmt: str, make: Callable[[tuple[Any, ...]], Any],
                 preparer: Callable[[Any], Any], depth: int) -> None:
        self._core = core
        self._fmt = fmt
        self._make = make
        self._preparer = preparer
        super().__init__("mouse-data-preparer", depth,
                         "PrefetchBatchifier: the preparer thread has stopped")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                record = self._core.next(self._fmt)
                state = self._core.state()
            except BaseException as e:  # noqa: BLE001 - shipped to the consumer
                if self._stop.is_set():
                    return
                self._put(e)
                continue
            try:
                prepared = self._preparer(self._make(record))
            except BaseException as e:  # noqa: BLE001 - shipped to the consumer
                self._put(e)
                continue
            if not self._put((prepared, record, state)):
                return

    def get(self) -> tuple[Any, tuple[Any, ...], str]:
        """The next (prepared, record, state); raises what the core or the preparer raised."""
        return super().get()

    def stop(self, close_core: bool) -> None:  # type: ignore[override]
        """Stops the thread and drops the queued batches. A thread blocked in the core's next()
        is released by closing the core (``close_core``) or by the batch it waits for."""
        self._stop.set()
        if close_core:
            self._core.close()
        super().stop()
