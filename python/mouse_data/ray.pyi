import os
from collections.abc import Callable, Mapping
from typing import Any

from .dataset_store import DatasetStore
from .errors import Error

STATE_FILE: str

class IngestError(Error, RuntimeError): ...

class CollectorError(IngestError):
    collector_id: str
    def __init__(self, collector_id: str, message: str) -> None: ...

class StoreWriter:
    collector_id: str
    block_steps: int
    max_inflight_blocks: int
    timeout: float
    parcel_bytes: int
    parcel_seconds: float
    steps_written: int
    blocks_skipped: int
    def append(self, row: Mapping[str, Any]) -> None: ...
    def append_columns(self, columns: Mapping[str, Any]) -> None: ...
    def ship(self) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def report_error(self, error: BaseException | str) -> None: ...
    def __enter__(self) -> StoreWriter: ...
    def __exit__(self, kind: Any, value: Any, tb: Any) -> None: ...

class StoreIngest:
    store: DatasetStore
    block_steps: int
    max_inflight_blocks: int
    max_buffer_steps: int
    parcel_bytes: int
    parcel_seconds: float
    timeout: float
    def __init__(
        self,
        store: DatasetStore,
        *,
        block_steps: int = 1000,
        max_inflight_blocks: int = 8,
        max_buffer_steps: int = 1_000_000,
        parcel_bytes: int = 16 << 20,
        parcel_seconds: float = 0.05,
        flush_path: str | os.PathLike[str] | None = None,
        flush_every: float | None = None,
        log_every: float = 30.0,
        timeout: float = 60.0,
    ) -> None: ...
    @classmethod
    def resume(cls, store: DatasetStore, path: str | os.PathLike[str], **kwargs: Any) -> StoreIngest: ...
    def writer(self, collector_id: str) -> StoreWriter: ...
    def collector(
        self,
        collector_id: str,
        env_fn: Callable[[], Any],
        policy_fn: Callable[[Any, Any], Any],
        steps_per_block: int | None = None,
        seed: int | None = 0,
        max_restarts: int = -1,
    ) -> Any: ...
    def wait(self, steps: int, timeout: float) -> int: ...
    def errors(self) -> list[CollectorError]: ...
    def stats(self) -> dict[str, Any]: ...
    def save(self, path: str | os.PathLike[str]) -> int: ...
    def close(self) -> None: ...
    def __enter__(self) -> StoreIngest: ...
    def __exit__(self, *exc: Any) -> None: ...

#: The Ray actor class of a vector-env collector: ``CollectorActor.remote(writer, env_fn,
#: policy_fn, steps_per_block, seed)``; methods ``collect(steps)``, ``set_weights(w)``,
#: ``flush()``, ``close()`` (called through ``.remote``).
CollectorActor: Any
