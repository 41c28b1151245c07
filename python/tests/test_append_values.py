"""The values loops append (SPEC §4): every Python / NumPy / torch scalar kind into int64, bool and
float source columns, whatever the first appended value was; values outside the contract refused
where they enter (ValueError naming column and row, store unchanged); images wider than
max_obs_image_pixels warned about once per store."""

import math

import numpy as np
import pytest

datasets = pytest.importorskip("datasets")

import mouse_data as md  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover - torch is in the test requirements
    torch = None


def source(done_type):
    values = {"int64": [0, 1, 0], "bool": [False, True, False], "float64": [0.0, 1.0, 0.0]}
    features = datasets.Features({"action": datasets.Value("int64"),
                                  "reward": datasets.Value("float32"),
                                  "done": datasets.Value(done_type)})
    return datasets.Dataset.from_dict(
        {"action": [0, 1, 2], "reward": [0.5, 1.5, 2.5], "done": values[done_type]},
        features=features)


def scalar_kinds():
    """Each way a loop hands over a done of 0 or 1: (name, factory)."""
    kinds = [
        ("bool", lambda v: bool(v)),
        ("np.bool_", lambda v: np.bool_(v)),
        ("int", lambda v: int(v)),
        ("np.int64", lambda v: np.int64(v)),
        ("np.int8", lambda v: np.int8(v)),
        ("float", lambda v: float(v)),
        ("np.float32", lambda v: np.float32(v)),
        ("0-dim int array", lambda v: np.array(v, dtype=np.int32)),
        ("0-dim bool array", lambda v: np.array(bool(v))),
    ]
    if torch is not None:
        kinds.append(("0-dim torch int", lambda v: torch.tensor(int(v))))
        kinds.append(("0-dim torch bool", lambda v: torch.tensor(bool(v))))
    return kinds


FLOAT_KINDS = {"float", "np.float32"}


@pytest.mark.parametrize("done_type", ["int64", "bool", "float64"])
@pytest.mark.parametrize("first", scalar_kinds(), ids=lambda k: k[0])
def test_done_of_every_kind_appends_samples_and_round_trips(done_type, first, tmp_path):
    name, make = first
    store = md.DatasetStore(4, format="numpy")
    store.from_dataset(source(done_type))
    # The first value of the kind under test, then every bool and int kind (and a truncation, 2).
    appended = ([make(1)] + [k(0) for n, k in scalar_kinds() if n not in FLOAT_KINDS] +
                [2, np.int64(1), np.bool_(True)])
    for i, d in enumerate(appended):
        store.append({"action": np.int64(i % 4), "reward": np.float32(0.25 * i), "done": d})
    want_done = [0, 1, 0] + [int(d) for d in appended]
    idx = np.arange(len(store))
    assert store[idx]["done"].tolist() == want_done
    with md.PrefetchBatchifier(store, 4, 2, num_workers=1, seed=0, format="numpy") as b:
        batch = b.next()
        for row, start in enumerate(batch.starts):
            assert batch.data["done"][row].tolist() == want_done[start:start + 4]
    ds = store.to_dataset()
    ds.save_to_disk(str(tmp_path / "saved"))
    back = datasets.load_from_disk(str(tmp_path / "saved"))
    # Never narrowed: floats appended make done float64; else the source's int64, or int64 for a
    # bool source (ints arrived); a float64 source stays float64.
    wider = "float64" if (name in FLOAT_KINDS or done_type == "float64") else "int64"
    assert back.features["done"] == datasets.Value(wider)
    assert [int(v) for v in back.to_dict()["done"]] == want_done
    assert back.features["reward"] == datasets.Value("float32")  # float32 values stay float32
    assert back.to_dict()["reward"] == [0.5, 1.5, 2.5] + [0.25 * i for i in range(len(appended))]
    again = md.DatasetStore(4, format="numpy")
    again.from_dataset(back)
    assert again[idx]["done"].tolist() == want_done


def test_reported_case_bool_done_into_int64_source(tmp_path):
    """int64 done in the source, append({"done": False}): to_dataset writes int64; a later done=1
    after bools is accepted."""
    store = md.DatasetStore(4, format="numpy")
    store.from_dataset(source("int64"))
    store.append({"action": 1, "reward": 0.0, "done": False})
    store.append({"action": 1, "reward": 0.0, "done": 1})
    ds = store.to_dataset()
    assert ds.features["done"] == datasets.Value("int64")
    assert ds.to_dict()["done"] == [0, 1, 0, 0, 1]


