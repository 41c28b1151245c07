"""``Datastore`` of the 0.4 face: a ``DatasetStore`` whose rows read back as plain dicts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from ..dataset_store import DatasetStore
from ..errors import InvalidArgumentError, WrongTypeError

__all__ = ["Datastore"]


def rows_of(columns: Mapping[str, list[Any]]) -> list[dict]:
    """A dict of equal-length lists (what ``Dataset.__getitem__`` returns) as a list of row
    dicts."""
    if not columns:
        return []
    n = len(next(iter(columns.values())))
    return [{k: v[i] for k, v in columns.items()} for i in range(n)]


class Datastore(DatasetStore):
    """An ordered sequence of steps: the 0.4 ``Datastore`` on the mouse_data engine.

    It is a :class:`mouse_data.DatasetStore` (so every mouse_data batchifier and hub function
    takes it) with the 0.4 reading side: ``store[indices]`` returns the raw rows as a list of
    dicts, ``columns`` lists the column names, and ``append`` also takes another store or a list
    of stores. ``name`` is the store's Hub config in ``push_stores_to_hub``.

    Rows must hold the engine's required columns ``action``, ``reward`` and ``done`` (see the
    mouse_data README, column contract); other keys are kept as they are. The keyword options
    after ``name`` are those of ``DatasetStore`` (max dims of the encoded columns, image cache,
    validation, output format).
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        max_action_dim: int = 1000,
        max_obs_continuous_dim: int = 0,
        max_obs_discrete_dim: int = 0,
        max_obs_image_pixels: int = 0,
        obs_image_dtype: Literal["int64", "uint8"] = "int64",
        image_cache: str | os.PathLike | bool | None = None,
        validate: bool = True,
        format: Literal["auto", "torch", "numpy"] = "auto",
    ) -> None:
        super().__init__(max_action_dim, max_obs_continuous_dim, max_obs_discrete_dim,
                         max_obs_image_pixels, obs_image_dtype=obs_image_dtype,
                         image_cache=image_cache, validate=validate, format=format, name=name)

    @property
    def columns(self) -> list[str]:
        """The column names of the store (an empty list while it is empty)."""
        if len(self) == 0:
            return []
        ds = self.to_dataset()
        names = getattr(ds, "column_names", None)
        return list(names) if names is not None else []

    def __repr__(self) -> str:
        cols = self.columns
        parts = ([f"name={self.name!r}"] if self.name is not None else []) + [f"steps={len(self)}"]
        if cols:
            parts.append(f"columns={cols}")
        return f"Datastore({', '.join(parts)})"

    def __getitem__(self, indices: Any) -> list[dict]:
        """The raw rows at ``indices`` (an int, a slice or a sequence of ints; negative ones
        count from the end), as a list of dicts in the order given. IndexError names an index
        out of range. (``DatasetStore`` indexing, encoded tensors, is ``encoded(indices)``.)"""
        n = len(self)
        if isinstance(indices, slice):
            idx = np.arange(n)[indices]
        else:
            idx = np.asarray(indices).ravel()
            if idx.size and not np.issubdtype(idx.dtype, np.integer):
                raise WrongTypeError(f"Datastore: indices must be integers, got {indices!r}")
            idx = idx.astype(np.int64)
            bad = idx[(idx < -n) | (idx >= n)]
            if bad.size:
                raise IndexError(f"Datastore: index {int(bad[0])} is out of range for a store "
                                 f"of {n} steps")
            idx = np.where(idx < 0, idx + n, idx)
        if idx.size == 0:
            return []
        return rows_of(self.to_dataset()[idx.tolist()])

    def encoded(self, indices: Any) -> Any:
        """The steps at ``indices`` encoded by the column contract, as a TensorDict[N] (what
        ``DatasetStore.__getitem__`` returns)."""
        return DatasetStore.__getitem__(self, indices)

    def append(self, data: Any) -> None:  # type: ignore[override]
        """Append one row (a dict), or every row of another store or of a list of stores, in
        order. ValueError for an empty row; TypeError for anything else."""
        if isinstance(data, DatasetStore):
            if len(data):
                self.from_dataset(data.to_dataset())
            return
        if isinstance(data, list):
            if not all(isinstance(s, DatasetStore) for s in data):
                raise WrongTypeError("Datastore.append: expects a row dict, a Datastore or a "
                                     "list of Datastores")
            for store in data:
                self.append(store)
            return
        if not isinstance(data, Mapping):
            raise WrongTypeError("Datastore.append: expects a row dict, a Datastore or a list "
                                 f"of Datastores, got {type(data).__name__}")
        if not data:
            raise InvalidArgumentError("Datastore.append: the row is empty")
        super().append(data)

    def from_dataset(self, ds: Any, *args: Any, **kwargs: Any) -> None:
        """Add the rows of a ``datasets.Dataset`` (a ``DatasetDict``: its splits concatenated in
        order) after the rows already in the store, zero-copy; empty datasets are skipped.
        Further arguments are those of ``DatasetStore.from_dataset`` (splits, paths, remote
        URLs ...)."""
        if len(self) > self._core.source_size():
            # Appended rows come after the source in a DatasetStore: move them into the source
            # first, so that the new rows follow them as in the 0.4 store.
            current = self.to_dataset()
            super().clear()
            super().from_dataset(current)
        super().from_dataset(ds, *args, **kwargs)
