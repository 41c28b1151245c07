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


class PreparerThread:
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
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=max(depth, 1))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mouse-data-preparer", daemon=True)
        self._thread.start()

    def _put(self, item: _Item) -> bool:
        # Waits for room, but gives up when asked to stop.
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

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
        while True:
            try:
                item = self._queue.get(timeout=0.1)
                break
            except queue.Empty:
                if not self._thread.is_alive():
                    raise RuntimeError("PrefetchBatchifier: the preparer thread has stopped") from None
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self, close_core: bool) -> None:
        """Stops the thread and drops the queued batches. A thread blocked in the core's next()
        is released by closing the core (``close_core``) or by the batch it waits for."""
        self._stop.set()
        if close_core:
            self._core.close()
        while self._thread.is_alive():
            try:
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(timeout=0.05)
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
