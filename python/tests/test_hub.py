"""The Hub layout written by save_to_hub_layout loads in `datasets` and in DatasetStore, and
push_to_hub / push_stores_to_hub make one commit that replaces the data/ files (fake HfApi)."""

import io
import os
import re
import types

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

import mouse_data
from mouse_data import DatasetStore, push_stores_to_hub, push_to_hub, save_to_hub_layout

PIX = 2 * 3 * 3  # 2 x 3 RGB images
SHARD_RE = re.compile(r"^data/(\w+(?:\.\w+)*)-\d{5}-of-\d{5}\.parquet$")


def pixels(k):
    return np.random.default_rng(k).integers(0, 256, (2, 3, 3), dtype=np.uint8)


def png_bytes(arr):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


# Columns are given in the same (alphabetical) order everywhere, so these stores concatenate
# whatever order a store keeps its buffer columns in; test_source_and_buffer_stores_... below
# checks the natural order on its own.
FEATURES = datasets.Features({
    "action": datasets.Value("int64"),
    "done": datasets.Value("int64"),
    "episode_step": datasets.Value("int64"),
    "observation_image": datasets.Image(),
    "reward": datasets.Value("float64"),
})


def expected_rows(ks):
    return [{"action": k % 4, "done": int(k % 5 == 4), "episode_step": k % 5,
             "observation_image": pixels(k), "reward": k * 0.5} for k in ks]


def source_store(ks):
    rows = expected_rows(ks)
    ds = datasets.Dataset.from_dict({
        "action": [r["action"] for r in rows], "done": [r["done"] for r in rows],
        "episode_step": [r["episode_step"] for r in rows],
        "observation_image": [{"bytes": png_bytes(r["observation_image"]), "path": None}
                              for r in rows],
        "reward": [r["reward"] for r in rows]}, features=FEATURES)
    store = DatasetStore(max_action_dim=4, max_obs_image_pixels=PIX)
    store.from_dataset(ds)
    return store


def appended_store(ks):
    store = DatasetStore(max_action_dim=4, max_obs_image_pixels=PIX)
    for r in expected_rows(ks):
        store.append(dict(r))  # the image as H x W x C uint8 pixels
    return store


TRAIN1, TRAIN2, TEST = range(0, 12), range(100, 107), range(200, 205)


@pytest.fixture
def stores():
    return {"train": [source_store(TRAIN1), appended_store(TRAIN2)],
            "test": [appended_store(TEST)]}


def load(path, tmp_path):
    return datasets.load_dataset(str(path), cache_dir=str(tmp_path / "hf-cache"))


def assert_split_equals(ds, ks):
    exp = expected_rows(ks)
    assert len(ds) == len(exp)
    assert ds.features["observation_image"] == datasets.Image()
    assert ds.features["action"] == datasets.Value("int64")
    assert ds.features["reward"] == datasets.Value("float64")
    for got, want in zip(ds, exp):
        for key in ("action", "done", "episode_step", "reward"):
            assert got[key] == want[key], key
        img = got["observation_image"]
        assert isinstance(img, Image.Image) and img.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(img), want["observation_image"])


def files_under(root):
    return sorted(os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/")
                  for d, _, fs in os.walk(root) for f in fs)


# --- save_to_hub_layout --------------------------------------------------------------------------

def test_layout_loads_in_datasets_value_for_value(stores, tmp_path):
    out = tmp_path / "layout"
    assert save_to_hub_layout(stores, out) is True
    files = files_under(out)
    assert "README.md" in files
    shards = [f for f in files if f != "README.md"]
    assert shards and all(SHARD_RE.match(f) for f in shards)
    assert {SHARD_RE.match(f).group(1) for f in shards} == {"train", "test"}
    dd = load(out, tmp_path)
    assert set(dd.keys()) == {"train", "test"}
    assert_split_equals(dd["train"], list(TRAIN1) + list(TRAIN2))
    assert_split_equals(dd["test"], TEST)


