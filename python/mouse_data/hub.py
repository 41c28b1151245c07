"""Push stores to the Hugging Face Hub: our Parquet writer builds the Hub layout, huggingface_hub
uploads it in one commit that also deletes stale shards."""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any

from . import _core
from .dataset_store import DatasetStore

_SPLIT_RE = re.compile(r"^\w+(\.\w+)*$")


def save_to_hub_layout(
    splits: dict[str, list[DatasetStore]],
    directory: str | os.PathLike,
    *,
    config_name: str = "default",
    max_shard_bytes: int = 500_000_000,
) -> bool:
    """Write ``splits`` (split name -> stores, concatenated) as a Hub layout at ``directory``:
    ``data/<split>-NNNNN-of-MMMMM.parquet`` shards and a README whose YAML lists features,
    splits and configs, atomically. Empty splits are left out; False when all are empty."""
    for name in splits:
        if not _SPLIT_RE.match(name):
            raise ValueError(f"Split name should match '{_SPLIT_RE.pattern}' but got {name!r}.")
    parts = [(name, [s._core for s in stores]) for name, stores in splits.items()]
    return _core.save_hub_layout(parts, os.fspath(directory), config_name, int(max_shard_bytes))


def push_to_hub(
    splits: dict[str, list[DatasetStore]],
    repo_id: str,
    *,
    private: bool = False,
    commit_message: str = "New rollout data",
    api: Any = None,
) -> None:
    """Combine stores by split and push them to the Hub dataset ``repo_id`` in one commit:
    the new ``data/`` shards and README are uploaded and every other file under ``data/`` is
    deleted. ``api`` defaults to ``huggingface_hub.HfApi()``."""
    with tempfile.TemporaryDirectory(prefix="mouse-data-push-") as tmp:
        root = os.path.join(tmp, "layout")
        if not save_to_hub_layout(splits, root):
            print(f"push_to_hub: nothing to push to {repo_id!r}")
            return
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

        api = api if api is not None else HfApi()
        repo = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        hub_repo_id = getattr(repo, "repo_id", repo_id)
        new_files = []
        for dirpath, _, files in os.walk(root):
            for f in files:
                full = os.path.join(dirpath, f)
                new_files.append(os.path.relpath(full, root).replace(os.sep, "/"))
        existing = api.list_repo_files(hub_repo_id, repo_type="dataset")
        ops: list[Any] = [
            CommitOperationDelete(path_in_repo=p)
            for p in existing
            if p.startswith("data/") and p not in new_files
        ]
        ops += [CommitOperationAdd(path_in_repo=p, path_or_fileobj=os.path.join(root, p))
                for p in sorted(new_files)]
        api.create_commit(hub_repo_id, operations=ops, commit_message=commit_message,
                          repo_type="dataset")
    print(f"Pushed to {hub_repo_id}")


def push_stores_to_hub(
    stores: list[DatasetStore],
    repo_id: str,
    *,
    split: str = "train",
    private: bool = False,
    commit_message: str = "New rollout data",
    api: Any = None,
) -> None:
    """``push_to_hub({split: stores}, ...)``: all stores as one split."""
    push_to_hub({split: stores}, repo_id, private=private, commit_message=commit_message, api=api)
