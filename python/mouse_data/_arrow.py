"""Arrow interchange with the Python ecosystem through the PyCapsule protocol (no copies)."""

from __future__ import annotations

import json
from typing import Any

from .errors import InternalError, WrongTypeError


class _Stream:
    """Hands a C stream capsule to a consumer that takes ``__arrow_c_stream__`` objects."""

    def __init__(self, capsule: Any) -> None:
        self._capsule = capsule

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        if requested_schema is not None:
            raise NotImplementedError("mouse_data streams are exported in their own schema")
        capsule, self._capsule = self._capsule, None
        if capsule is None:
            raise InternalError("this Arrow stream was already consumed")
        return capsule


def _hf_dataset(obj: Any) -> Any:
    try:
        import datasets
    except ImportError:
        return None
    return obj if isinstance(obj, datasets.Dataset) else None


def stream_of(obj: Any) -> Any:
    """An ``arrow_array_stream`` capsule over ``obj``'s rows, sharing its buffers.

    ``datasets.Dataset``: its Arrow table (memory-mapped when loaded from disk). A dataset with
    an indices mapping (after ``select`` / ``shuffle`` / ``filter``) is flattened first, which
    copies the selected rows, as ``datasets`` itself does on ``save_to_disk``.
    Anything else must export ``__arrow_c_stream__`` (pyarrow, polars, DuckDB ...)."""
    ds = _hf_dataset(obj)
    if ds is not None:
        if ds._indices is not None:
            ds = ds.flatten_indices()
        return ds.data.table.__arrow_c_stream__()
    if hasattr(obj, "__arrow_c_stream__"):
        return obj.__arrow_c_stream__()
    raise WrongTypeError(
        "expected a datasets.Dataset / DatasetDict, a pyarrow.Table, an object with "
        f"__arrow_c_stream__, or a path; got {type(obj).__name__}"
    )


def features_json(obj: Any) -> str | None:
    """The ``datasets`` features of ``obj`` as dataset_info.json writes them, if it has any."""
    ds = _hf_dataset(obj)
    if ds is None:
        return None
    return json.dumps(ds.features.to_dict())


def dataset_from_stream(capsule: Any, features: str) -> Any:
    """A ``datasets.Dataset`` (or, without ``datasets``, a ``pyarrow.Table``) over a stream
    exported by the core, sharing its buffers."""
    import pyarrow as pa

    table = pa.table(_Stream(capsule))
    try:
        import datasets
        from datasets.table import InMemoryTable
    except ImportError:
        return table
    info = datasets.DatasetInfo(features=datasets.Features.from_dict(json.loads(features)))
    return datasets.Dataset(InMemoryTable(table), info=info)
