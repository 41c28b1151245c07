"""Push stores to the Hugging Face Hub: our Parquet writer builds the Hub layout, huggingface_hub
uploads it in one commit that also deletes stale shards."""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any

from . import _core
from ._args import Args
from .dataset_store import DatasetStore, check_stores
from .errors import InvalidArgumentError, MissingKeyError, NotFoundError

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
    a = Args("save_to_hub_layout", save_to_hub_layout)
    parts = _split_parts(a, "splits", splits)
    return _core.save_hub_layout(parts, a.path("directory", directory),
                                 a.str("config_name", config_name),
                                 a.int("max_shard_bytes", max_shard_bytes, minimum=1))


def _split_parts(a: Args, name: str, splits: Any) -> list[tuple[str, list[Any]]]:
    """{split name: [stores]} checked, as (name, [core stores]) pairs."""
    if not isinstance(splits, dict):
        raise a.type_error(name, "a dict of split name -> list of DatasetStore", splits)
    parts = []
    for split, stores in splits.items():
        if not isinstance(split, str):
            raise a.type_error(f"{name} keys", "split names (str)", split)
        if not _SPLIT_RE.match(split):
            raise InvalidArgumentError(
                f"Split name should match '{_SPLIT_RE.pattern}' but got {split!r}.")
        parts.append((split, [s._core for s in check_stores(a, f"{name}[{split!r}]", stores)]))
    return parts


def save_configs_to_hub_layout(
    configs: dict[str, dict[str, list[DatasetStore]]],
    directory: str | os.PathLike,
    *,
    max_shard_bytes: int = 500_000_000,
) -> bool:
    """Write several Hub configs (config name -> split name -> stores, concatenated) as one
    layout at ``directory``: ``<config>/<split>-NNNNN-of-MMMMM.parquet`` shards and a README
    whose ``configs`` give each config its ``data_files`` and whose ``dataset_info`` lists each
    config's features and splits, atomically. ``datasets.load_dataset(directory, name=config)``
    and ``load_stores(directory)`` read it back. Empty splits and configs are left out; False
    when all are empty."""
    a = Args("save_configs_to_hub_layout", save_configs_to_hub_layout)
    if not isinstance(configs, dict):
        raise a.type_error("configs", "a dict of config name -> {split name: [DatasetStore]}",
                           configs)
    parts = []
    for config, splits in configs.items():
        if not isinstance(config, str):
            raise a.type_error("configs keys", "config names (str)", config)
        parts.append((config, _split_parts(a, f"configs[{config!r}]", splits)))
    return _core.save_hub_configs(parts, a.path("directory", directory),
                                  a.int("max_shard_bytes", max_shard_bytes, minimum=1))


def _by_name(stores: list[DatasetStore], split: str) -> dict[str, dict[str, list[DatasetStore]]]:
    """Named stores grouped into one config each (unnamed ones into "default"), in order of
    first appearance."""
    configs: dict[str, dict[str, list[DatasetStore]]] = {}
    for st in stores:
        configs.setdefault(st.name if st.name is not None else "default", {split: []})[split].append(st)
    return configs


def save_stores_to_hub_layout(
    stores: list[DatasetStore],
    directory: str | os.PathLike,
    *,
    split: str = "train",
    max_shard_bytes: int = 500_000_000,
) -> bool:
    """Write ``stores`` as split ``split`` of a Hub layout: unnamed stores only -> one default
    config under ``data/``; any named store -> one config per name (``<name>/`` shards; the
    unnamed ones in config "default"). False when every store is empty."""
    a = Args("save_stores_to_hub_layout", save_stores_to_hub_layout)
    check_stores(a, "stores", stores)
    split = a.str("split", split)
    if all(st.name is None for st in stores):
        return save_to_hub_layout({split: list(stores)}, directory, max_shard_bytes=max_shard_bytes)
    return save_configs_to_hub_layout(_by_name(stores, split), directory,
                                      max_shard_bytes=max_shard_bytes)