def test_python_float_reward_widens_a_float32_source_column_only_when_inexact(tmp_path):
    store = md.DatasetStore(4, format="numpy")
    store.from_dataset(source("int64"))
    store.append({"action": 0, "reward": np.float32(0.1), "done": 0})  # a float32 value
    assert store.to_dataset().features["reward"] == datasets.Value("float32")
    store.append({"action": 0, "reward": 0.1, "done": 0})  # not one: float64, no rounding
    ds = store.to_dataset()
    assert ds.features["reward"] == datasets.Value("float64")
    assert ds.to_dict()["reward"][-2:] == [float(np.float32(0.1)), 0.1]


@pytest.mark.parametrize("obs", [
    np.arange(4, dtype=np.float16) / 4,
    np.arange(4, dtype=">f4"),              # big-endian
    np.arange(4, dtype=np.int8) - 2,
    np.array([True, False, True, True]),
    np.arange(8, dtype=np.float64)[::2],    # not contiguous
    np.array([0.5, 1, 2, 3], dtype=object),
], ids=["float16", "big-endian", "int8", "bool", "strided", "object"])
def test_observation_arrays_of_any_dtype(obs):
    store = md.DatasetStore(4, 4, format="numpy")
    store.append({"action": 0, "reward": 0.0, "done": 0, "observation": obs})
    got = store[[0]]["obs_continuous"][0]
    np.testing.assert_array_equal(got, np.asarray(obs, dtype=np.float64))


def test_zero_dim_observations_and_float16_scalars():
    store = md.DatasetStore(4, 0, 1, format="numpy")
    store.append({"action": np.array(3), "reward": np.float16(0.5), "done": np.array(False),
                  "observation_discrete": np.array(7, dtype=np.uint8)})
    row = store[[0]]
    assert row["action"].tolist() == [3]
    assert row["reward"].tolist() == [0.5]
    assert row["obs_discrete"].tolist() == [7]


def test_bool_then_int_arrays_in_append_columns(tmp_path):
    store = md.DatasetStore(4, format="numpy")
    store.from_dataset(source("int64"))
    store.append_columns({"action": np.array([0, 1]), "reward": np.float32([0, 1]),
                          "done": np.array([False, True])})
    store.append_columns({"action": np.array([2]), "reward": np.float64([2]), "done": np.array([2])})
    ds = store.to_dataset()
    assert ds.features["done"] == datasets.Value("int64")
    assert ds.to_dict()["done"] == [0, 1, 0, 0, 1, 2]


# --- values outside the contract: ValueError naming column and row, store unchanged ---------


def filled(max_action_dim=4, q_star=False):
    """A store with a 3-row source and one appended row (the next append is row 4)."""
    store = md.DatasetStore(max_action_dim, format="numpy")
    ds = source("int64")
    if q_star:
        ds = ds.add_column("metadata_q_star", [[0.5, 1.0]] * 3)
    store.from_dataset(ds)
    store.append({"action": 1, "reward": 0.5, "done": 0})
    return store


def expect_refused(store, call, match):
    before_len = len(store)
    before = store.to_dataset().to_dict()
    with pytest.raises(ValueError, match=match):
        call()
    assert len(store) == before_len
    assert store.to_dataset().to_dict() == before


ROW = r"at row 4: "
CALL = r"at row 1 of the call \(rows counted from 0 within the call\): "


def test_append_done_not_0_1_2():
    s = filled()
    expect_refused(s, lambda: s.append({"action": 1, "reward": 0.0, "done": 3}),
                   'column "done" ' + ROW + r"the value 3 is not 0 \(running\), 1 \(terminal\) or 2")
    expect_refused(s, lambda: s.append({"action": 1, "reward": 0.0, "done": np.int64(-1)}),
                   'column "done" ' + ROW + "the value -1")


def test_append_negative_action():
    s = filled()
    expect_refused(s, lambda: s.append({"action": -1, "reward": 0.0, "done": 0}),
                   'column "action" ' + ROW + "the value -1 is negative")


def test_append_action_past_max_action_dim_with_q_values():
    plain = filled()
    plain.append({"action": 7, "reward": 0.0, "done": 0})  # no q-values: any index
    s = filled(q_star=True)
    expect_refused(s, lambda: s.append({"action": 4, "reward": 0.0, "done": 0}),
                   'column "action" ' + ROW + "the value 4 is not below max_action_dim 4")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float32("nan")])
def test_append_non_finite_reward(bad):
    s = filled()
    expect_refused(s, lambda: s.append({"action": 1, "reward": bad, "done": 0}),
                   'column "reward" ' + ROW + "the value .* is not finite")


@pytest.mark.parametrize("column,value", [("action", 1.5), ("done", 0.5), ("episode_step", 2.25),
                                          ("action", np.float32(math.nan))])
