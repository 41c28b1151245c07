"""Hub helpers of the 0.4 face: ``load_stores_from_hub``, ``push_stores_to_hub``,
``push_to_hub`` on mouse_data's Parquet writer and Hub-layout reader."""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any

from .. import hub as _hub
from ..dataset_store import DatasetStore
from ..errors import InvalidArgumentError, WrongTypeError
from .datastore import Datastore

__all__ = ["load_stores_from_hub", "push_stores_to_hub", "push_to_hub"]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_SHARD = re.compile(r"(^|/)[^/]+-\d{5}-of-\d{5}\.parquet$")
_CARD_FILES = ("README.md", "dataset_infos.json")


def _resolve_repo_id(repo_id: str, token: str | bool | None, api: Any) -> str:
    """``name`` -> ``<logged-in user>/name``; ``org/name`` as it is."""
    if "/" in repo_id:
        return repo_id
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    return f"{api.whoami(token=token)['name']}/{repo_id}"


def load_stores_from_hub(
    *,
    repo_id: str,
    store_names: list[str] | None = None,
    split: str = "train",
    force_download: bool = False,
    token: str | bool | None = None,
    **kwargs: Any,
) -> list[Datastore]:
    """One named :class:`Datastore` per store config of a Hub dataset, loaded with ``split``.

    ``repo_id``: ``org/name``, a bare ``name`` (resolved under the logged-in user), or a local
    directory holding a Hub layout (read offline). ``store_names`` picks configs (default: every
    config, in the dataset card's order). The Parquet shards of the wanted configs are
    downloaded once (``huggingface_hub.snapshot_download``; ``force_download`` and ``token`` go
    there, as does ``revision`` from ``kwargs``) and read into memory-mapped Arrow caches.
    Other ``kwargs`` are ``Datastore`` options (max dims, ``format`` ...), ``cache_dir``, or
    ``api`` (an ``HfApi``, to resolve a bare name).
    ValueError for an empty, blank or repeated store name; KeyError for a config the dataset
    lacks or one without ``split``.
    """
    if not isinstance(repo_id, (str, os.PathLike)):
        raise WrongTypeError(f"load_stores_from_hub: repo_id must be a str, got {repo_id!r}")
    if not isinstance(split, str):
        raise WrongTypeError(f"load_stores_from_hub: split must be a str, got {split!r}")
    if store_names is not None:
        if isinstance(store_names, str):
            raise WrongTypeError("load_stores_from_hub: store_names must be a list of names, "
                                 f"got {store_names!r}")
        store_names = list(store_names)
        if not store_names:
            raise InvalidArgumentError("load_stores_from_hub: store_names is empty")
        blank = [i for i, n in enumerate(store_names) if not n]
        if blank:
            raise InvalidArgumentError(f"load_stores_from_hub: store_names has empty names at "
                                       f"indices {blank}")
        if len(set(store_names)) != len(store_names):
            raise InvalidArgumentError("load_stores_from_hub: store_names must be unique")
    revision = kwargs.pop("revision", None)
    cache_dir = kwargs.pop("cache_dir", None)
    api = kwargs.pop("api", None)
    path = os.fspath(repo_id)
    if os.path.isdir(path):
        root = path
    else:
        from huggingface_hub import snapshot_download

        resolved = _resolve_repo_id(path, token, api)
        patterns = ["README.md"]
        for name in store_names or ["*"]:  # the 0.4 layout and ours
            patterns += [f"data/{name}/{split}-*.parquet", f"{name}/{split}-*.parquet"]
        download: dict[str, Any] = dict(repo_id=resolved, repo_type="dataset",
                                        allow_patterns=patterns, force_download=force_download)
        if revision is not None:
            download["revision"] = revision
        if token is not None:
            download["token"] = token
        root = snapshot_download(**download)
    available = _hub.hub_config_names(root)
    wanted = available if store_names is None else store_names
    missing = [name for name in wanted if name not in available]
    if missing:
        raise KeyError(f"load_stores_from_hub: {repo_id}: no store config {missing}; available: "
                       f"{available}")
    stores = []
    for name in wanted:
        store = Datastore(name, **kwargs)
        store.from_dataset(root, splits=[split], config=name, cache_dir=cache_dir)
        stores.append(store)
    return stores


def _check_store_list(where: str, stores: Any) -> list[DatasetStore]:
    if isinstance(stores, DatasetStore) or not isinstance(stores, (list, tuple)) or \
            not all(isinstance(s, DatasetStore) for s in stores):
        raise WrongTypeError(f"{where}: stores must be a list of Datastore, got {stores!r}")
    return list(stores)


