"""DatasetStore from Python on datasets written by `datasets` itself: the column contract,
splits, images, lists, nulls, appends, to_dataset round trips and error mapping."""

import io
import math

import datasets
import numpy as np
import pyarrow as pa
import pytest
import torch
from PIL import Image
from tensordict import TensorDict

import mouse_data
from mouse_data import DatasetStore

NEG_INF = float("-inf")


def png_bytes(arr, mode=None):
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


def steps(n, start=0):
    """n CartPole-like steps with every contract column."""
    i = np.arange(start, start + n)
    return {
        "action": (i % 3).tolist(),
        "reward": (i * 0.5).tolist(),
        "done": [int(k % 5 == 4) for k in i],
        "xformed_reward": (i * 0.25).tolist(),
        "episode_step": (i % 5).tolist(),
        "metadata_q_star": [[float(k), float(k) + 1, float(k) + 2] for k in i],
        "observation": [[float(k), -float(k), 0.5, 1.5] for k in i],
    }


@pytest.fixture
def saved(tmp_path):
    ds = datasets.Dataset.from_dict(steps(50))
    path = tmp_path / "ds"
    ds.save_to_disk(str(path))
    return path


def test_encodes_the_column_contract_exactly(saved):
    ds = datasets.load_from_disk(str(saved))
    store = DatasetStore(max_action_dim=5, max_obs_continuous_dim=3)
    store.from_dataset(ds)
    assert len(store) == 50
    td = store[[7, 0, -1]]
    assert isinstance(td, TensorDict)
    assert td.batch_size == torch.Size([3])
    assert set(td.keys()) == {"action", "reward", "done", "xformed_reward", "time", "q_star",
                              "obs_continuous"}
    assert td["action"].dtype == torch.int64 and td["action"].tolist() == [1, 0, 49 % 3]
    assert td["reward"].dtype == torch.float32 and td["reward"].tolist() == [3.5, 0.0, 24.5]
    assert td["done"].tolist() == [0, 0, 1]
    assert td["time"].tolist() == [2, 0, 4]
    assert td["q_star"].dtype == torch.float32
    assert td["q_star"][0].tolist() == [7.0, 8.0, 9.0, NEG_INF, NEG_INF]
    assert td["obs_continuous"].dtype == torch.float64
    assert td["obs_continuous"][0].tolist() == [7.0, -7.0, 0.5]  # truncated to 3


def test_a_path_a_table_and_a_stream_load_like_the_dataset(saved):
    ds = datasets.load_from_disk(str(saved))
    ref = DatasetStore(max_action_dim=3)
    ref.from_dataset(ds)
    idx = list(range(0, 50, 3))
    for source in (str(saved), saved, ds.data.table, pa.RecordBatchReader.from_batches(
            ds.data.table.schema, ds.data.table.to_batches())):
        s = DatasetStore(max_action_dim=3)
        s.from_dataset(source)
        assert len(s) == 50
        assert (s[idx] == ref[idx]).all()


def test_polars_and_duckdb_results_load_through_the_stream_protocol():
    pl = pytest.importorskip("polars")
    duckdb = pytest.importorskip("duckdb")
    df = pl.DataFrame({"action": [1, 2, 3], "reward": [0.5, 1.0, 1.5], "done": [0, 0, 1]})
    s = DatasetStore(max_action_dim=4)
    s.from_dataset(df)
    rel = duckdb.sql("SELECT range::BIGINT % 4 AS action, (range * 1.0)::DOUBLE AS reward, "
                     "(range = 9)::BIGINT AS done FROM range(10)")
    s.from_dataset(rel.arrow())
    assert len(s) == 13
    assert s[[0, 1, 2, 3, 12]]["action"].tolist() == [1, 2, 3, 0, 1]
    assert s[[12]]["done"].tolist() == [1]