def test_readme_front_matter_describes_the_layout(stores, tmp_path):
    out = tmp_path / "layout"
    save_to_hub_layout(stores, out)
    text = (out / "README.md").read_text()
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    info = meta["dataset_info"]
    feats = {f["name"]: f["dtype"] for f in info["features"]}
    assert feats == {"action": "int64", "done": "int64", "episode_step": "int64",
                     "observation_image": "image", "reward": "float64"}
    splits = {s["name"]: s["num_examples"] for s in info["splits"]}
    assert splits == {"train": len(TRAIN1) + len(TRAIN2), "test": len(TEST)}
    (config,) = meta["configs"]
    assert config["config_name"] == "default"
    assert {d["split"]: d["path"] for d in config["data_files"]} == {
        "train": "data/train-*", "test": "data/test-*"}


def test_shards_are_plain_parquet_with_huggingface_metadata(stores, tmp_path):
    out = tmp_path / "layout"
    save_to_hub_layout(stores, out)
    (shard,) = [f for f in files_under(out) if f.startswith("data/test-")]
    table = pq.read_table(out / shard)
    assert table.num_rows == len(TEST)
    assert table.column("reward").to_pylist() == [r["reward"] for r in expected_rows(TEST)]
    meta = table.schema.metadata
    assert b"huggingface" in meta
    assert b'"Image"' in meta[b"huggingface"]


def test_layout_loads_back_into_a_datasetstore(stores, tmp_path):
    out = tmp_path / "layout"
    save_to_hub_layout(stores, out)
    every = DatasetStore(max_action_dim=4, max_obs_image_pixels=PIX)
    every.from_dataset(out)
    assert len(every) == len(TRAIN1) + len(TRAIN2) + len(TEST)
    train = DatasetStore(max_action_dim=4, max_obs_image_pixels=PIX)
    train.from_dataset(str(out), splits=["train"])
    n1, n2 = len(TRAIN1), len(TRAIN2)
    got = train[list(range(n1 + n2))]
    a, b = stores["train"]
    want1, want2 = a[list(range(n1))], b[list(range(n2))]
    for key in want1.keys():
        assert got[key][:n1].tolist() == want1[key].tolist(), key
        assert got[key][n1:].tolist() == want2[key].tolist(), key
    # pixels survive the trip exactly
    assert got["obs_image"][n1].tolist() == pixels(TRAIN2[0]).ravel().tolist()
    test = DatasetStore(max_action_dim=4, max_obs_image_pixels=PIX)
    test.from_dataset(out, split_pattern="te*")
    assert test[list(range(len(TEST)))]["reward"].tolist() == [k * 0.5 for k in TEST]
    # and to_dataset of a loaded store gives the rows back
    ds = test.to_dataset()
    assert ds["reward"] == [k * 0.5 for k in TEST]


def test_single_store_split_and_to_dataset_of_what_was_loaded(tmp_path):
    s = appended_store(range(30))
    out = tmp_path / "one"
    assert save_to_hub_layout({"train": [s]}, out)
    assert_split_equals(load(out, tmp_path)["train"], range(30))


def test_source_and_buffer_stores_in_one_split_in_their_natural_column_order(tmp_path):
    """A store loaded from a dataset and a store of appended steps, with the same columns given in
    the usual order (action, reward, done, ...), concatenate as `concatenate_datasets` would."""
    n = 6
    src = DatasetStore(max_action_dim=4)
    src.from_dataset(datasets.Dataset.from_dict({
        "action": [k % 4 for k in range(n)], "reward": [k * 0.5 for k in range(n)],
        "done": [0] * n}))
    buf = DatasetStore(max_action_dim=4)
    for k in range(n, 2 * n):
        buf.append({"action": k % 4, "reward": k * 0.5, "done": 0})
    out = tmp_path / "mixed"
    assert save_to_hub_layout({"train": [src, buf]}, out)
    ds = load(out, tmp_path)["train"]
    assert ds["reward"] == [k * 0.5 for k in range(2 * n)]
    assert ds["action"] == [k % 4 for k in range(2 * n)]