def test_append_non_integral_value_in_integer_column(column, value):
    row = {"action": 1, "reward": 0.0, "done": 0, column: value}
    if column == "episode_step":  # not a column of the source: a buffer-only store
        s = md.DatasetStore(4, format="numpy")
        s.append({"action": 1, "reward": 0.0, "done": 0, "episode_step": 3})
        expect_refused(s, lambda: s.append(row),
                       f'column "{column}" gets the value .* at row 1, which is not a whole number')
        return
    s = filled()
    expect_refused(s, lambda: s.append(row),
                   f'column "{column}" gets the value .* at row 4, which is not a whole number')


def columns(action=(0, 1), reward=(0.0, 0.0), done=(0, 0), **extra):
    out = {"action": np.asarray(action), "reward": np.asarray(reward), "done": np.asarray(done)}
    out.update(extra)
    return out


def test_append_columns_done_not_0_1_2():
    s = filled()
    expect_refused(s, lambda: s.append_columns(columns(done=(0, 5))),
                   'append_columns: column "done" ' + CALL + "the value 5 is not 0")


def test_append_columns_negative_action():
    s = filled()
    expect_refused(s, lambda: s.append_columns(columns(action=(0, -3))),
                   'column "action" ' + CALL + "the value -3 is negative")


def test_append_columns_action_past_max_action_dim_with_q_values():
    s = filled(q_star=True)
    expect_refused(s, lambda: s.append_columns(columns(action=np.int32([1, 9]))),
                   'column "action" ' + CALL + "the value 9 is not below max_action_dim 4")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_append_columns_non_finite_reward(bad):
    s = filled()
    expect_refused(s, lambda: s.append_columns(columns(reward=np.float32([0, bad]))),
                   'column "reward" ' + CALL + "the value .* is not finite")


def test_append_columns_non_integral_value_in_integer_column():
    s = filled()
    expect_refused(s, lambda: s.append_columns(columns(action=np.float64([1, 1.5]))),
                   r'append_columns \(rows counted from 0 within the call\): column "action" has '
                   r"the value 1.5 at row 1, which is not a whole number")


# --- images wider than max_obs_image_pixels -------------------------------------------------


def test_wide_image_warns_once_per_store_on_append(capfd):
    store = md.DatasetStore(4, 0, 0, 16, format="numpy")  # room for 4 x 4 grey, not RGB
    rgb = np.full((4, 4, 3), 9, dtype=np.uint8)
    for _ in range(3):
        store.append({"action": 0, "reward": 0.0, "done": 0, "observation_image": rgb})
    store[[0, 1, 2]]
    err = capfd.readouterr().err
    assert err.count("warning") == 1, err
    assert 'column "observation_image" (append, row 0) holds an image of 4 x 4 x 3' in err
    assert "max_obs_image_pixels = 16" in err


def test_wide_source_frame_warns_when_encoded(capfd):
    maker = md.DatasetStore(4, 0, 0, 48, format="numpy")
    rgb = np.full((4, 4, 3), 9, dtype=np.uint8)
    for _ in range(2):
        maker.append({"action": 0, "reward": 0.0, "done": 0, "observation_image": rgb})
    ds = maker.to_dataset()
    assert capfd.readouterr().err == ""  # wide enough: no warning
    store = md.DatasetStore(4, 0, 0, 16, format="numpy")
    store.from_dataset(ds)
    store[[0, 1]]
    store[[1]]
    err = capfd.readouterr().err
    assert err.count("warning") == 1, err
    assert "row 0) holds an image of 4 x 4 x 3 (H x W x C) = 48 values" in err
    assert "max_obs_image_pixels = 16" in err


def test_append_columns_of_pixel_images_is_all_or_nothing():
    """Image columns given as [N, H, W, C] pixels go row by row through the C++ append_rows,
    which checks every row before adding any: a bad done in row 2 leaves the store as it was."""
    store = md.DatasetStore(4, max_obs_image_pixels=2 * 2 * 3, format="numpy")
    store.append({"action": 0, "reward": 0.0, "done": 0})
    pixels = np.arange(3 * 2 * 2 * 3, dtype=np.uint8).reshape(3, 2, 2, 3)
    bad = {"action": np.array([0, 1, 2]), "reward": np.zeros(3), "done": np.array([0, 0, 5]),
           "observation_image": pixels}
    with pytest.raises(ValueError, match='"done"'):
        store.append_columns(bad)
    assert len(store) == 1
    store.append_columns(dict(bad, done=np.array([0, 0, 1])))
    assert len(store) == 4
    np.testing.assert_array_equal(store[[1, 2, 3]]["obs_image"], pixels.reshape(3, -1))