def test_dataset_dict_splits_and_patterns(tmp_path):
    dd = datasets.DatasetDict({
        "train_a": datasets.Dataset.from_dict(steps(10)),
        "train_b": datasets.Dataset.from_dict(steps(7, 100)),
        "test": datasets.Dataset.from_dict(steps(3, 200)),
    })
    s = DatasetStore(max_action_dim=3)
    s.from_dataset(dd)
    assert len(s) == 20
    s = DatasetStore(max_action_dim=3)
    s.from_dataset(dd, split_pattern="train_*")
    assert len(s) == 17
    s = DatasetStore(max_action_dim=3)
    s.from_dataset(dd, splits=["test", "train_a"])
    assert s[[0]]["reward"].tolist() == [100.0]  # test first, in the order given
    s = DatasetStore(max_action_dim=3)
    s.from_dataset(dd, split_pattern=["te?t", "train_b"])
    assert len(s) == 10
    with pytest.raises(KeyError, match="available splits"):
        s.from_dataset(dd, splits=["nope"])
    with pytest.raises(KeyError, match="available splits"):
        s.from_dataset(dd, split_pattern="val*")
    with pytest.raises(ValueError):
        s.from_dataset(dd, splits=["test"], split_pattern="t*")
    # The same through save_to_disk and a path.
    dd.save_to_disk(str(tmp_path / "dd"))
    s = DatasetStore(max_action_dim=3)
    s.from_dataset(tmp_path / "dd", split_pattern="train_*")
    assert len(s) == 17


def test_parquet_written_by_datasets_loads_as_a_hub_layout(tmp_path):
    d = tmp_path / "hub" / "data"
    d.mkdir(parents=True)
    datasets.Dataset.from_dict(steps(30)).to_parquet(str(d / "train-00000-of-00001.parquet"))
    datasets.Dataset.from_dict(steps(5, 30)).to_parquet(str(d / "test-00000-of-00001.parquet"))
    s = DatasetStore(max_action_dim=3)
    s.from_dataset(tmp_path / "hub", splits=["train"])
    assert len(s) == 30
    s.from_dataset(tmp_path / "hub", splits=["test"])
    assert s[[30]]["reward"].tolist() == [15.0]


def test_images_decode_to_flat_pixels_int64_or_uint8():
    rgb = np.arange(4 * 3 * 3, dtype=np.uint8).reshape(4, 3, 3)
    grey = np.arange(12, dtype=np.uint8).reshape(4, 3)
    ds = datasets.Dataset.from_dict({
        "action": [0, 1, 0], "reward": [0.0, 0.0, 1.0], "done": [0, 0, 1],
        "observation_image": [Image.fromarray(rgb), Image.fromarray(grey), None],
    }, features=datasets.Features({
        "action": datasets.Value("int64"), "reward": datasets.Value("float32"),
        "done": datasets.Value("int64"), "observation_image": datasets.Image()}))
    for dtype, torch_dtype in (("int64", torch.int64), ("uint8", torch.uint8)):
        s = DatasetStore(max_action_dim=2, max_obs_image_pixels=40, obs_image_dtype=dtype)
        s.from_dataset(ds)
        img = s[[0, 1, 2]]["obs_image"]
        assert img.dtype == torch_dtype and img.shape == (3, 40)
        assert img[0, :36].tolist() == rgb.ravel().tolist() and img[0, 36:].sum() == 0
        assert img[1, :12].tolist() == grey.ravel().tolist() and img[1, 12:].sum() == 0
        assert img[2].sum() == 0  # a null image is zeros


def test_image_cache_gives_the_decoded_tensors_and_is_reused(tmp_path, capfd):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (8, 6, 3), dtype=np.uint8) for _ in range(30)]
    feats = datasets.Features({
        "action": datasets.Value("int64"), "reward": datasets.Value("float32"),
        "done": datasets.Value("int64"), "observation_image": datasets.Image()})
    ds = datasets.Dataset.from_dict({
        "action": list(range(30)), "reward": [0.0] * 30, "done": [0] * 30,
        "observation_image": [Image.fromarray(f) if i % 7 else None for i, f in enumerate(frames)],
    }, features=feats)
    ds.save_to_disk(str(tmp_path / "data"))
    cache = tmp_path / "cache"
    for source in (ds, str(tmp_path / "data")):  # from Python objects and from a directory
        for dtype in ("uint8", "int64"):
            plain = DatasetStore(max_action_dim=2, max_obs_image_pixels=150, obs_image_dtype=dtype,
                                 image_cache=False)
            plain.from_dataset(source)
            cached = DatasetStore(max_action_dim=2, max_obs_image_pixels=150,
                                  obs_image_dtype=dtype, image_cache=cache)
            cached.from_dataset(source)
            idx = list(range(30))
            assert torch.equal(cached[idx]["obs_image"], plain[idx]["obs_image"])
    # One entry per source kind (a file stamp and a content hash), built once each.
    entries = sorted(p.name for p in cache.iterdir())
    assert len(entries) == 2 and all(e.startswith("frames-") for e in entries)
    err = capfd.readouterr().err
    assert err.count("into the frame cache") == 2
    with pytest.raises(TypeError, match="image_cache"):
        DatasetStore(max_action_dim=2, image_cache=3)
    with pytest.raises(ValueError, match="image_cache"):
        DatasetStore(max_action_dim=2, image_cache="")


