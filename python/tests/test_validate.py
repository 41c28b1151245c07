"""from_dataset checks every value of a source's contract columns (SPEC §3-4): a bad value is a
ValueError naming the dataset, file, column and row when the data are loaded, not when the row is
first sampled; ``validate=False`` skips the check; a file that passed is remembered."""

import math
import os
import pathlib
import struct

import datasets
import numpy as np
import pyarrow as pa
import pytest

from mouse_data import DatasetStore

TESTDATA = pathlib.Path(os.environ.get("MOUSE_TESTDATA_DIR",
                                       pathlib.Path(__file__).parents[3] / "shared" / "testdata"))


def steps(n=1500, **columns):
    data = {"action": np.arange(n, dtype=np.int64) % 4,
            "reward": np.full(n, 0.5, dtype=np.float32),
            "done": (np.arange(n) % 50 == 49).astype(np.int64)}
    data.update(columns)
    return data


def saved(tmp_path, data, name="ds"):
    path = tmp_path / name
    datasets.Dataset.from_dict(data).save_to_disk(str(path))
    return path


def refused(store, source, *parts):
    with pytest.raises(ValueError) as e:
        store.from_dataset(source)
    for p in parts:
        assert p in str(e.value), str(e.value)
    assert len(store) == 0


@pytest.mark.parametrize("as_object", [False, True], ids=["path", "datasets"])
def test_done_outside_0_1_2_names_column_row_file_and_dataset(tmp_path, as_object):
    data = steps()
    data["done"][1234] = 3
    path = saved(tmp_path, data)
    source = datasets.load_from_disk(str(path)) if as_object else path
    refused(DatasetStore(), source, 'column "done" has the value 3 at row 1234',
            "done must be 0 (running), 1 (terminal) or 2 (truncated)",
            "data-00000-of-00001.arrow", "validate=False")
    if not as_object:
        refused(DatasetStore(), source, str(path))


def test_negative_action(tmp_path):
    data = steps()
    data["action"][7] = -1
    refused(DatasetStore(), saved(tmp_path, data), 'column "action" has the value -1 at row 7',
            "an action must be >= 0")


def test_action_below_max_action_dim_only_with_q_star(tmp_path):
    data = steps(64)
    data["action"][3] = 4
    plain = saved(tmp_path, dict(data), "plain")
    data["metadata_q_star"] = np.zeros((64, 4), dtype=np.float32).tolist()
    with_q = saved(tmp_path, data, "q")
    refused(DatasetStore(max_action_dim=4), with_q, 'column "action" has the value 4 at row 3',
            "max_action_dim (4)")
    s = DatasetStore(max_action_dim=4)
    s.from_dataset(plain)
    assert len(s) == 64
    s = DatasetStore(max_action_dim=5)
    s.from_dataset(with_q)
    assert len(s) == 64


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_reward_must_be_finite(tmp_path, bad):
    data = steps(2000)
    data["reward"][1042] = bad
    table = pa.table(data)
    refused(DatasetStore(), table, f'column "reward" has the value {bad} at row 1042'.lower(),
            "a reward must be finite", "in-memory dataset")


def test_float_stored_integer_columns_hold_whole_numbers(tmp_path):
    n = 300
    base = steps(n, episode_step=np.arange(n, dtype=np.float64),
                 observation_discrete=np.full((n, 2), 2.0).tolist())
    base["action"] = base["action"].astype(np.float64)
    base["done"] = base["done"].astype(np.float32)
    ok = DatasetStore(max_obs_discrete_dim=2)
    ok.from_dataset(saved(tmp_path, base, "ok"))
    assert len(ok) == n
    cases = [("action", 9, 1.5), ("done", 250, 0.5), ("episode_step", 199, math.nan)]
    for column, row, value in cases:
        data = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in base.items()}
        data[column][row] = value
        refused(DatasetStore(max_obs_discrete_dim=2), saved(tmp_path, data, column),
                f'column "{column}" has the value {value} at row {row}', "whole number")
    data = dict(base)
    data["observation_discrete"] = [list(r) for r in base["observation_discrete"]]
    data["observation_discrete"][150] = [2.0, 3.5]
    path = saved(tmp_path, data, "discrete")
    refused(DatasetStore(max_obs_discrete_dim=2), path,
            'column "observation_discrete" has the value 3.5 at row 150')
    s = DatasetStore()  # not encoded without max_obs_discrete_dim: not checked
    s.from_dataset(path)
    assert len(s) == n