def _commit(root: str, repo_id: str, *, private: bool, commit_message: str, clear: str,
            api: Any) -> str:
    """Upload the layout at ``root`` to ``repo_id`` in one commit and return the repo URL.
    ``clear``: ``"all"`` deletes every other file of the repo, ``"data"`` every other Parquet
    shard and the old card, ``"none"`` nothing."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    api = api if api is not None else HfApi()
    url = api.create_repo(repo_id=repo_id, repo_type="dataset", private=private, exist_ok=True)
    hub_repo_id = getattr(url, "repo_id", None) or repo_id
    update = getattr(api, "update_repo_settings", None)
    if callable(update):  # visibility follows ``private`` on every push
        update(repo_id=hub_repo_id, repo_type="dataset", private=private)
    new_files = sorted(
        os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/")
        for d, _, files in os.walk(root) for f in files)
    deletions: list[str] = []
    if clear != "none":
        existing = api.list_repo_files(repo_id=hub_repo_id, repo_type="dataset")
        for path in existing:
            if path in new_files or path == ".gitattributes":
                continue
            if clear == "all" or _SHARD.search(path) or path in _CARD_FILES:
                deletions.append(path)
    ops: list[Any] = [CommitOperationDelete(path_in_repo=p) for p in deletions]
    ops += [CommitOperationAdd(path_in_repo=p, path_or_fileobj=os.path.join(root, p))
            for p in new_files]
    api.create_commit(repo_id=hub_repo_id, repo_type="dataset", operations=ops,
                      commit_message=commit_message)
    return str(url)


def push_stores_to_hub(
    *,
    stores: list[Datastore],
    repo_id: str,
    split: str = "train",
    private: bool = False,
    commit_message: str = "New rollout data",
    clear: bool = True,
    api: Any = None,
) -> str | None:
    """Push every store as its own config (named after the store) of ``repo_id``, split
    ``split``, in one commit; return the dataset's URL, or None when every store is empty.

    Every store needs a unique name of letters, digits, ``_``, ``-`` and ``.`` (ValueError
    otherwise). ``clear=True`` (default) makes the push define the whole repository: every
    remote file it does not write is deleted in the same commit. ``clear=False`` deletes
    nothing (the card then lists only the configs pushed now). ``private`` is applied on every
    push. ``api`` (an ``HfApi``) is for tests and custom endpoints.
    """
    stores = _check_store_list("push_stores_to_hub", stores)
    unnamed = [i for i, s in enumerate(stores) if not s.name]
    if unnamed:
        raise InvalidArgumentError(f"push_stores_to_hub: every store needs a name; unnamed "
                                   f"store indices: {unnamed}")
    names = [str(s.name) for s in stores]
    if len(set(names)) != len(names):
        raise InvalidArgumentError("push_stores_to_hub: store names must be unique")
    unsafe = [n for n in names if not _SAFE_NAME.match(n)]
    if unsafe:
        raise InvalidArgumentError(
            f"push_stores_to_hub: store names may hold only letters, digits, '_', '-' and '.' "
            f"(they become Hub config names and URLs); offending: {unsafe}")
    if not isinstance(clear, bool):
        raise WrongTypeError(f"push_stores_to_hub: clear must be a bool, got {clear!r}")
    configs = {s.name: {split: [s]} for s in stores if len(s) > 0}
    if not configs:
        print(f"push_stores_to_hub: nothing to push to {repo_id!r}")
        return None
    repo_id = _resolve_repo_id(repo_id, None, api)
    with tempfile.TemporaryDirectory(prefix="mouse-data-push-") as tmp:
        root = os.path.join(tmp, "layout")
        _hub.save_configs_to_hub_layout(configs, root)  # type: ignore[arg-type]
        url = _commit(root, repo_id, private=private, commit_message=commit_message,
                      clear="all" if clear else "none", api=api)
    pushed = ", ".join(f"{name}/{split}: {len(cfg[split][0])}" for name, cfg in configs.items())
    print(f"Pushed to {repo_id} ({pushed} steps)")
    return url


def push_to_hub(
    *,
    splits: dict[str, list[Datastore]],
    repo_id: str,
    private: bool = False,
    commit_message: str = "New rollout data",
    config_name: str = "default",
    clear: bool = True,
    api: Any = None,
) -> str | None:
    """Push ``splits`` (split name -> stores, concatenated per split) as config ``config_name``
    of ``repo_id`` in one commit; return the dataset's URL, or None when every split is empty.

    ``clear=True`` (default) first wipes the repository's data: every other Parquet shard (of
    every config), ``dataset_infos.json`` and the README card are deleted in the same commit.
    ``clear=False`` deletes nothing and layers this config on what is there. ``private`` is
    applied on every push. ``api`` (an ``HfApi``) is for tests and custom endpoints.
    """
    if not isinstance(splits, dict):
        raise WrongTypeError(f"push_to_hub: splits must be a dict of split name -> list of "
                             f"Datastore, got {splits!r}")
    for name, stores in splits.items():
        _check_store_list(f"push_to_hub: splits[{name!r}]", stores)
    if not isinstance(clear, bool):
        raise WrongTypeError(f"push_to_hub: clear must be a bool, got {clear!r}")
    if not isinstance(config_name, str) or not config_name:
        raise InvalidArgumentError(f"push_to_hub: config_name must be a non-empty str, got "
                                   f"{config_name!r}")
    parts = {name: list(stores) for name, stores in splits.items()
             if sum(len(s) for s in stores) > 0}
    if not parts:
        print(f"push_to_hub: nothing to push to {repo_id!r}")
        return None
    repo_id = _resolve_repo_id(repo_id, None, api)
    with tempfile.TemporaryDirectory(prefix="mouse-data-push-") as tmp:
        root = os.path.join(tmp, "layout")
        _hub.save_configs_to_hub_layout({config_name: parts}, root)  # type: ignore[arg-type]
        url = _commit(root, repo_id, private=private, commit_message=commit_message,
                      clear="data" if clear else "none", api=api)
    sizes = ", ".join(f"{k}: {sum(len(s) for s in v)}" for k, v in parts.items())
    print(f"Pushed to {repo_id} ({sizes} steps)")
    return url