def test_by_default_images_are_cached_when_they_can_be_and_else_decoded(tmp_path, capfd,
                                                                      monkeypatch):
    """No image_cache given: the frames are decoded once into $MOUSE_DATA_CACHE/frames and
    batches copy them; where no cache can be had, one line says so and frames are decoded on
    every read; the tensors are the same either way."""
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (8, 6, 3), dtype=np.uint8) for _ in range(20)]
    ds = datasets.Dataset.from_dict({
        "action": list(range(20)), "reward": [0.0] * 20, "done": [0] * 20,
        "observation_image": [Image.fromarray(f) for f in frames]},
        features=datasets.Features({
            "action": datasets.Value("int64"), "reward": datasets.Value("float32"),
            "done": datasets.Value("int64"), "observation_image": datasets.Image()}))
    idx = list(range(20))
    want = DatasetStore(max_action_dim=2, max_obs_image_pixels=144, obs_image_dtype="uint8",
                        image_cache=False)
    want.from_dataset(ds)
    capfd.readouterr()
    monkeypatch.setenv("MOUSE_DATA_CACHE", str(tmp_path / "root"))
    cached = DatasetStore(max_action_dim=2, max_obs_image_pixels=144, obs_image_dtype="uint8")
    cached.from_dataset(ds)
    assert "into the frame cache" in capfd.readouterr().err
    assert len(list((tmp_path / "root" / "frames").iterdir())) == 1
    assert torch.equal(cached[idx]["obs_image"], want[idx]["obs_image"])
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("MOUSE_DATA_CACHE", str(tmp_path / "a-file"))
    fallback = DatasetStore(max_action_dim=2, max_obs_image_pixels=144, obs_image_dtype="uint8")
    fallback.from_dataset(ds)
    err = capfd.readouterr().err
    assert "no frame cache for" in err and "decoded on every read" in err
    assert err.count("\n") == 1
    assert torch.equal(fallback[idx]["obs_image"], want[idx]["obs_image"])
    with pytest.raises(OSError):  # asked for by name, the cache must be had
        DatasetStore(max_action_dim=2, max_obs_image_pixels=144,
                     image_cache="auto").from_dataset(ds)
    assert DatasetStore(max_action_dim=2, image_cache=True)._config[5] is True


def test_list_features_nulls_and_sequence_lengths():
    feats = datasets.Features({
        "action": datasets.Value("int32"), "reward": datasets.Value("float64"),
        "done": datasets.Value("int8"),
        "episode_step": datasets.Value("int64"),
        "metadata_q_star": datasets.Sequence(datasets.Value("float32")),
        "observation_discrete": datasets.Sequence(datasets.Value("int64"), length=2),
    })
    ds = datasets.Dataset.from_dict({
        "action": [1, 0], "reward": [0.5, 1.5], "done": [0, 1], "episode_step": [0, None],
        "metadata_q_star": [[1.0], None], "observation_discrete": [[3, 4], [5, 6]],
    }, features=feats)
    s = DatasetStore(max_action_dim=2, max_obs_discrete_dim=3)
    s.from_dataset(ds)
    td = s[[0, 1]]
    assert td["q_star"].tolist() == [[1.0, NEG_INF], [NEG_INF, NEG_INF]]
    assert td["obs_discrete"].tolist() == [[3, 4, 0], [5, 6, 0]]
    assert td["time"].tolist() == [0, -1]  # a null episode_step is "not available"