def test_required_columns_are_not_null(tmp_path):
    table = pa.table({"action": pa.array([0, 1, 2, 3]), "reward": pa.array([0.0, 1.0, 0.0, 1.0]),
                      "done": pa.array([0, None, 0, 1], pa.int64())})
    refused(DatasetStore(), table, 'column "done" is null at row 1')


def test_a_bad_split_is_named_and_nothing_is_added(tmp_path):
    bad = steps(30)
    bad["reward"][29] = math.inf
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_dict(steps(30)),
                               "test": datasets.Dataset.from_dict(bad)})
    dd.save_to_disk(str(tmp_path / "dict"))
    refused(DatasetStore(), tmp_path / "dict", 'split "test"',
            'column "reward" has the value inf at row 29')
    s = DatasetStore()
    s.from_dataset(tmp_path / "dict", splits=["train"])
    assert len(s) == 30


def test_validate_false_loads_the_bad_file(tmp_path):
    data = steps()
    data["done"][5] = 9
    data["reward"][6] = math.nan
    path = saved(tmp_path, data)
    s = DatasetStore(validate=False)
    s.from_dataset(path)
    assert len(s) == 1500
    assert s[[5]]["done"].tolist() == [9]
    assert not (pathlib.Path(os.environ["MOUSE_DATA_CACHE"]) / "validated").exists()


@pytest.mark.parametrize("as_object", [False, True], ids=["path", "datasets"])
def test_a_file_that_passed_is_not_read_again_until_its_mtime_changes(tmp_path, as_object):
    data = steps()
    data["reward"][17] = 1234.5
    path = saved(tmp_path, data)
    load = (lambda: datasets.load_from_disk(str(path))) if as_object else (lambda: path)
    s = DatasetStore()
    s.from_dataset(load())
    markers = list((pathlib.Path(os.environ["MOUSE_DATA_CACHE"]) / "validated").glob("*.ok"))
    assert len(markers) == 1
    # Put a NaN in the file behind the marker's back: same size, same mtime.
    arrow_file = path / "data-00000-of-00001.arrow"
    st = arrow_file.stat()
    raw = bytearray(arrow_file.read_bytes())
    at = raw.find(struct.pack("<f", 1234.5))
    assert at > 0
    raw[at:at + 4] = struct.pack("<f", math.nan)
    with open(arrow_file, "r+b") as f:
        f.write(raw)
    os.utime(arrow_file, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = DatasetStore()
    again.from_dataset(load())  # the marker matched: the values were not read
    assert len(again) == 1500
    # A new mtime: checked again, and the NaN is found.
    os.utime(arrow_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    refused(DatasetStore(), load(), 'column "reward" has the value nan at row 17')


def test_lerobot_datasets_pass():
    names = ["lerobot-pusht", "lerobot-pusht_image", "lerobot-xarm_lift_medium",
             "lerobot-aloha_sim_insertion_human"]
    found = [TESTDATA / "hf" / n / "train" for n in names if (TESTDATA / "hf" / n / "train").exists()]
    if not found:
        pytest.skip(f"SKIPPED: corpus missing at {TESTDATA}")
    for path in found:
        # Read with pyarrow (datasets does not know LeRobot's VideoFrame feature), memory-mapped.
        with pa.memory_map(str(path / "data-00000-of-00001.arrow")) as source:
            table = pa.ipc.open_stream(source).read_all()
        # Their step columns under the contract's names, zero-copy (aloha has no reward: its
        # float32 timestamp stands in).
        reward = "next.reward" if "next.reward" in table.column_names else "timestamp"
        table = table.select(["frame_index", reward, "next.done", "index"])
        table = table.rename_columns(["action", "reward", "done", "episode_step"])
        s = DatasetStore()
        s.from_dataset(table)
        assert len(s) == table.num_rows, path
