"""DatasetStore: a step store over Hugging Face datasets (zero-copy) plus an appended buffer."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _core
from ._arrow import dataset_from_stream, features_json, stream_of
from ._output import resolve_format, wrap


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
    image_cache : ``None`` (default: frames are decoded on every read), ``"auto"`` (a
        decoded-frame cache in ``$MOUSE_DATA_CACHE/frames``, else
        ``$XDG_CACHE_HOME/mouse-data/frames``, else ``~/.cache/mouse-data/frames``) or a
        directory. With a cache, ``from_dataset`` decodes every frame of a source's Image column
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
    format : ``"auto"`` (TensorDict of torch tensors when torch and tensordict are installed,
        else a dict of NumPy arrays), ``"torch"`` or ``"numpy"``.
    name : Optional name (e.g. the environment or task): ``push_stores_to_hub`` writes each
        named store as its own Hub config, and ``load_stores`` names the stores it returns
        after their configs.

    Source datasets are referenced, never copied: their Arrow buffers are shared through the
    Arrow C data interface and stay alive as long as the store (or a dataset it returned) does.
    One thread may append while others index or sample; every call that works releases the GIL.
    """

    def __init__(
        self,
        max_action_dim: int = 1000,
        max_obs_continuous_dim: int = 0,
        max_obs_discrete_dim: int = 0,
        max_obs_image_pixels: int = 0,
        *,
        obs_image_dtype: str = "int64",
        image_cache: str | os.PathLike | None = None,
        validate: bool = True,
        format: str = "auto",
        name: str | None = None,
    ) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, got {type(name).__name__}")
        self.name = name
        """The store's name: its Hub config in ``push_stores_to_hub`` (None: unnamed)."""
        if image_cache is not None and not isinstance(image_cache, (str, os.PathLike)):
            raise TypeError(
                f"image_cache must be None, \"auto\" or a directory, got {type(image_cache).__name__}"
            )
        if image_cache is not None and os.fspath(image_cache) == "":
            raise ValueError('image_cache must be None, "auto" or a directory, got ""')
        self._core = _core.Store(
            int(max_action_dim),
            int(max_obs_continuous_dim),
            int(max_obs_discrete_dim),
            int(max_obs_image_pixels),
            obs_image_dtype,
            "" if image_cache is None else os.fspath(image_cache),
            bool(validate),
        )
        self._format = resolve_format(format)

    # -- loading -----------------------------------------------------------------------------

    def from_dataset(
        self,
        ds: Any,
        splits: list[str] | None = None,
        split_pattern: str | list[str] | None = None,
        *,
        config: str | None = None,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        """Load steps into the source segment, zero-copy; each call concatenates.

        ``ds`` may be a ``datasets.Dataset`` or ``DatasetDict`` (as ``load_dataset`` /
        ``load_from_disk`` return them), a ``pyarrow.Table``, any object exporting
        ``__arrow_c_stream__`` (polars, DuckDB results ...), a mapping of split name to one of
        those, or a path to a ``save_to_disk`` directory or a Hub layout (``config`` and
        ``cache_dir`` apply to Hub layouts). For several splits, ``splits`` selects exact names
        and ``split_pattern`` fnmatch globs (one or a list); neither = all splits. Raises
        KeyError for unknown splits or patterns matching none (listing the available ones),
        ValueError when both are given or a required column is missing or of the wrong type.
        """
        pattern = [split_pattern] if isinstance(split_pattern, str) else split_pattern
        splits = list(splits) if splits is not None else None
        if isinstance(ds, (str, os.PathLike)):
            self._core.add_path(os.fspath(ds), splits, pattern, config,
                                os.fspath(cache_dir) if cache_dir is not None else None)
            return
        if config is not None or cache_dir is not None:
            raise ValueError("config and cache_dir apply to a path (a Hub layout) only")
        if _is_split_mapping(ds):
            parts = [(str(name), stream_of(d), features_json(d)) for name, d in ds.items()]
            self._core.add_streams(parts, True, splits, pattern)
            return
        if splits is not None or pattern is not None:
            raise ValueError("splits and split_pattern select splits of a DatasetDict; "
                             f"got a single {type(ds).__name__}")
        self._core.add_streams([("", stream_of(ds), features_json(ds))], False, None, None)

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
        self._core.append(data)

    def append_columns(self, columns: Mapping[str, Any]) -> None:
        """Append many steps at once from columns (name -> array of N rows): NumPy arrays, torch
        tensors, lists of numbers or ``__arrow_c_array__`` objects; [N, D] arrays become
        fixed-size list columns. The fast path for vectorised environments: numeric arrays are
        taken without a copy. ``observation_image`` as [N, H, W(, C)] pixels is PNG-encoded per
        row. Errors as ``append``; on error nothing is appended.
        """
        self._core.append_columns(dict(columns))

    # -- reading -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._core)

    def __repr__(self) -> str:
        src = self._core.source_size()
        named = f"name={self.name!r}, " if self.name is not None else ""
        return f"DatasetStore({named}source={src}, buffer={len(self) - src})"

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
        return dataset_from_stream(*_core.Store.merge([s._core for s in stores]))

    def clear(self) -> None:
        """Empty the source and the buffer."""
        self._core.clear()


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
        raise TypeError(f"indices must be integers, got {arr.dtype}")
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