def test_stores_with_the_same_columns_in_different_orders_merge(tmp_path):
    a = DatasetStore(max_action_dim=4)
    a.from_dataset(datasets.Dataset.from_dict({"action": [1], "reward": [0.5], "done": [0]}))
    b = DatasetStore(max_action_dim=4)
    b.from_dataset(datasets.Dataset.from_dict({"done": [1], "action": [2], "reward": [1.5]}))
    merged = DatasetStore.merge_stores_to_dataset([a, b])
    assert merged["action"] == [1, 2] and merged["reward"] == [0.5, 1.5]
    assert merged["done"] == [0, 1]
    assert save_to_hub_layout({"train": [a, b]}, tmp_path / "l")
    assert load(tmp_path / "l", tmp_path)["train"]["action"] == [1, 2]


def test_empty_splits_are_left_out_and_all_empty_writes_nothing(tmp_path):
    out = tmp_path / "partial"
    assert save_to_hub_layout({"train": [appended_store(range(3))], "test": [DatasetStore()],
                               "eval": []}, out)
    assert {SHARD_RE.match(f).group(1) for f in files_under(out) if f != "README.md"} == {"train"}
    assert list(load(out, tmp_path).keys()) == ["train"]
    nothing = tmp_path / "nothing"
    assert save_to_hub_layout({"train": [DatasetStore(), DatasetStore()]}, nothing) is False
    assert save_to_hub_layout({}, nothing) is False
    assert not nothing.exists() or files_under(nothing) == []


@pytest.mark.parametrize("name", ["id-eval", "", "train/x", "a b", "train.", ".train", "tr*"])
def test_invalid_split_names_are_value_errors(name, tmp_path):
    s = appended_store(range(2))
    with pytest.raises(ValueError, match="[Ss]plit"):
        save_to_hub_layout({name: [s]}, tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("name", ["train", "id_eval", "eval.v2", "Test_01"])
def test_valid_split_names(name, tmp_path):
    assert save_to_hub_layout({name: [appended_store(range(2))]}, tmp_path / "x")
    assert any(f.startswith(f"data/{name}-") for f in files_under(tmp_path / "x"))


# --- push_to_hub ---------------------------------------------------------------------------------

class FakeApi:
    """Records the HfApi calls push_to_hub makes, and reads the added files at commit time."""

    def __init__(self, existing=()):
        self.existing = list(existing)
        self.calls = []
        self.commits = []

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))
        return types.SimpleNamespace(repo_id="someone/" + repo_id.split("/")[-1])

    def list_repo_files(self, repo_id, **kw):
        self.calls.append(("list_repo_files", repo_id, kw))
        return list(self.existing)

    def create_commit(self, repo_id, operations, commit_message=None, **kw):
        self.calls.append(("create_commit", repo_id, kw))
        added, deleted = {}, []
        for op in operations:
            if type(op).__name__ == "CommitOperationAdd":
                src = op.path_or_fileobj
                if isinstance(src, (str, os.PathLike)):
                    with open(src, "rb") as f:
                        added[op.path_in_repo] = f.read()
                elif isinstance(src, bytes):
                    added[op.path_in_repo] = src
                else:
                    added[op.path_in_repo] = src.read()
            elif type(op).__name__ == "CommitOperationDelete":
                deleted.append(op.path_in_repo)
            else:
                raise AssertionError(f"unexpected operation {op!r}")
        self.commits.append(types.SimpleNamespace(repo_id=repo_id, added=added,
                                                  deleted=sorted(deleted),
                                                  message=commit_message, kw=kw))


EXISTING = ["README.md", ".gitattributes", "notes/keep.txt", "other/train-00000-of-00001.parquet",
            "data/train-00000-of-00001.parquet", "data/train-00001-of-00002.parquet",
            "data/old_split-00000-of-00001.parquet", "data/readme.txt"]


