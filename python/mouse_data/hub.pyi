import os
from collections.abc import Sequence
from typing import Any

from .dataset_store import DatasetStore

def save_to_hub_layout(
    splits: dict[str, list[DatasetStore]],
    directory: str | os.PathLike[str],
    *,
    config_name: str = "default",
    max_shard_bytes: int = 500_000_000,
) -> bool: ...
def save_configs_to_hub_layout(
    configs: dict[str, dict[str, list[DatasetStore]]],
    directory: str | os.PathLike[str],
    *,
    max_shard_bytes: int = 500_000_000,
) -> bool: ...
def save_stores_to_hub_layout(
    stores: Sequence[DatasetStore],
    directory: str | os.PathLike[str],
    *,
    split: str = "train",
    max_shard_bytes: int = 500_000_000,
) -> bool: ...
def push_to_hub(
    splits: dict[str, list[DatasetStore]],
    repo_id: str,
    *,
    private: bool = False,
    commit_message: str = "New rollout data",
    api: Any = None,
) -> None: ...
def push_stores_to_hub(
    stores: Sequence[DatasetStore],
    repo_id: str,
    *,
    split: str = "train",
    private: bool = False,
    commit_message: str = "New rollout data",
    api: Any = None,
) -> None: ...
def resolve_dataset_path(path_or_repo_id: str | os.PathLike[str], revision: str | None = None) -> str: ...
def hub_config_names(path_or_repo_id: str | os.PathLike[str], revision: str | None = None) -> list[str]: ...
def load_stores(
    path_or_repo_id: str | os.PathLike[str],
    split: str | list[str] | None = "train",
    *,
    configs: list[str] | None = None,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    **store_kwargs: Any,
) -> list[DatasetStore]: ...
