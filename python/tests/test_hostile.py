"""Hostile input at the Python entry points: bad objects given to from_dataset, wrong types and
shapes appended, absurd sizes, garbage checkpoints, and a store cleared or changed under a
running batchifier all end in a Python exception naming the problem, never in a crash of the
interpreter or a hang."""

import os
import threading

import datasets
import numpy as np
import pyarrow as pa
import pytest

from mouse_data import DatasetStore, PrefetchBatchifier


def make_store(n=200):
    store = DatasetStore(max_action_dim=3, max_obs_continuous_dim=2, format="numpy")
    store.from_dataset(datasets.Dataset.from_dict({
        "action": [k % 3 for k in range(n)], "reward": [float(k) for k in range(n)],
        "done": [int(k % 20 == 19) for k in range(n)],
        "observation": [[float(k), 0.0] for k in range(n)]}))
    return store


class RaisingStream:
    def __arrow_c_stream__(self, requested_schema=None):
        raise RuntimeError("producer failed")


class NotACapsule:
    def __arrow_c_stream__(self, requested_schema=None):
        return 42


class WrongCapsule:
    def __arrow_c_stream__(self, requested_schema=None):
        return pa.array([1, 2]).__arrow_c_array__()[0]  # an "arrow_schema" capsule


@pytest.mark.parametrize("obj,error", [
    (object(), TypeError),
    (RaisingStream(), RuntimeError),
    (NotACapsule(), TypeError),
    (WrongCapsule(), (TypeError, ValueError)),
    (pa.table({"action": ["a"], "reward": [1.0], "done": [0]}), (TypeError, ValueError)),
    (pa.table({"action": [1], "reward": ["x"], "done": [0]}), (TypeError, ValueError)),
    ({"train": 3}, TypeError),
    (b"bytes", TypeError),
])
def test_bad_sources_are_exceptions(obj, error):
    store = DatasetStore()
    with pytest.raises(error):
        store.from_dataset(obj)
    assert len(store) == 0


def test_a_fifo_or_directory_path_is_an_error_not_a_hang(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    store = DatasetStore()
    for path in (fifo, tmp_path):
        with pytest.raises((OSError, ValueError)):
            store.from_dataset(path)
    ds = tmp_path / "ds"
    datasets.Dataset.from_dict({"action": [1], "reward": [1.0], "done": [0]}).save_to_disk(str(ds))
    os.remove(ds / "state.json")
    os.mkfifo(ds / "state.json")
    with pytest.raises((OSError, ValueError), match="state.json"):
        store.from_dataset(ds)


@pytest.mark.parametrize("columns,error", [
    ({"action": np.arange(3), "reward": np.zeros(2), "done": np.zeros(3)}, ValueError),
    ({"action": np.zeros((3, 2)), "reward": np.zeros(3), "done": np.zeros(3)}, (TypeError, ValueError)),
    ({"action": np.array([object()] * 3), "reward": np.zeros(3), "done": np.zeros(3)}, TypeError),
    ({"action": np.array(["a", "b", "c"]), "reward": np.zeros(3), "done": np.zeros(3)}, TypeError),
    ({"action": [1.5, 2.0, 3.0], "reward": np.zeros(3), "done": np.zeros(3)}, (TypeError, ValueError)),
    ({"reward": np.zeros(3), "done": np.zeros(3)}, ValueError),
    ({"action": 7, "reward": np.zeros(3), "done": np.zeros(3)}, (TypeError, ValueError)),
])
def test_bad_appended_columns_are_exceptions_and_change_nothing(columns, error):
    store = make_store(10)
    with pytest.raises(error):
        store.append_columns(columns)
    assert len(store) == 10


@pytest.mark.parametrize("index,error", [
    (10**12, IndexError), (-10**12, IndexError), ([0, 10**9], IndexError),
    (1.5, TypeError), ("a", TypeError), (np.array([0.5]), TypeError), (np.array([[0, 1]]), None),
])
def test_bad_indices(index, error):
    store = make_store(10)
    if error is None:
        assert store[index]["action"].shape == (2,)  # flattened, as the original
        return
    with pytest.raises(error):
        store[index]


@pytest.mark.parametrize("kw,needle", [
    (dict(sequence_length=10, batch_size=10**12), "batch_size"),
    (dict(sequence_length=10**12, batch_size=2), "sequence_length"),
    (dict(sequence_length=10, batch_size=2, prefetch=10**9), "prefetch"),
    (dict(sequence_length=-1, batch_size=2), "sequence_length"),
    (dict(sequence_length=10, batch_size=2, num_workers=-3), "num_workers"),
])
def test_absurd_sizes_are_errors_naming_the_argument(kw, needle):
    store = make_store()
    with pytest.raises((ValueError, MemoryError, OverflowError), match=needle) as e:
        b = PrefetchBatchifier(store, num_workers=kw.pop("num_workers", 0), **kw)
        b.next_batch()
    assert e.value is not None


@pytest.mark.parametrize("state", [
    "not json", "[]", '{"version": 1}', {"version": 99}, {"version": 1, "sampling": 3},
])
def test_garbage_checkpoints_are_value_errors(state):
    b = PrefetchBatchifier(make_store(), 10, 2, num_workers=1, seed=0)
    with pytest.raises(ValueError):
        b.restore(state)
    assert b.next_batch()["action"].shape == (2, 10)  # still usable


def test_a_store_cleared_under_a_running_batchifier_raises_or_continues():
    store = make_store(2000)
    b = PrefetchBatchifier(store, 16, 8, num_workers=2, prefetch=2, seed=1)
    b.next_batch()
    store.clear()
    outcomes = []
    for _ in range(5):
        try:
            out = b.next_batch()
            outcomes.append(out["action"].shape)
        except (ValueError, IndexError) as e:
            outcomes.append("ValueError" if isinstance(e, ValueError) else "IndexError")
    # Prefetched batches may still arrive; after that every batch is an error, not a crash.
    assert outcomes[-1] in ("ValueError", "IndexError"), outcomes
    b.close()


def test_stores_rebuilt_while_sampled_from_another_thread():
    store = make_store(3000)
    b = PrefetchBatchifier(store, 16, 8, num_workers=2, seed=2)
    stop = threading.Event()
    errors = []

    def churn():
        while not stop.is_set():
            store.clear()
            store.from_dataset(datasets.Dataset.from_dict({
                "action": [1] * 100, "reward": [0.0] * 100, "done": [0] * 100}))
            store.append_columns({"action": np.ones(50, dtype=np.int64),
                                  "reward": np.zeros(50), "done": np.zeros(50, dtype=np.int64)})

    t = threading.Thread(target=churn)
    t.start()
    try:
        for _ in range(200):
            try:
                b.next_batch()
            except (ValueError, IndexError) as e:
                errors.append(e)
    finally:
        stop.set()
        t.join()
        b.close()
