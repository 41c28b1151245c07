"""DatasetStore: a step store over Hugging Face datasets (zero-copy) plus an appended buffer."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from . import _core
from ._args import Args
from ._arrow import dataset_from_stream, features_json, stream_of
from ._output import resolve_format, wrap
from .errors import InvalidArgumentError, WrongTypeError


class DatasetStore:
    """HuggingFace Dataset-backed step buffer (the seed's ``mouse.data.DatasetStore``).

    Parameters
    ----------
    max_action_dim : Maximum number of discrete actions; q_star is padded with -inf / truncated
        to it. Must be > 0.
    max_obs_continuous_dim : Width of ``obs_continuous``; 0 = no continuous obs.
    max_obs_discrete_dim : Width of ``obs_discrete`` for list columns; 0 = no discrete obs.
    max_obs_image_pixels : Values per image (H*W*C) in ``obs_image``; 0 = no image obs.
    obs_image_dtype : ``"int64"`` (default, as the original) or ``"uint8"`` (8x smaller batches;
        the fast path for image observations, which the augmenter handles too).
    image_cache : ``None`` (default): the ``"auto"`` cache when it can be had, else (no cache
        directory, one that cannot be written, or the frames would take more than a quarter of
        its free space) one line on stderr and frames decoded on every read. ``"auto"``: a
        decoded-frame cache in ``$MOUSE_DATA_CACHE/frames``, else
        ``$XDG_CACHE_HOME/mouse-data/frames``, else ``~/.cache/mouse-data/frames``, an error
        when it cannot be had (``True`` is ``"auto"``); or a directory. ``False``: frames are
        decoded on every read (no cache). With a cache, ``from_dataset`` decodes every frame of a source's Image column
        once into a memory-mapped file of rows x ``max_obs_image_pixels`` bytes (its size is
        printed first; refused when the disk lacks the space; progress while it builds), shared
        by processes and later runs and rebuilt when a source file changes; image windows are
        then plain copies. Sources given as paths are fingerprinted by their files' size and
        mtime; ``datasets.Dataset`` objects and other in-memory sources by a hash of every
        frame's bytes, which reads them once per ``from_dataset``.
    validate : ``True`` (default): ``from_dataset`` checks every value of a source's contract
        columns (action, reward and done not null; done 0, 1 or 2; action >= 0, and <
        ``max_action_dim`` when q_star is encoded; reward finite; whole numbers in float-stored
        integer columns) and raises ValueError naming the dataset, file, column and row of the
        first bad value. One pass at memory bandwidth; a memory-mapped file that passed is
        remembered in ``$MOUSE_DATA_CACHE/validated`` (by path, size and mtime), so loading it
        again reads nothing. ``False`` skips the check.
    populate : ``False`` (default). ``True``: ``from_dataset`` maps every page of a source's
        encoded columns (and of its frame cache) into the process after the checks, so that
        sampling takes no page faults and the per-batch cost stays flat as the data grows. Only
        when the source fits in 90% of the memory available; otherwise one line on stderr says
        so and pages are faulted in on use. Remote sources are not populated.
    format : ``"auto"`` (TensorDict of torch tensors when torch and tensordict are installed,
        else a dict of NumPy arrays), ``"torch"`` or ``"numpy"``.
    name : Optional name (e.g. the environment or task): ``push_stores_to_hub`` writes each
        named store as its own Hub config, and ``load_stores`` names the stores it returns
        after their configs.

    Source datasets are referenced, never copied: their Arrow buffers are shared through the
    Arrow C data interface and stay alive as long as the store (or a dataset it returned) does.
    One thread may append while others index or sample; every call that works releases the GIL.

    Pickling (``pickle``, ``torch.multiprocessing``, DataLoader workers started with "spawn")
    carries the constructor arguments, the name, the loads in order and the appended rows:

    - a path re-loads that path (the files must be there for the receiver);
    - a ``datasets.Dataset`` backed by Arrow cache files (``load_from_disk``, ``load_dataset``,
      ``map`` ...) pickles as ``datasets`` pickles it, by those files;
    - a source without files (a ``pyarrow.Table``, a stream such as a polars frame, an in-memory
      ``datasets.Dataset``) travels as Arrow IPC stream bytes of its rows, with its features
      (this needs pyarrow);
    - the appended rows travel as Arrow IPC stream bytes in their own column types, and are
      appended back exactly.

    The receiver's store has the same rows in the same order, so indices, windows and a
    batchifier state taken on one side hold on the other.
    """

    def __init__(
        self,
        max_action_dim: int = 1000,
        max_obs_continuous_dim: int = 0,
        max_obs_discrete_dim: int = 0,
        max_obs_image_pixels: int = 0,
        *,
        obs_image_dtype: Literal["int64", "uint8"] = "int64",
        image_cache: str | os.PathLike | bool | None = None,
        validate: bool = True,
        populate: bool = False,
        format: Literal["auto", "torch", "numpy"] = "auto",
        name: str | None = None,
    ) -> None:
        a = Args("DatasetStore", DatasetStore.__init__)
        config = (
            a.int("max_action_dim", max_action_dim),
            a.int("max_obs_continuous_dim", max_obs_continuous_dim),
            a.int("max_obs_discrete_dim", max_obs_discrete_dim),
            a.int("max_obs_image_pixels", max_obs_image_pixels),
            a.str("obs_image_dtype", obs_image_dtype),
            image_cache if isinstance(image_cache, bool) else
            a.path("image_cache", image_cache, none=True),
            a.bool("validate", validate),
            a.bool("populate", populate),
        )
        self.name = a.str("name", name, none=True)
        """The store's name: its Hub config in ``push_stores_to_hub`` (None: unnamed)."""
        if config[5] == "":
            raise InvalidArgumentError('DatasetStore: image_cache must be None, False, "auto" or '
                                       'a directory, got ""')
        self._core = _core.Store(*config[:5], _cache_setting(config[5]), config[6], config[7])
        self._format = resolve_format(a.str("format", format))
        self._requested_format = format
        self._config = config
        # What from_dataset loaded, in order, to pickle the store by (see the class docstring).
        self._loads: list[tuple[Any, ...]] = []

    # -- loading -----------------------------------------------------------------------------

    def from_dataset(
        self,
        ds: Any,
        splits: str | list[str] | None = None,
        split_pattern: str | list[str] | None = None,
        *,
        config: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        cache_limit: int | None = None,
        prefetch_shards: int = 2,
        active_shards: int = 2,
        endpoint_url: str | None = None,
        retry_max_seconds: float | None = None,
        log: bool = True,
    ) -> None:
        """Load steps into the source segment, zero-copy; each call concatenates.

        ``ds`` may be a ``datasets.Dataset`` or ``DatasetDict`` (as ``load_dataset`` /
        ``load_from_disk`` return them), a ``pyarrow.Table``, any object exporting
        ``__arrow_c_stream__`` (polars, DuckDB results ...), a mapping of split name to one of
        those, or a path to a ``save_to_disk`` directory or a Hub layout (``config`` and
        ``cache_dir`` apply to Hub layouts). For several splits, ``splits`` selects exact names
        and ``split_pattern`` fnmatch globs (each one str or a list; a str is one name or one
        pattern, not its letters); neither = all splits. Raises
        KeyError for unknown splits or patterns matching none (listing the available ones),
        ValueError when both are given or a required column is missing or of the wrong type.

        Remote sources (SPEC §8): ``ds`` an ``s3://bucket/prefix``,
        ``hf://datasets/org/name[@revision]`` or ``http(s)://host/path/`` URL of a Hub layout
        (Parquet shards; a plain HTTP directory needs a README whose ``data_files`` name its
        files). Its footers are read now, so ``len(store)`` is known before any shard is
        fetched; shards are fetched whole into ``cache_dir`` (default
        ``$MOUSE_DATA_CACHE/remote``), decoded once and evicted so that at most ``cache_limit``
        bytes (default: 80% of the free space there) are kept. ``prefetch_shards`` shards are
        fetched ahead of the batches that need them; a ``"random"`` batch draws from
        ``active_shards`` shards at once. ``endpoint_url`` overrides the S3 endpoint
        (``AWS_ENDPOINT_URL``); requests retry with backoff for up to ``retry_max_seconds``
        (default 90) before raising ``IoError``. ``log`` prints a line at open and for each
        shard a batch had to wait for. Such a store is read-only and must be the only source
        of its store; ``cache_stats()`` reports its counters.
        """
        a = Args("DatasetStore.from_dataset", DatasetStore.from_dataset)
        splits = a.names("splits", splits)
        pattern = a.names("split_pattern", split_pattern)
        config = a.str("config", config, none=True)
        cache_dir = a.path("cache_dir", cache_dir, none=True)
        cache_limit = a.int("cache_limit", cache_limit, minimum=1, none=True)
        prefetch_shards = a.int("prefetch_shards", prefetch_shards, minimum=0)
        active_shards = a.int("active_shards", active_shards, minimum=1)
        endpoint_url = a.str("endpoint_url", endpoint_url, none=True)
        if retry_max_seconds is not None:
            retry_max_seconds = a.real("retry_max_seconds", retry_max_seconds, minimum=0.001)
        log = a.bool("log", log)
        if isinstance(ds, str) and _is_remote_url(ds):
            remote = (ds, splits, pattern, config, cache_dir, cache_limit, prefetch_shards,
                      active_shards, endpoint_url, retry_max_seconds, log)
            self._core.add_remote(*remote)
            self._loads.append(("remote", *remote))
            return
        if isinstance(ds, (str, os.PathLike)):
            path = a.path("ds", ds)
            self._core.add_path(path, splits, pattern, config, cache_dir)
            self._loads.append(("path", path, splits, pattern, config, cache_dir))
            return
        if config is not None or cache_dir is not None:
            raise InvalidArgumentError("DatasetStore.from_dataset: config and cache_dir apply to a "
                                       "path (a Hub layout) only")
        if _is_split_mapping(ds):
            sources = []
            for name, d in ds.items():
                if not isinstance(name, str):
                    raise a.type_error("ds", "a mapping of split name (str) to dataset", ds)
                sources.append((name, _Source.of(d)))
            self._add_sources(sources, True, splits, pattern)
            return
        if splits is not None or pattern is not None:
            raise InvalidArgumentError(
                "DatasetStore.from_dataset: splits and split_pattern select splits of a "
                f"DatasetDict; got a single {type(ds).__name__}")
        self._add_sources([("", _Source.of(ds))], False, None, None)

    def _add_sources(self, sources: list[tuple[str, _Source]], is_dict: bool,
                     splits: list[str] | None, pattern: list[str] | None) -> None:
        parts = [(name, src.stream(), src.features) for name, src in sources]
        self._core.add_streams(parts, is_dict, splits, pattern)
        self._loads.append(("sources", sources, is_dict, splits, pattern))

    # -- appending ---------------------------------------------------------------------------

    def append(self, data: Mapping[str, Any]) -> None:
        """Append one step (column -> value) to the buffer.

        Values: int, float, bool, str, None, (nested) lists, NumPy arrays and scalars, torch
        tensors (0-dim ones become scalars), and for ``observation_image`` H x W (x C) pixel
        arrays (uint8, or floats in [0, 1] scaled x255), ``PIL.Image`` objects, PNG/JPEG bytes or
        ``{"bytes", "path"}`` dicts. The first value of a column fixes its type (ints widen to
        float when a float arrives). ValueError for an empty row or a row without action /
        reward / done, TypeError for a value that does not fit its column; the store is then
        unchanged.
        """
        if not isinstance(data, Mapping):
            raise Args("DatasetStore.append", DatasetStore.append).type_error(
                "data", "a mapping of column name to value", data)
        self._core.append(data)

    def append_columns(self, columns: Mapping[str, Any]) -> None:
        """Append many steps at once from columns (name -> array of N rows): NumPy arrays, torch
        tensors, lists of numbers or ``__arrow_c_array__`` objects; [N, D] arrays become
        fixed-size list columns. The fast path for vectorised environments: numeric arrays are
        taken without a copy. ``observation_image`` as [N, H, W(, C)] pixels is PNG-encoded per
        row. Errors as ``append``; on error nothing is appended.
        """
        if not isinstance(columns, Mapping):
            raise Args("DatasetStore.append_columns", DatasetStore.append_columns).type_error(
                "columns", "a mapping of column name to array", columns)
        self._core.append_columns(dict(columns))

    # -- reading -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._core)

    def __repr__(self) -> str:
        named = f", name={self.name!r}" if self.name is not None else ""
        return f"DatasetStore(steps={len(self)}{named})"

    def __getitem__(self, indices: Any) -> Any:
        """Encoded steps at ``indices`` (an int, a slice, a sequence or an integer array /
        tensor; negative values count from the end) as a TensorDict[N] in the order given.
        IndexError names an index out of range and the length."""
        idx = _as_indices(indices, len(self))
        return wrap(self._core.get(idx, self._format), self._format)

    def encode_hf_rows(self, rows: Any) -> Any:
        """Encode a batch of rows (a dict of lists as ``Dataset.__getitem__`` returns, a
        ``datasets.Dataset``, a ``pyarrow.Table`` or an Arrow stream) into a TensorDict[N] by the
        column contract. Keys follow the columns of ``rows``."""
        if isinstance(rows, Mapping) and not hasattr(rows, "__arrow_c_stream__"):
            for key, column in rows.items():
                if not isinstance(key, str) or isinstance(column, (str, bytes, Mapping)) or \
                        not hasattr(column, "__len__"):
                    raise Args("DatasetStore.encode_hf_rows", DatasetStore.encode_hf_rows) \
                        .type_error(f"rows[{key!r}]", "a list of values (rows are a dict of "
                                    "column name -> list)", column)
            rows = _table_from_pydict(rows)
        return wrap(self._core.encode_hf_rows(stream_of(rows), features_json(rows), self._format),
                    self._format)

    def to_dataset(self) -> Any:
        """Every step as a ``datasets.Dataset`` (or a ``pyarrow.Table`` without ``datasets``):
        source rows are shared, not copied; buffer rows are built as Arrow columns, appended
        pixel images as the ``Image`` feature."""
        return dataset_from_stream(*self._core.to_dataset())

    @classmethod
    def merge_stores_to_dataset(cls, stores: list[DatasetStore]) -> Any:
        """One dataset of all stores' rows, in order; no stores -> an empty dataset."""
        a = Args("DatasetStore.merge_stores_to_dataset", DatasetStore.merge_stores_to_dataset)
        check_stores(a, "stores", stores)
        return dataset_from_stream(*_core.Store.merge([s._core for s in stores]))

    def cache_stats(self) -> dict[str, int | float]:
        """A remote store's shard cache counters: ``shards``, ``shards_fetched``,
        ``bytes_fetched`` (all response bytes, footers included), ``cache_hits`` (shards found
        complete in the cache instead of fetched), ``evictions``, ``stalls`` (times a batch
        waited for a shard), ``stall_seconds``, ``resident``, ``cache_bytes`` (held now),
        ``cache_bytes_peak``, ``cache_limit``, ``requests``, ``retries``. All 0 for a local
        store."""
        return self._core.cache_stats()

    def clear(self) -> None:
        """Empty the source and the buffer."""
        self._core.clear()
        self._loads = []

    # -- pickling ----------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        buffer = None
        if len(self._core) > self._core.source_size():
            capsule, features = self._core.buffer_to_dataset()
            buffer = (_ipc_bytes(_table_of_capsule(capsule)), features)
        return {"version": 1, "config": self._config, "format": self._requested_format,
                "name": self.name, "loads": self._loads, "buffer": buffer}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state.get("version") != 1:
            raise InvalidArgumentError(
                f"DatasetStore: cannot unpickle a state of version {state.get('version')!r}")
        self.name = state["name"]
        self._config = tuple(state["config"])
        if len(self._config) < 8:  # pickled before populate existed
            self._config += (False,)
        self._core = _core.Store(*self._config[:5], _cache_setting(self._config[5]),
                                 self._config[6], self._config[7])
        self._requested_format = state["format"]
        self._format = resolve_format(self._requested_format)
        self._loads = []
        for load in state["loads"]:
            if load[0] == "path":
                _, path, splits, pattern, config, cache_dir = load
                self._core.add_path(path, splits, pattern, config, cache_dir)
                self._loads.append(load)
            elif load[0] == "remote":
                self._core.add_remote(*load[1:])
                self._loads.append(load)
            else:
                _, sources, is_dict, splits, pattern = load
                self._add_sources(sources, is_dict, splits, pattern)
        if state["buffer"] is not None:
            data, _features = state["buffer"]
            table = _table_of_ipc(data)
            self._core.append_columns(
                {name: table.column(name).combine_chunks() for name in table.column_names})


class _Source:
    """One loaded source as it pickles: a ``datasets.Dataset`` backed by Arrow cache files
    pickles as itself (by its files); anything else as Arrow IPC stream bytes of a
    ``pyarrow.Table`` over its rows (shared, not copied, while in this process)."""

    def __init__(self, dataset: Any = None, table: Any = None, features: str | None = None,
                 capsule: Any = None, kind: str = "") -> None:
        self.dataset = dataset
        self.table = table
        self.features = features
        # Without pyarrow: the stream itself, loaded once and not picklable.
        self.capsule = capsule
        self.kind = kind

    @classmethod
    def of(cls, obj: Any) -> _Source:
        stream = stream_of(obj)  # the TypeError for what is not a dataset, before anything else
        features = features_json(obj)
        if features is not None:  # a datasets.Dataset
            if getattr(obj, "_indices", None) is None and obj.cache_files:
                return cls(dataset=obj, features=features)
            return cls(table=_table_of_capsule(stream), features=features)
        if _is_pyarrow_table(obj):
            return cls(table=obj)
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            return cls(capsule=stream, kind=type(obj).__name__)
        return cls(table=_table_of_capsule(stream))

    def stream(self) -> Any:
        if self.capsule is not None:
            capsule, self.capsule = self.capsule, None
            return capsule
        return stream_of(self.dataset if self.dataset is not None else self.table)

    def __reduce__(self) -> tuple[Any, ...]:
        if self.table is None and self.dataset is None:
            raise WrongTypeError(f"DatasetStore: a source loaded from a {self.kind} pickles as "
                                 "Arrow IPC bytes, which needs pyarrow (pip install pyarrow)")
        if self.dataset is not None:
            return (_Source, (self.dataset, None, self.features))
        return (_source_from_ipc, (_ipc_bytes(self.table), self.features))


def _source_from_ipc(data: bytes, features: str | None) -> _Source:
    return _Source(table=_table_of_ipc(data), features=features)


def _is_remote_url(path: str) -> bool:
    return path.startswith(("s3://", "hf://", "http://", "https://"))


def _is_pyarrow_table(obj: Any) -> bool:
    return type(obj).__name__ == "Table" and type(obj).__module__.startswith("pyarrow")


def _table_of_capsule(capsule: Any) -> Any:
    """A pyarrow.Table over the batches of an ``arrow_array_stream`` capsule (not copied)."""
    import ctypes

    import pyarrow as pa

    from ._arrow import _Stream

    is_valid = ctypes.pythonapi.PyCapsule_IsValid
    is_valid.restype = ctypes.c_int
    is_valid.argtypes = [ctypes.py_object, ctypes.c_char_p]
    if not is_valid(capsule, b"arrow_array_stream"):
        raise WrongTypeError('__arrow_c_stream__ must return an "arrow_array_stream" PyCapsule, '
                             f"got {type(capsule).__name__}")
    try:
        return pa.table(_Stream(capsule))
    except pa.ArrowException as e:
        raise InvalidArgumentError(f"reading the Arrow stream: {e}") from e


def _ipc_bytes(table: Any) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _table_of_ipc(data: bytes) -> Any:
    import pyarrow as pa

    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def check_stores(a: Args, name: str, stores: Any) -> list[DatasetStore]:
    """A list (or tuple) of DatasetStore."""
    if isinstance(stores, DatasetStore) or not isinstance(stores, (list, tuple)):
        raise a.type_error(name, "a list of DatasetStore", stores)
    for i, st in enumerate(stores):
        if not isinstance(st, DatasetStore):
            raise a.type_error(f"{name}[{i}]", "a DatasetStore", st)
    return list(stores)


def _is_split_mapping(ds: Any) -> bool:
    try:
        import datasets

        if isinstance(ds, (datasets.DatasetDict, datasets.IterableDatasetDict)):
            return True
    except ImportError:
        pass
    return isinstance(ds, Mapping) and not hasattr(ds, "__arrow_c_stream__")


def _as_indices(indices: Any, n: int) -> np.ndarray:
    if isinstance(indices, slice):
        return np.arange(*indices.indices(n), dtype=np.int64)
    if hasattr(indices, "detach"):  # a torch tensor
        indices = indices.detach().cpu().numpy()
    arr = np.asarray(indices)
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise WrongTypeError(f"DatasetStore[indices]: indices must be integers, got {arr.dtype}")
    return np.ascontiguousarray(arr.ravel(), dtype=np.int64)


def _table_from_pydict(rows: Mapping[str, Any]) -> Any:
    """A dict of lists (as ``Dataset.__getitem__`` returns) as a table. Decoded ``PIL.Image``
    values are stored losslessly as PNG in an ``Image`` column (``datasets`` would re-encode
    JPEG-sourced images as lossy JPEG), so their pixels encode exactly as given."""
    rows = dict(rows)
    image_cols = [k for k, v in rows.items() if any(_is_pil(x) for x in v)]
    for k in image_cols:
        rows[k] = [_png(x) if _is_pil(x) else x for x in rows[k]]
    try:
        import datasets
    except ImportError:
        import pyarrow as pa

        return pa.table(rows)
    ds = datasets.Dataset.from_dict(rows)
    for k in image_cols:
        ds = ds.cast_column(k, datasets.Image())
    return ds


def _is_pil(value: Any) -> bool:
    return type(value).__module__.startswith("PIL.") and hasattr(value, "save")


def _png(image: Any) -> dict[str, Any]:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}


def _cache_setting(image_cache: str | bool | None) -> str:
    """The C++ StoreConfig::image_cache for the Python argument: None -> "default" (the cache
    when it can be had), False -> "" (none), else the setting itself."""
    if image_cache is None:
        return "default"
    if image_cache is False:
        return ""
    if image_cache is True:
        return "auto"
    return str(image_cache)