def _check_api(a: Args, api: Any) -> None:
    if api is not None and not all(callable(getattr(api, m, None)) for m in
                                   ("create_repo", "list_repo_files", "create_commit")):
        raise a.type_error("api", "a huggingface_hub.HfApi or None", api)


def _push_layout(root: str, repo_id: str, *, private: bool, commit_message: str, api: Any) -> None:
    """Upload the layout at ``root`` in one commit that also deletes the repo's other files in
    the shard directories it writes (``data/`` and each config's)."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    api = api if api is not None else HfApi()
    repo = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    hub_repo_id = getattr(repo, "repo_id", repo_id)
    new_files = []
    for dirpath, _, files in os.walk(root):
        for f in files:
            full = os.path.join(dirpath, f)
            new_files.append(os.path.relpath(full, root).replace(os.sep, "/"))
    shard_dirs = {"data"} | {p.split("/", 1)[0] for p in new_files if "/" in p}
    existing = api.list_repo_files(hub_repo_id, repo_type="dataset")
    ops: list[Any] = [
        CommitOperationDelete(path_in_repo=p)
        for p in existing
        if "/" in p and p.split("/", 1)[0] in shard_dirs and p not in new_files
    ]
    ops += [CommitOperationAdd(path_in_repo=p, path_or_fileobj=os.path.join(root, p))
            for p in sorted(new_files)]
    api.create_commit(hub_repo_id, operations=ops, commit_message=commit_message,
                      repo_type="dataset")
    print(f"Pushed to {hub_repo_id}")


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
    a = Args("push_to_hub", push_to_hub)
    _split_parts(a, "splits", splits)
    repo_id = a.str("repo_id", repo_id)
    private = a.bool("private", private)
    commit_message = a.str("commit_message", commit_message)
    _check_api(a, api)
    with tempfile.TemporaryDirectory(prefix="mouse-data-push-") as tmp:
        root = os.path.join(tmp, "layout")
        if not save_to_hub_layout(splits, root):
            print(f"push_to_hub: nothing to push to {repo_id!r}")
            return
        _push_layout(root, repo_id, private=private, commit_message=commit_message, api=api)


def push_stores_to_hub(
    stores: list[DatasetStore],
    repo_id: str,
    *,
    split: str = "train",
    private: bool = False,
    commit_message: str = "New rollout data",
    api: Any = None,
) -> None:
    """Push ``stores`` as split ``split`` of ``repo_id`` in one commit. Unnamed stores: one
    split of the default config (``push_to_hub({split: stores})``). Named stores
    (``DatasetStore(name=...)``): one Hub config per name, its shards under ``<name>/`` and the
    README listing every pushed config (unnamed stores go to config "default"); the commit
    deletes the other files of the directories it writes. The README then describes exactly
    the pushed configs, so push every config together."""
    a = Args("push_stores_to_hub", push_stores_to_hub)
    check_stores(a, "stores", stores)
    split = a.str("split", split)
    repo_id = a.str("repo_id", repo_id)
    private = a.bool("private", private)
    commit_message = a.str("commit_message", commit_message)
    _check_api(a, api)
    if all(st.name is None for st in stores):
        push_to_hub({split: list(stores)}, repo_id, private=private,
                    commit_message=commit_message, api=api)
        return
    with tempfile.TemporaryDirectory(prefix="mouse-data-push-") as tmp:
        root = os.path.join(tmp, "layout")
        if not save_configs_to_hub_layout(_by_name(stores, split), root):
            print(f"push_stores_to_hub: nothing to push to {repo_id!r}")
            return
        _push_layout(root, repo_id, private=private, commit_message=commit_message, api=api)


_REPO_ID_RE = re.compile(r"^[\w.-]+(/[\w.-]+)?$")


def _hub_cache_dir() -> str:
    """The Hugging Face Hub cache as huggingface_hub resolves it, read from the environment at
    call time: ``HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``,
    else ``~/.cache/huggingface/hub``."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface")
    return os.path.join(home, "hub")