def test_encode_hf_rows_takes_dataset_batches():
    ds = datasets.Dataset.from_dict(steps(10))
    s = DatasetStore(max_action_dim=3, max_obs_continuous_dim=4)
    td = s.encode_hf_rows(ds[2:5])
    assert td.batch_size == torch.Size([3])
    assert td["action"].tolist() == [2, 0, 1]
    assert td["obs_continuous"][0].tolist() == [2.0, -2.0, 0.5, 1.5]
    # Keys follow the rows' own columns.
    td = s.encode_hf_rows({"action": [1], "reward": [0.0], "done": [0]})
    assert set(td.keys()) == {"action", "reward", "done"}
    with pytest.raises(ValueError, match="reward"):
        s.encode_hf_rows({"action": [1], "done": [0]})


def test_append_takes_python_numpy_torch_and_image_values():
    s = DatasetStore(max_action_dim=3, max_obs_continuous_dim=3, max_obs_image_pixels=12)
    px = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    s.append({"action": np.int64(2), "reward": torch.tensor(0.5), "done": False,
              "observation": np.array([1.0, 2.0, 3.0]), "metadata_q_star": torch.tensor([1.0, 2.0]),
              "observation_image": Image.fromarray(px)})
    s.append({"action": 1, "reward": 1, "done": True, "observation": [4, 5, 6],
              "observation_image": png_bytes(px)})
    s.append({"action": 0, "reward": 2.5, "done": True, "observation": (7.0, 8.0, 9.0),
              "observation_image": {"bytes": png_bytes(px), "path": None}})
    s.append({"action": 0, "reward": 3.0, "done": False,
              "observation_image": px.astype(np.float32) / 255.0})
    td = s[[0, 1, 2, 3]]
    assert td["action"].tolist() == [2, 1, 0, 0]
    assert td["reward"].tolist() == [0.5, 1.0, 2.5, 3.0]
    assert td["done"].tolist() == [0, 1, 1, 0]
    assert td["obs_continuous"][:3].tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert td["obs_continuous"][3].tolist() == [0, 0, 0]  # the column was absent in that row
    assert td["q_star"][0].tolist() == [1.0, 2.0, NEG_INF]
    assert td["q_star"][1].tolist() == [NEG_INF] * 3
    for row in range(4):
        assert td["obs_image"][row].tolist() == px.ravel().tolist()


def test_append_errors_leave_the_store_unchanged():
    s = DatasetStore(max_action_dim=3)
    with pytest.raises(ValueError):
        s.append({})
    s.append({"action": 1, "reward": 0.0, "done": 0, "note": "a"})
    with pytest.raises(TypeError, match="note"):
        s.append({"action": 1, "reward": 0.0, "done": 0, "note": [1, 2]})
    with pytest.raises(TypeError, match="cannot be appended"):
        s.append({"action": 1, "reward": 0.0, "done": 0, "x": object()})
    with pytest.raises(TypeError):
        s.append([("action", 1)])
    assert len(s) == 1


def test_append_columns_bulk_path_matches_row_appends():
    n = 100
    cols = {
        "action": np.arange(n, dtype=np.int64) % 3,
        "reward": torch.linspace(0, 1, n, dtype=torch.float32),
        "done": np.array([i % 10 == 9 for i in range(n)]),
        "observation": np.arange(n * 4, dtype=np.float64).reshape(n, 4),
        "metadata_q_star": pa.array([[1.0, 2.0]] * n, pa.list_(pa.float32())),
    }
    bulk = DatasetStore(max_action_dim=3, max_obs_continuous_dim=4)
    bulk.append_columns(cols)
    rows = DatasetStore(max_action_dim=3, max_obs_continuous_dim=4)
    for i in range(n):
        rows.append({"action": int(cols["action"][i]), "reward": float(cols["reward"][i]),
                     "done": bool(cols["done"][i]), "observation": cols["observation"][i],
                     "metadata_q_star": [1.0, 2.0]})
    idx = list(range(n))
    a, b = bulk[idx], rows[idx]
    for k in a.keys():
        assert torch.equal(a[k], b[k]), k
    with pytest.raises(ValueError):
        bulk.append_columns({"action": np.zeros(3, np.int64), "reward": np.zeros(2), "done": np.zeros(3)})
    assert len(bulk) == n


