import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import datasets
from tensordict import TensorDict

Format = Literal["auto", "torch", "numpy"]

class DatasetStore:
    name: str | None
    def __init__(
        self,
        max_action_dim: int = 1000,
        max_obs_continuous_dim: int = 0,
        max_obs_discrete_dim: int = 0,
        max_obs_image_pixels: int = 0,
        *,
        obs_image_dtype: Literal["int64", "uint8"] = "int64",
        image_cache: str | os.PathLike[str] | bool | None = None,
        validate: bool = True,
        populate: bool = False,
        format: Format = "auto",
        name: str | None = None,
    ) -> None: ...
    def from_dataset(
        self,
        ds: Any,
        splits: str | Sequence[str] | None = None,
        split_pattern: str | Sequence[str] | None = None,
        *,
        config: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        cache_limit: int | None = None,
        prefetch_shards: int = 2,
        active_shards: int = 2,
        endpoint_url: str | None = None,
        retry_max_seconds: float | None = None,
        log: bool = True,
    ) -> None: ...
    def append(self, data: Mapping[str, Any]) -> None: ...
    def append_columns(self, columns: Mapping[str, Any]) -> None: ...
    def __len__(self) -> int: ...
    def __repr__(self) -> str: ...
    def __getitem__(self, indices: Any) -> TensorDict: ...
    def encode_hf_rows(self, rows: Any) -> TensorDict: ...
    def to_dataset(self) -> datasets.Dataset: ...
    @classmethod
    def merge_stores_to_dataset(cls, stores: Sequence[DatasetStore]) -> datasets.Dataset: ...
    def cache_stats(self) -> dict[str, int | float]: ...
    def clear(self) -> None: ...
    def __getstate__(self) -> dict[str, Any]: ...
    def __setstate__(self, state: dict[str, Any]) -> None: ...
