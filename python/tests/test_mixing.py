"""Stores with different columns, mixed in one batchifier and merged into one dataset or Hub
layout (SPEC §4): columns line up by name; a column one side lacks is null, which encodes as
SPEC §3's fill (time -1, q_star -inf, 0 otherwise)."""

import math

import datasets
import numpy as np
import pytest

from mouse_data import DatasetStore, PrefetchBatchifier, save_to_hub_layout


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOUSE_DATA_CACHE", str(tmp_path / "cache"))


def hub_rows(n):
    return {
        "action": [k % 3 for k in range(n)],
        "reward": [k * 0.25 for k in range(n)],
        "done": [int(k % 10 == 9) for k in range(n)],
        "episode_step": [k % 10 for k in range(n)],
        "observation": [[k, k + 0.5] for k in range(n)],
        "metadata_q_star": [[0.1 * k, 0.2 * k, 0.3 * k] for k in range(n)],
    }


def online_rows(n, start):
    return [{"action": (start + k) % 3, "reward": -1.0 * k, "done": int(k % 7 == 6)}
            for k in range(n)]


def stores(n_hub=200, n_online=60):
    kw = dict(max_action_dim=3, max_obs_continuous_dim=2)
    hub = DatasetStore(**kw)
    hub.from_dataset(datasets.Dataset.from_dict(hub_rows(n_hub)))
    online = DatasetStore(**kw)
    both = DatasetStore(**kw)
    both.from_dataset(datasets.Dataset.from_dict(hub_rows(n_hub)))
    for row in online_rows(n_online, n_hub):
        online.append(row)
        both.append(row)
    return hub, online, both


@pytest.mark.parametrize("workers", [0, 2])
def test_a_hub_store_and_an_online_store_with_fewer_columns_mix_as_one_store(workers):
    hub, online, both = stores()
    b = PrefetchBatchifier(stores=[hub, online], sequence_length=5, batch_size=16, seed=3,
                           num_workers=workers, format="numpy")
    seen = set()
    for _ in range(10):
        sb = b.next()
        assert set(sb.data) == {"action", "reward", "done", "time", "obs_continuous", "q_star"}
        for i, (store, start) in enumerate(zip(sb.stores, sb.starts)):
            seen.add(store)
            base = 0 if store == 0 else len(hub)
            want = both[list(range(base + start, base + start + 5))]
            for key, value in want.items():
                np.testing.assert_array_equal(sb.data[key][i], np.asarray(value), err_msg=key)
            if store == 1:
                assert (sb.data["time"][i] == -1).all()
                assert np.isneginf(sb.data["q_star"][i]).all()
                assert (sb.data["obs_continuous"][i] == 0).all()
    assert seen == {0, 1}
    b.close()


def test_a_shared_column_encoded_differently_is_refused_naming_it():
    hub = DatasetStore(max_action_dim=3, max_obs_continuous_dim=2)
    hub.from_dataset(datasets.Dataset.from_dict(hub_rows(20)))
    wide = DatasetStore(max_action_dim=3, max_obs_continuous_dim=4)
    wide.from_dataset(datasets.Dataset.from_dict(hub_rows(20)))
    with pytest.raises(ValueError, match='column "obs_continuous"'):
        PrefetchBatchifier(stores=[hub, wide], sequence_length=4, batch_size=2)


def test_merged_stores_line_columns_up_by_name_with_nulls():
    hub, online, _ = stores(20, 5)
    merged = DatasetStore.merge_stores_to_dataset([hub, online])
    assert merged.column_names == list(hub_rows(1))
    assert merged["episode_step"][20:] == [None] * 5
    assert merged["metadata_q_star"][20:] == [None] * 5
    assert merged["action"][20:] == [r["action"] for r in online_rows(5, 20)]
    back = DatasetStore(max_action_dim=3, max_obs_continuous_dim=2, format="numpy")
    back.from_dataset(merged)
    rows = back[list(range(20, 25))]
    assert (rows["time"] == -1).all() and np.isneginf(rows["q_star"]).all()
    # The other way round: the online store first, its columns first.
    merged = DatasetStore.merge_stores_to_dataset([online, hub])
    assert merged.column_names[:3] == ["action", "done", "reward"]
    assert merged["observation"][:5] == [None] * 5


def test_merging_widens_bool_to_int_to_float_and_refuses_what_cannot_line_up():
    a = DatasetStore(max_action_dim=3)
    a.from_dataset(datasets.Dataset.from_dict({"action": [1], "reward": [0.5], "done": [True],
                                                "x": [1]}))
    b = DatasetStore(max_action_dim=3)
    b.from_dataset(datasets.Dataset.from_dict({"action": [2], "reward": [1.5], "done": [2],
                                                "x": [0.5]}))
    merged = DatasetStore.merge_stores_to_dataset([a, b])
    assert merged.features["done"].dtype == "int64" and merged["done"] == [1, 2]
    assert merged.features["x"].dtype == "float64" and merged["x"] == [1.0, 0.5]
    c = DatasetStore(max_action_dim=3)
    c.from_dataset(datasets.Dataset.from_dict({"action": [2], "reward": [1.5], "done": [0],
                                                "x": ["text"]}))
    with pytest.raises(ValueError, match='column "x"'):
        DatasetStore.merge_stores_to_dataset([a, c])


def test_splits_with_different_columns_are_saved_lined_up(tmp_path):
    hub, online, _ = stores(30, 8)
    assert save_to_hub_layout({"train": [hub], "test": [online]}, tmp_path / "hub")
    loaded = datasets.load_dataset(str(tmp_path / "hub"), cache_dir=str(tmp_path / "hf"))
    assert loaded["test"].column_names == loaded["train"].column_names
    assert loaded["test"]["episode_step"] == [None] * 8
    assert loaded["test"]["reward"] == [r["reward"] for r in online_rows(8, 30)]
    assert all(math.isclose(a, b) for a, b in zip(loaded["train"]["reward"], hub_rows(30)["reward"]))