def test_append_columns_with_image_frames():
    frames = np.random.default_rng(0).integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    s = DatasetStore(max_action_dim=2, max_obs_image_pixels=48, obs_image_dtype="uint8")
    s.append_columns({"action": np.zeros(5, np.int64), "reward": np.zeros(5, np.float32),
                      "done": np.zeros(5, np.int64), "observation_image": frames})
    assert s[[3]]["obs_image"][0].numpy().tolist() == frames[3].ravel().tolist()


def test_mixed_source_and_buffer_rows(saved):
    s = DatasetStore(max_action_dim=3, max_obs_continuous_dim=2)
    s.from_dataset(datasets.load_from_disk(str(saved)))
    s.append({"action": 2, "reward": 9.0, "done": 1})
    td = s[[50, 0, -1, 1]]
    assert td["action"].tolist() == [2, 0, 2, 1]
    assert td["obs_continuous"][0].tolist() == [0.0, 0.0]  # zero-filled for buffer rows
    assert td["q_star"][0].tolist() == [NEG_INF] * 3
    with pytest.raises(IndexError, match="51"):
        s[[51]]
    with pytest.raises(IndexError):
        s[[-52]]
    with pytest.raises(TypeError):
        s[[0.5]]


def test_to_dataset_round_trips_through_save_to_disk(tmp_path, saved):
    s = DatasetStore(max_action_dim=3, max_obs_image_pixels=12)
    src = datasets.load_from_disk(str(saved))
    s.from_dataset(src)
    out = s.to_dataset()
    assert isinstance(out, datasets.Dataset) and len(out) == 50
    assert out.features == src.features
    assert out[:] == src[:]
    # Buffer only, with pixel images -> an Image feature.
    b = DatasetStore(max_action_dim=3, max_obs_image_pixels=12)
    px = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    for i in range(3):
        b.append({"action": i, "reward": float(i), "done": 0, "observation_image": px + i})
    ds = b.to_dataset()
    assert isinstance(ds.features["observation_image"], datasets.Image)
    ds.save_to_disk(str(tmp_path / "buf"))
    back = datasets.load_from_disk(str(tmp_path / "buf"))
    assert back["action"] == [0, 1, 2] and back["reward"] == [0.0, 1.0, 2.0]
    assert np.asarray(back[2]["observation_image"]).tolist() == (px + 2).tolist()
    # concatenate_datasets works on what we return.
    both = datasets.concatenate_datasets([ds, back])
    assert len(both) == 6
    merged = DatasetStore.merge_stores_to_dataset([b, b])
    assert merged["action"] == [0, 1, 2, 0, 1, 2]
    assert len(DatasetStore.merge_stores_to_dataset([])) == 0


def test_clear_and_constructor_errors():
    s = DatasetStore()
    s.append({"action": 1, "reward": 0.0, "done": 0})
    s.clear()
    assert len(s) == 0
    with pytest.raises(ValueError, match="max_action_dim"):
        DatasetStore(max_action_dim=0)
    with pytest.raises(ValueError, match="max_obs_image_pixels"):
        DatasetStore(max_obs_image_pixels=-1)
    with pytest.raises(ValueError, match="obs_image_dtype"):
        DatasetStore(obs_image_dtype="float32")
    with pytest.raises(ValueError, match="format"):
        DatasetStore(format="jax")


def test_errors_map_to_python_types(tmp_path, saved):
    s = DatasetStore()
    with pytest.raises(OSError, match="does-not-exist"):
        s.from_dataset(tmp_path / "does-not-exist")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "dataset_info.json").write_text("{not json")
    (bad / "state.json").write_text("{}")
    with pytest.raises(mouse_data.FormatError) as e:
        s.from_dataset(bad)
    assert isinstance(e.value, ValueError)
    no_reward = datasets.Dataset.from_dict({"action": [1], "done": [0]})
    with pytest.raises(ValueError, match="reward"):
        s.from_dataset(no_reward)
    with pytest.raises(TypeError):
        s.from_dataset(42)


def test_numpy_format_gives_plain_dicts(saved):
    s = DatasetStore(max_action_dim=4, format="numpy")
    s.from_dataset(saved)
    out = s[[1, 2]]
    assert isinstance(out, dict) and isinstance(out["action"], np.ndarray)
    assert out["action"].dtype == np.int64 and out["action"].tolist() == [1, 2]
    assert math.isinf(out["q_star"][0, -1])
