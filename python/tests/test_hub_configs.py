"""Named stores as Hub configs: save_stores_to_hub_layout / push_stores_to_hub write one config
per named store, `datasets.load_dataset(dir, name=config)` reads each back with the same rows,
and load_stores reads multi-config layouts (ours, or one laid out as the Hub docs describe)
from a directory or from a Hub cache snapshot, offline."""

import os
import textwrap

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mouse_data import (
    DatasetStore,
    PrefetchBatchifier,
    hub_config_names,
    load_stores,
    push_stores_to_hub,
    save_configs_to_hub_layout,
    save_stores_to_hub_layout,
)
from test_hub import FakeApi

FEATURES = datasets.Features({
    "action": datasets.Value("int64"),
    "reward": datasets.Value("float32"),
    "done": datasets.Value("int64"),
    "observation": datasets.Sequence(datasets.Value("float32")),
})


def steps(n, start):
    i = np.arange(start, start + n)
    return {
        "action": (i % 3).tolist(),
        "reward": i.astype(np.float32).tolist(),
        "done": [int(k % 10 == 9) for k in i],
        "observation": [[float(k), float(k) / 2] for k in i],
    }


def named_store(name, n, start):
    store = DatasetStore(max_action_dim=3, max_obs_continuous_dim=2, format="numpy", name=name)
    store.from_dataset(datasets.Dataset.from_dict(steps(n, start), features=FEATURES))
    return store


def same_rows(a, b):
    assert a.num_rows == b.num_rows
    assert a.column_names == b.column_names
    assert a.to_dict() == b.to_dict()


@pytest.fixture
def envs():
    return [named_store("cartpole", 120, 0), named_store("frozen_lake", 45, 1000)]


def test_named_stores_are_configs_that_datasets_loads(envs, tmp_path):
    out = tmp_path / "hub"
    assert save_stores_to_hub_layout(envs, out)
    assert sorted(os.listdir(out)) == ["README.md", "cartpole", "frozen_lake"]
    assert hub_config_names(out) == ["cartpole", "frozen_lake"]
    for store in envs:
        theirs = datasets.load_dataset(str(out), name=store.name, split="train")
        same_rows(theirs, store.to_dataset())
    with pytest.raises(ValueError):
        datasets.load_dataset(str(out), name="nope", split="train")


def test_load_stores_returns_one_named_store_per_config(envs, tmp_path):
    out = tmp_path / "hub"
    save_stores_to_hub_layout(envs, out, split="train")
    back = load_stores(out, max_action_dim=3, max_obs_continuous_dim=2, format="numpy")
    assert [s.name for s in back] == ["cartpole", "frozen_lake"]
    for ours, theirs in zip(envs, back):
        assert len(theirs) == len(ours)
        np.testing.assert_array_equal(theirs[np.arange(len(ours))]["reward"],
                                      ours[np.arange(len(ours))]["reward"])
    (only,) = load_stores(out, configs=["frozen_lake"], max_action_dim=3)
    assert only.name == "frozen_lake" and len(only) == 45
    with pytest.raises(KeyError, match="config 'atari' not found; available configs: cartpole, "
                                       "frozen_lake"):
        load_stores(out, configs=["atari"])
    with pytest.raises(KeyError):
        load_stores(out, split="test")
    # The loaded stores mix in one batchifier, windows staying in their store.
    b = PrefetchBatchifier(stores=back, sequence_length=5, batch_size=64, seed=1, num_workers=0)
    sb = b.next()
    assert set(sb.stores) == {0, 1}
    for k, (start, store) in enumerate(zip(sb.starts, sb.stores)):
        first = start + (0 if store == 0 else 1000)
        assert sb.data["reward"][k].tolist() == [float(first + j) for j in range(5)]


def test_unnamed_stores_go_to_default(tmp_path):
    plain = named_store(None, 30, 500)
    out = tmp_path / "plain"
    save_stores_to_hub_layout([plain], out)
    assert os.path.isdir(out / "data") and hub_config_names(out) == ["default"]
    mixed = tmp_path / "mixed"
    save_stores_to_hub_layout([plain, named_store("lake", 20, 0)], mixed)
    assert hub_config_names(mixed) == ["default", "lake"]
    same_rows(datasets.load_dataset(str(mixed), name="default", split="train"), plain.to_dataset())


def test_several_stores_of_one_name_concatenate(tmp_path):
    a, b = named_store("cartpole", 10, 0), named_store("cartpole", 7, 100)
    save_stores_to_hub_layout([a, b], tmp_path / "hub")
    ds = datasets.load_dataset(str(tmp_path / "hub"), name="cartpole", split="train")
    assert ds["reward"] == [float(k) for k in range(10)] + [float(k) for k in range(100, 107)]


