import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..augment import TokenAugmenter
from ..dataset_store import DatasetStore

__all__ = [
    "Augmenter",
    "DataLoader",
    "Datastore",
    "SequenceAugmentModalitySpec",
    "load_stores_from_hub",
    "push_stores_to_hub",
    "push_to_hub",
]

Rows = list[list[dict[str, Any]]]

class Datastore(DatasetStore):
    def __init__(
        self,
        name: str | None = None,
        *,
        max_action_dim: int = 1000,
        max_obs_continuous_dim: int = 0,
        max_obs_discrete_dim: int = 0,
        max_obs_image_pixels: int = 0,
        obs_image_dtype: Literal["int64", "uint8"] = "int64",
        image_cache: str | os.PathLike[str] | None = None,
        validate: bool = True,
        format: Literal["auto", "torch", "numpy"] = "auto",
    ) -> None: ...
    @property
    def columns(self) -> list[str]: ...
    def __getitem__(self, indices: Any) -> list[dict[str, Any]]: ...  # type: ignore[override]
    def encoded(self, indices: Any) -> Any: ...
    def append(self, data: Mapping[str, Any] | DatasetStore | list[DatasetStore]) -> None: ...  # type: ignore[override]
    def from_dataset(self, ds: Any, *args: Any, **kwargs: Any) -> None: ...  # type: ignore[override]

@dataclass(frozen=True)
class SequenceAugmentModalitySpec:
    type: Literal["discrete", "linear", "image"]
    field: str | Sequence[str]
    vocab_size: int | None = None
    mask_prob: float = 0.0
    scale_in_low: float | None = None
    scale_out_low: float | None = None
    scale_in_high: float | None = None
    scale_out_high: float | None = None
    scale_mean: float = 1.0
    scale_std: float = 0.0
    scale_low: float | None = None
    scale_high: float | None = None
    shift_mean: float = 0.0
    shift_std: float = 0.0
    shift_low: float | None = None
    shift_high: float | None = None
    permute: bool = False
    mask_value: Any = None
    @property
    def fields(self) -> tuple[str, ...]: ...
    def scale_spec(self) -> Any: ...
    def shift_spec(self) -> Any: ...
    def linear_transform(self) -> tuple[float, float]: ...
    def is_active(self) -> bool: ...

class Augmenter:
    enabled: bool
    modalities: tuple[SequenceAugmentModalitySpec, ...]
    keep_fields: tuple[str, ...] | None
    def __init__(
        self,
        *,
        modalities: Sequence[Mapping[str, Any] | SequenceAugmentModalitySpec],
        enabled: bool = True,
        seed: int | None = None,
        generator: np.random.Generator | None = None,
        keep_fields: Sequence[str] | None = None,
    ) -> None: ...
    def fork(self, *, seed: int | None = None, generator: np.random.Generator | None = None) -> Augmenter: ...
    def to_token_augmenter(self, *, seed: int | None = None, device: Any = "cpu") -> TokenAugmenter: ...
    def __call__(self, batch: Rows) -> Rows: ...

class DataLoader:
    stores: list[DatasetStore]
    sequence_length: int
    batch_size: int
    weight_mode: str
    seed: int | None
    augmenter: Callable[[Rows], Rows] | TokenAugmenter | None
    preparer: Callable[[Any], Any] | None
    packed: bool
    max_tokens: int | None
    boundaries: str
    def __init__(
        self,
        *,
        stores: DatasetStore | list[DatasetStore],
        sequence_length: int,
        batch_size: int,
        weights: list[float] | None = None,
        weight_mode: str = "per_store",
        prefetch: int = 4,
        num_workers: int = 1,
        seed: int | None = None,
        augmenter: Callable[[Rows], Rows] | TokenAugmenter | None = None,
        preparer: Callable[[Any], Any] | None = None,
        packed: bool = False,
        max_tokens: int | None = None,
        boundaries: str = "none",
    ) -> None: ...
    @property
    def total_batches(self) -> int: ...
    def refresh(self) -> None: ...
    def next_batch(self) -> Any: ...
    def close(self) -> None: ...
    def __iter__(self) -> DataLoader: ...
    def __next__(self) -> Any: ...
    def __enter__(self) -> DataLoader: ...
    def __exit__(self, *_: object) -> None: ...

def load_stores_from_hub(
    *,
    repo_id: str,
    store_names: list[str] | None = None,
    split: str = "train",
    force_download: bool = False,
    token: str | bool | None = None,
    **kwargs: Any,
) -> list[Datastore]: ...
def push_stores_to_hub(
    *,
    stores: list[Datastore],
    repo_id: str,
    split: str = "train",
    private: bool = False,
    commit_message: str = "New rollout data",
    clear: bool = True,
    api: Any = None,
) -> str | None: ...
def push_to_hub(
    *,
    splits: dict[str, list[Datastore]],
    repo_id: str,
    private: bool = False,
    commit_message: str = "New rollout data",
    config_name: str = "default",
    clear: bool = True,
    api: Any = None,
) -> str | None: ...