def test_push_to_hub_one_commit_adds_layout_and_deletes_stale_data(stores, tmp_path, capsys):
    api = FakeApi(EXISTING)
    push_to_hub(stores, "org/rollouts", private=True, commit_message="rollouts v2", api=api)
    (create,) = [c for c in api.calls if c[0] == "create_repo"]
    assert create[1] == "org/rollouts"
    assert create[2].get("repo_type") == "dataset"
    assert create[2].get("private") is True
    assert create[2].get("exist_ok") is True
    assert len(api.commits) == 1
    commit = api.commits[0]
    assert commit.repo_id == "someone/rollouts"  # the id create_repo returned
    assert commit.message == "rollouts v2"
    assert commit.kw.get("repo_type") == "dataset"
    added = sorted(commit.added)
    assert "README.md" in added
    shards = [p for p in added if p != "README.md"]
    assert shards and all(SHARD_RE.match(p) for p in shards)
    assert {SHARD_RE.match(p).group(1) for p in shards} == {"train", "test"}
    # every data/ file that is not part of the new layout goes; nothing else is touched
    assert commit.deleted == sorted(p for p in EXISTING if p.startswith("data/")
                                    and p not in commit.added)
    assert "data/old_split-00000-of-00001.parquet" in commit.deleted
    assert "data/readme.txt" in commit.deleted
    assert not any(p in commit.deleted for p in ("README.md", ".gitattributes", "notes/keep.txt",
                                                  "other/train-00000-of-00001.parquet"))
    assert not set(commit.deleted) & set(commit.added)
    # the uploaded files are the layout: rebuild it and load it
    root = tmp_path / "uploaded"
    for path, data in commit.added.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    dd = load(root, tmp_path)
    assert_split_equals(dd["train"], list(TRAIN1) + list(TRAIN2))
    assert_split_equals(dd["test"], TEST)
    assert "someone/rollouts" in capsys.readouterr().out


def test_push_stores_to_hub_is_one_split(tmp_path):
    api = FakeApi(["data/train-00000-of-00001.parquet"])
    push_stores_to_hub([appended_store(range(4)), appended_store(range(4, 9))], "ds",
                       split="eval", api=api)
    (commit,) = api.commits
    shards = [p for p in commit.added if p != "README.md"]
    assert {SHARD_RE.match(p).group(1) for p in shards} == {"eval"}
    assert commit.deleted == ["data/train-00000-of-00001.parquet"]
    root = tmp_path / "uploaded"
    for path, data in commit.added.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    assert_split_equals(load(root, tmp_path)["eval"], range(9))


def test_push_stores_to_hub_defaults_to_train_and_new_repo(tmp_path):
    api = FakeApi([])
    push_stores_to_hub([appended_store(range(3))], "fresh", api=api)
    (create,) = [c for c in api.calls if c[0] == "create_repo"]
    assert create[2].get("private") is False
    (commit,) = api.commits
    assert commit.deleted == []
    assert commit.message == "New rollout data"
    assert {SHARD_RE.match(p).group(1) for p in commit.added if p != "README.md"} == {"train"}


def test_push_of_empty_stores_pushes_nothing(capsys):
    api = FakeApi(EXISTING)
    push_to_hub({"train": [DatasetStore()], "test": []}, "org/empty", api=api)
    push_stores_to_hub([], "org/empty", api=api)
    assert api.calls == [] and api.commits == []
    assert "nothing to push" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["id-eval", "bad split", ""])
def test_push_with_an_invalid_split_name_is_value_error_before_any_call(name):
    api = FakeApi(EXISTING)
    with pytest.raises(ValueError):
        push_to_hub({"train": [appended_store(range(2))], name: [appended_store(range(2))]},
                    "org/x", api=api)
    with pytest.raises(ValueError):
        push_stores_to_hub([appended_store(range(2))], "org/x", split=name, api=api)
    assert api.calls == []


def test_exports():
    for name in ("save_to_hub_layout", "push_to_hub", "push_stores_to_hub"):
        assert name in mouse_data.__all__