def test_bad_configs_are_errors(tmp_path):
    store = named_store("ok", 10, 0)
    for bad in ("", ".hidden", "a/b", ".."):
        with pytest.raises(ValueError, match="cannot be a directory name"):
            save_configs_to_hub_layout({bad: {"train": [store]}}, tmp_path / "x")
    with pytest.raises(ValueError, match="Split name should match"):
        save_configs_to_hub_layout({"ok": {"bad split": [store]}}, tmp_path / "x")
    with pytest.raises(TypeError, match="name must be a str"):
        DatasetStore(name=3)
    with pytest.raises(TypeError, match=r"stores\[1\] must be a DatasetStore"):
        save_stores_to_hub_layout([store, "x"], tmp_path / "x")
    assert not (tmp_path / "x").exists()
    empty = DatasetStore(name="empty")
    assert save_stores_to_hub_layout([empty], tmp_path / "x") is False


def write_docs_style_layout(root):
    """A two-config layout as the Hub's manual-configuration docs describe it, written with
    pyarrow and a hand-made README (no code of ours involved)."""
    for config, n, start in (("alpha", 25, 0), ("beta", 40, 300)):
        os.makedirs(root / config)
        table = datasets.Dataset.from_dict(steps(n, start), features=FEATURES).data.table
        half = n // 2
        pq.write_table(table.slice(0, half), root / config / "train-00000-of-00002.parquet")
        pq.write_table(table.slice(half), root / config / "train-00001-of-00002.parquet")
    (root / "README.md").write_text(textwrap.dedent("""\
        ---
        configs:
        - config_name: alpha
          data_files:
          - split: train
            path: alpha/train-*
        - config_name: beta
          data_files: beta/*.parquet
        ---
        # Two environments
        """))


def test_a_layout_written_elsewhere_loads_as_named_stores(tmp_path):
    root = tmp_path / "docs"
    write_docs_style_layout(root)
    stores = load_stores(root, max_action_dim=3, max_obs_continuous_dim=2, format="numpy")
    assert [s.name for s in stores] == ["alpha", "beta"]
    for store in stores:
        theirs = datasets.load_dataset(str(root), name=store.name, split="train")
        assert len(store) == theirs.num_rows
        np.testing.assert_array_equal(store[np.arange(len(store))]["reward"],
                                      np.asarray(theirs["reward"], dtype=np.float32))


def test_load_stores_finds_a_hub_cache_snapshot_offline(envs, tmp_path):
    cache = tmp_path / "hf-home" / "hub"  # conftest points HF_HOME at tmp_path / "hf-home"
    repo = cache / "datasets--someone--rollouts"
    commit = "0123456789abcdef0123456789abcdef01234567"
    save_stores_to_hub_layout(envs, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    stores = load_stores("someone/rollouts", max_action_dim=3, max_obs_continuous_dim=2)
    assert [(s.name, len(s)) for s in stores] == [("cartpole", 120), ("frozen_lake", 45)]
    assert hub_config_names("someone/rollouts", revision=commit) == ["cartpole", "frozen_lake"]
    with pytest.raises(FileNotFoundError, match="not in the local Hugging Face cache"):
        load_stores("someone/missing")
    with pytest.raises(FileNotFoundError, match="not in the local Hugging Face cache"):
        load_stores("someone/rollouts", revision="v2")
    with pytest.raises(FileNotFoundError, match="neither a local directory nor a Hub repo id"):
        load_stores(str(tmp_path / "no" / "such" / "dir"))


def test_push_named_stores_is_one_commit_with_a_config_each(envs, tmp_path):
    api = FakeApi(["README.md", "cartpole/train-00000-of-00003.parquet", "data/old.parquet",
                   "notes/keep.txt", "atari/train-00000-of-00001.parquet"])
    push_stores_to_hub(envs, "org/rollouts", api=api)
    (commit,) = api.commits
    assert sorted(commit.added) == ["README.md", "cartpole/train-00000-of-00001.parquet",
                                    "frozen_lake/train-00000-of-00001.parquet"]
    # Stale shards of the written directories go; other directories stay.
    assert commit.deleted == ["cartpole/train-00000-of-00003.parquet", "data/old.parquet"]
    root = tmp_path / "pushed"
    for path, data in commit.added.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    for store in envs:
        same_rows(datasets.load_dataset(str(root), name=store.name, split="train"),
                  store.to_dataset())