def resolve_dataset_path(path_or_repo_id: str | os.PathLike, revision: str | None = None) -> str:
    """A local directory for ``path_or_repo_id``: the path itself when it exists, else the
    snapshot of the Hub dataset ``org/name`` in the local Hugging Face cache
    (``datasets--org--name/snapshots/<commit>``, the commit that ``refs/<revision or main>``
    names, or ``revision`` itself when it is a cached commit). Nothing is downloaded:
    FileNotFoundError naming where it looked otherwise."""
    a = Args("resolve_dataset_path", resolve_dataset_path)
    path = a.path("path_or_repo_id", path_or_repo_id)
    revision = a.str("revision", revision, none=True)
    if os.path.exists(path):
        return path
    if revision is not None and ("/" in revision or revision in ("", ".", "..")):
        raise InvalidArgumentError(f"revision {revision!r} is not a branch, tag or commit name")
    if not _REPO_ID_RE.match(path) or ".." in path.split("/"):
        raise NotFoundError(f"{path!r} is neither a local directory nor a Hub repo id (org/name)")
    cache = _hub_cache_dir()
    repo_dir = os.path.join(cache, "datasets--" + path.replace("/", "--"))
    ref = revision or "main"
    commit = None
    ref_file = os.path.join(repo_dir, "refs", ref)
    if os.path.isfile(ref_file):
        with open(ref_file, encoding="utf-8") as f:
            commit = f.read().strip()
    elif os.path.isdir(os.path.join(repo_dir, "snapshots", ref)):
        commit = ref
    if commit is None or not os.path.isdir(os.path.join(repo_dir, "snapshots", commit)):
        raise NotFoundError(
            f"{path!r}: not a local directory, and the Hub dataset is not in the local Hugging "
            f"Face cache at {repo_dir} (revision {ref!r}); download it first, e.g. "
            f"huggingface_hub.snapshot_download({path!r}, repo_type='dataset')")
    return os.path.join(repo_dir, "snapshots", commit)


def hub_config_names(path_or_repo_id: str | os.PathLike, revision: str | None = None) -> list[str]:
    """The configs of a Hub layout (a directory, or a Hub dataset in the local HF cache), in
    README order, else ``default`` for ``data/`` then the config directories by name."""
    a = Args("hub_config_names", hub_config_names)
    path = a.path("path_or_repo_id", path_or_repo_id)
    return list(_core.hub_config_names(
        resolve_dataset_path(path, a.str("revision", revision, none=True))))


def load_stores(
    path_or_repo_id: str | os.PathLike,
    split: str | list[str] | None = "train",
    *,
    configs: list[str] | None = None,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    **store_kwargs: Any,
) -> list[DatasetStore]:
    """One named ``DatasetStore`` per config of a Hub layout (a local directory, or the Hub
    dataset ``org/name`` in the local HF cache, offline), in config order; each loaded with
    split ``split`` (a name, a list of names, or None for all splits) of its config and named
    after it. ``configs`` selects some; ``store_kwargs`` (max dims, ``format`` ...) go to every
    ``DatasetStore``. KeyError for an unknown config or a config without the split."""
    a = Args("load_stores", load_stores)
    path_or_repo_id = a.path("path_or_repo_id", path_or_repo_id)
    revision = a.str("revision", revision, none=True)
    splits = a.names("split", split)
    configs = a.names("configs", configs)
    a.path("cache_dir", cache_dir, none=True)
    root = resolve_dataset_path(path_or_repo_id, revision)
    available = list(_core.hub_config_names(root))
    wanted = available if configs is None else configs
    for c in wanted:
        if c not in available:
            raise MissingKeyError(
                f"{root}: config {c!r} not found; available configs: {', '.join(available)}")
    out = []
    for c in wanted:
        store = DatasetStore(name=c, **store_kwargs)
        store.from_dataset(root, splits=splits, config=c, cache_dir=cache_dir)
        out.append(store)
    return out
