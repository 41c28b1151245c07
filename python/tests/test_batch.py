"""PrefetchBatchifier from Python over stores built from real `datasets` data: window contents,
sampling modes, iteration and closing, seeds and state, argument errors, episode padding, worker
errors, the GIL, concurrent appends, output formats and augmentation inside the workers."""

import io
import json
import math
import threading
import time

import datasets
import numpy as np
import pytest
import torch
from PIL import Image
from tensordict import TensorDict

import mouse_data
from mouse_data import (
    AugmentScalarSpec,
    AugmentTokensConfig,
    DatasetStore,
    PrefetchBatchifier,
    SampledBatch,
    TokenAugmenter,
)

NEG_INF = float("-inf")
MODES = ["random", "last", "sequential", "batch"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOUSE_DATA_CACHE", str(tmp_path / "mouse-data-cache"))


def steps(n, start=0, episode_len=None):
    """n steps whose reward is the row number, so every value says which row it came from."""
    i = np.arange(start, start + n)
    d = {
        "action": (i % 3).tolist(),
        "reward": i.astype(float).tolist(),
        "done": [0] * n if episode_len is None else [int(k % episode_len == episode_len - 1) for k in i],
        "xformed_reward": (i * 0.5).tolist(),
        "episode_step": (i % 1000 if episode_len is None else i % episode_len).tolist(),
        "metadata_q_star": [[float(k), float(k) + 0.5] for k in i],
        "observation": [[float(k), -float(k)] for k in i],
    }
    return d


def make_store(n=40, episode_len=None, **kw):
    kw.setdefault("max_action_dim", 3)
    kw.setdefault("max_obs_continuous_dim", 2)
    store = DatasetStore(**kw)
    store.from_dataset(datasets.Dataset.from_dict(steps(n, episode_len=episode_len)))
    return store


def png_bytes(arr):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


IMAGE_FEATURES = datasets.Features({
    "action": datasets.Value("int64"),
    "reward": datasets.Value("float32"),
    "done": datasets.Value("int64"),
    "observation_image": datasets.Image(),
})


def image_store(n, side, seed=0, **kw):
    rng = np.random.default_rng(seed)
    imgs = [{"bytes": png_bytes(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)), "path": None}
            for _ in range(n)]
    ds = datasets.Dataset.from_dict({"action": [k % 3 for k in range(n)],
                                     "reward": [float(k) for k in range(n)], "done": [0] * n,
                                     "observation_image": imgs}, features=IMAGE_FEATURES)
    store = DatasetStore(max_action_dim=3, max_obs_image_pixels=side * side * 3, **kw)
    store.from_dataset(ds)
    return store


def as_numpy(batch):
    return {k: np.asarray(v) for k, v in batch.items()}


def assert_same(a, b):
    a, b = as_numpy(a), as_numpy(b)
    assert set(a) == set(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert a[k].shape == b[k].shape, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def assert_window_rows(batch, store, starts, S):
    """batch[b] is store[starts[b] : starts[b] + S], value for value."""
    assert len(starts) == batch["action"].shape[0]
    for b, st in enumerate(starts):
        ref = store[list(range(st, st + S))]
        for k in ref.keys():
            np.testing.assert_array_equal(np.asarray(batch[k][b]), np.asarray(ref[k]), err_msg=k)


# --- shapes and values ---------------------------------------------------------------------------

def test_sequential_windows_are_the_store_rows_exactly():
    store = make_store(40)
    S, B = 4, 3
    with PrefetchBatchifier(store, S, B, sampling="sequential", seed=1) as bf:
        assert bf.total_batches == math.ceil((40 // S) / B) == 4
        batch = bf.next_batch()
        assert isinstance(batch, TensorDict)
        assert batch.batch_size == torch.Size([B, S])
        assert set(batch.keys()) == {"action", "reward", "done", "xformed_reward", "time", "q_star",
                                     "obs_continuous"}
        assert batch["action"].shape == (B, S) and batch["action"].dtype == torch.int64
        assert batch["reward"].dtype == torch.float32
        assert batch["q_star"].shape == (B, S, 3) and batch["q_star"].dtype == torch.float32
        assert batch["obs_continuous"].shape == (B, S, 2)
        assert batch["obs_continuous"].dtype == torch.float64
        for k in range(B):
            ref = store[k * S:(k + 1) * S]
            assert (batch[k] == ref).all(), k
        assert batch["reward"].tolist() == [[float(w * S + s) for s in range(S)] for w in range(B)]
        assert batch["q_star"][1, 2].tolist() == [6.0, 6.5, NEG_INF]


def test_sequential_epochs_short_last_batch_then_wrap():
    store = make_store(42)  # W = 10 windows of 4 (rows 40, 41 are never a window start)
    S, B = 4, 3
    with PrefetchBatchifier(store, S, B, sampling="sequential", seed=2, num_workers=2) as bf:
        assert bf.total_batches == 4
        got = [bf.next() for _ in range(9)]
    assert all(isinstance(g, SampledBatch) for g in got)
    expected_windows = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]] * 2 + [[0, 1, 2]]
    assert [g.starts for g in got] == [[w * S for w in ws] for ws in expected_windows]
    assert [g.number for g in got] == list(range(9))
    assert [g.epoch for g in got] == [0] * 4 + [1] * 4 + [2]
    assert got[3].data.batch_size == torch.Size([1, S])
    for g in got:
        assert_window_rows(g.data, store, g.starts, S)


def test_last_gives_the_last_b_windows_every_time():
    store = make_store(43)
    S, B = 5, 3  # W = 8
    with PrefetchBatchifier(store, S, B, sampling="last", seed=0) as bf:
        assert bf.total_batches == 3
        for _ in range(3):
            sb = bf.next()
            assert sb.starts == [25, 30, 35]
            assert sb.data["reward"][:, 0].tolist() == [25.0, 30.0, 35.0]
            assert_window_rows(sb.data, store, sb.starts, S)


def test_random_windows_are_consecutive_rows_within_range():
    store = make_store(40)
    S, B = 6, 8
    with PrefetchBatchifier(store, S, B, sampling="random", seed=11, num_workers=2) as bf:
        seen = set()
        for _ in range(20):
            sb = bf.next()
            assert len(sb.starts) == B
            assert all(0 <= st <= 40 - S for st in sb.starts)
            seen.update(sb.starts)
            assert_window_rows(sb.data, store, sb.starts, S)
    assert len(seen) > 10  # actually random


def test_batch_mode_visits_every_window_once_per_epoch():
    store = make_store(40)
    S, B = 4, 3
    with PrefetchBatchifier(store, S, B, sampling="batch", seed=4) as bf:
        epoch = [bf.next() for _ in range(bf.total_batches)]
        starts = sorted(st for g in epoch for st in g.starts)
        assert starts == [w * S for w in range(10)]
        assert [len(g.starts) for g in epoch] == [3, 3, 3, 1]
        for g in epoch:
            assert_window_rows(g.data, store, g.starts, S)
        second = [bf.next() for _ in range(bf.total_batches)]
        assert sorted(st for g in second for st in g.starts) == starts
        assert all(g.epoch == 1 for g in second)


@pytest.mark.parametrize("n,S,B", [(40, 4, 3), (40, 4, 10), (40, 4, 11), (41, 40, 1), (100, 7, 5)])
def test_total_batches_is_ceil_w_over_b(n, S, B):
    store = make_store(n)
    bf = PrefetchBatchifier(store, S, B, sampling="sequential", num_workers=0, seed=0)
    assert bf.total_batches == math.ceil((n // S) / B)
    bf.close()


# --- iteration and closing -----------------------------------------------------------------------

def test_iteration_with_and_close():
    store = make_store(40)
    with PrefetchBatchifier(store, 4, 2, sampling="sequential", seed=0) as bf:
        first = next(bf)
        assert first["reward"][:, 0].tolist() == [0.0, 4.0]
        # iteration runs to the end of the epoch (test_machinery.py has the rules)
        got = [batch["reward"][:, 0].tolist() for batch in bf]
        assert got == [[8.0, 12.0], [16.0, 20.0], [24.0, 28.0], [32.0, 36.0]]
        assert next(iter(bf))["reward"][:, 0].tolist() == [0.0, 4.0]
        assert not bf.closed
    assert bf.closed
    with pytest.raises(ValueError, match="close"):
        bf.next_batch()
    with pytest.raises(ValueError):
        bf.next()
    assert list(bf) == []  # a closed batchifier iterates as empty
    bf.close()  # idempotent
    assert bf.closed


@pytest.mark.parametrize("workers", [0, 1, 3])
def test_next_batch_after_close_is_value_error(workers):
    bf = PrefetchBatchifier(make_store(40), 4, 2, num_workers=workers, prefetch=2, seed=0)
    bf.next_batch()
    time.sleep(0.01)  # let workers fill the queue
    bf.close()
    with pytest.raises(ValueError):
        bf.next_batch()


# --- seeds and state -----------------------------------------------------------------------------

@pytest.mark.parametrize("sampling", MODES)
def test_same_seed_same_batches_whatever_num_workers(sampling):
    store = make_store(60)
    runs = []
    for workers in (0, 1, 2):
        with PrefetchBatchifier(store, 4, 3, sampling=sampling, num_workers=workers, prefetch=3,
                                seed=1234) as bf:
            assert bf.seed == 1234
            runs.append([bf.next() for _ in range(8)])
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert a.starts == b.starts
            assert (a.number, a.epoch) == (b.number, b.epoch)
            assert_same(a.data, b.data)


def test_different_seeds_differ_and_default_seed_is_drawn():
    store = make_store(200)
    a = PrefetchBatchifier(store, 4, 8, seed=1, num_workers=0)
    b = PrefetchBatchifier(store, 4, 8, seed=2, num_workers=0)
    assert [a.next().starts for _ in range(3)] != [b.next().starts for _ in range(3)]
    c = PrefetchBatchifier(store, 4, 8, num_workers=0)
    assert isinstance(c.seed, int)
    for x in (a, b, c):
        x.close()


@pytest.mark.parametrize("sampling", MODES)
def test_state_and_restore_continue_exactly(sampling):
    store = make_store(60)
    with PrefetchBatchifier(store, 4, 4, sampling=sampling, num_workers=2, seed=77) as bf:
        for _ in range(5):
            bf.next()
        state = bf.state()
        json.dumps(state)  # JSON-serialisable
        ref = [bf.next() for _ in range(7)]
    for workers, st in ((0, state), (2, json.dumps(state))):
        with PrefetchBatchifier(store, 4, 4, sampling=sampling, num_workers=workers,
                                seed=77) as again:
            again.next()  # wherever it stands, restore resets it
            again.restore(st)
            got = [again.next() for _ in range(7)]
        for a, b in zip(ref, got):
            assert a.starts == b.starts
            assert (a.number, a.epoch) == (b.number, b.epoch)
            assert_same(a.data, b.data)


def test_restore_of_another_configuration_is_value_error():
    store = make_store(60)
    with PrefetchBatchifier(store, 4, 4, sampling="sequential", seed=1, num_workers=0) as bf:
        bf.next()
        state = bf.state()
    with PrefetchBatchifier(store, 5, 4, sampling="sequential", seed=1, num_workers=0) as other:
        with pytest.raises(ValueError):
            other.restore(state)


# --- argument errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,word", [
    (dict(sequence_length=0, batch_size=2), "sequence_length"),
    (dict(sequence_length=-3, batch_size=2), "sequence_length"),
    (dict(sequence_length=4, batch_size=0), "batch_size"),
    (dict(sequence_length=4, batch_size=-1), "batch_size"),
    (dict(sequence_length=4, batch_size=2, prefetch=0), "prefetch"),
    (dict(sequence_length=4, batch_size=2, num_workers=-1), "num_workers"),
    (dict(sequence_length=4, batch_size=2, sampling="shuffle"), "sampling"),
    (dict(sequence_length=41, batch_size=1), "sequence_length"),
    (dict(sequence_length=4, batch_size=11, sampling="last"), "batch_size"),
    (dict(sequence_length=4, batch_size=2, boundaries="steps"), "boundaries"),
])
def test_constructor_errors_name_the_argument(kwargs, word):
    store = make_store(40)
    with pytest.raises(ValueError, match=word):
        PrefetchBatchifier(store, **kwargs)


def test_constructor_needs_a_datasetstore():
    with pytest.raises(TypeError):
        PrefetchBatchifier(datasets.Dataset.from_dict(steps(10)), 2, 2)


def test_empty_store_is_shorter_than_s():
    with pytest.raises(ValueError, match="sequence_length"):
        PrefetchBatchifier(DatasetStore(max_action_dim=3), 1, 1)


# --- episode boundaries --------------------------------------------------------------------------

@pytest.mark.parametrize("workers", [0, 2])
def test_episode_boundaries_pad_short_episodes(workers):
    store = make_store(40, episode_len=7)
    S, B = 5, 2
    with PrefetchBatchifier(store, S, B, sampling="sequential", boundaries="episode", seed=0,
                            num_workers=workers) as bf:
        sb = bf.next()
        batch = sb.data
    # episode 0 = rows 0..6: a full window [0, 5) and a padded one [5, 7) + 3 pad positions
    assert sb.starts == [0, 5]
    assert batch.batch_size == torch.Size([B, S])
    assert batch["mask"].dtype == torch.bool
    assert batch["mask"].tolist() == [[True] * 5, [True, True, False, False, False]]
    real = batch["mask"]
    pad = ~real
    # real positions hold the rows
    assert batch["reward"][0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert batch["reward"][1, :2].tolist() == [5.0, 6.0]
    assert batch["done"][1, :2].tolist() == [0, 1]
    assert batch["time"][1, :2].tolist() == [5, 6]
    assert batch["q_star"][1, 1].tolist() == [6.0, 6.5, NEG_INF]
    # padded positions: zeros, q_star -inf, time -1
    for key in ("action", "reward", "done", "xformed_reward", "obs_continuous"):
        assert (batch[key][pad] == 0).all(), key
    assert (batch["q_star"][pad] == NEG_INF).all()
    assert (batch["time"][pad] == -1).all()
    assert (batch["time"][real] >= 0).all()


def test_episode_windows_never_cross_an_episode_end():
    store = make_store(60, episode_len=9)
    with PrefetchBatchifier(store, 4, 8, sampling="random", boundaries="episode", seed=5) as bf:
        for _ in range(10):
            batch = bf.next_batch()
            r = batch["reward"].numpy()
            m = batch["mask"].numpy()
            for b in range(8):
                rows = r[b][m[b]].astype(int)
                assert len(rows) >= 1 and m[b][0]
                assert (np.diff(rows) == 1).all()
                assert len(set(rows // 9)) == 1  # one episode
                assert not m[b][len(rows):].any()  # padding only at the end


# --- worker errors -------------------------------------------------------------------------------

def corrupt_image_store():
    n = 20
    ds = datasets.Dataset.from_dict({
        "action": [0] * n, "reward": [0.0] * n, "done": [0] * n,
        "observation_image": [{"bytes": b"\x89PNG\r\n\x1a\n this is no png", "path": None}] * n,
    }, features=IMAGE_FEATURES)
    # No frame cache: the frames are decoded when sampled, so the error comes from a worker.
    store = DatasetStore(max_action_dim=3, max_obs_image_pixels=12, image_cache=False)
    store.from_dataset(ds)
    return store


def test_by_default_a_frame_that_does_not_decode_is_an_error_at_load():
    """The default frame cache decodes every frame at from_dataset: a bad one is refused there,
    naming the column and the row, and the store stays empty."""
    n = 5
    frames = [{"bytes": png_bytes(np.full((2, 2, 3), i, np.uint8)), "path": None} for i in range(n)]
    frames[3] = {"bytes": b"\x89PNG\r\n\x1a\n this is no png", "path": None}
    ds = datasets.Dataset.from_dict({"action": [0] * n, "reward": [0.0] * n, "done": [0] * n,
                                     "observation_image": frames}, features=IMAGE_FEATURES)
    store = DatasetStore(max_action_dim=3, max_obs_image_pixels=12)
    with pytest.raises(mouse_data.FormatError, match="observation_image.*row 3"):
        store.from_dataset(ds)
    assert len(store) == 0


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_worker_error_is_reraised_with_type_and_message(workers):
    assert issubclass(mouse_data.FormatError, ValueError)
    store = corrupt_image_store()
    with PrefetchBatchifier(store, 4, 2, seed=0, num_workers=workers) as bf:
        with pytest.raises(mouse_data.FormatError) as info:
            bf.next_batch()
        msg = str(info.value)
        assert "observation_image" in msg and "PNG" in msg
    with pytest.raises(mouse_data.FormatError, match="observation_image"):
        store[[0]]  # the same error as indexing gives


# --- the GIL -------------------------------------------------------------------------------------

class Counter:
    """A pure-Python busy loop (it needs the GIL to make progress) that records when it ran."""

    def __init__(self):
        self.count = 0
        self.stamps = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        clock = time.perf_counter
        while not self.stop:
            self.count += 1
            if self.count % 200 == 0:
                self.stamps.append(clock())

    def __enter__(self):
        self.thread.start()
        while self.count < 1000:  # running
            time.sleep(0.001)
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()

    def ran_during(self, t0, t1):
        """Stamps in the middle half of [t0, t1] (the Python wrapper code sits at the ends)."""
        lo, hi = t0 + (t1 - t0) * 0.25, t0 + (t1 - t0) * 0.75
        return sum(lo <= t <= hi for t in list(self.stamps))


def timed_calls(fn, min_total=0.3, max_calls=40):
    """Calls fn until at least min_total seconds were spent inside it; returns the intervals."""
    intervals, total = [], 0.0
    while total < min_total and len(intervals) < max_calls:
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        intervals.append((t0, t1))
        total += t1 - t0
    return intervals


def test_next_batch_releases_the_gil_on_a_large_image_batch():
    store = image_store(64, 48, obs_image_dtype="uint8")
    bf = PrefetchBatchifier(store, 16, 48, num_workers=0, seed=0)  # decodes on this thread
    bf.next_batch()  # warm up
    with Counter() as c:
        intervals = timed_calls(bf.next_batch)
    bf.close()
    ran = sum(c.ran_during(t0, t1) for t0, t1 in intervals)
    # With the GIL held the counter could not advance at all in the middle of a call.
    assert ran >= 20, (ran, intervals[:3])


def test_next_batch_waiting_on_workers_releases_the_gil():
    store = image_store(64, 48, obs_image_dtype="uint8")
    bf = PrefetchBatchifier(store, 16, 48, num_workers=1, prefetch=1, seed=0)
    with Counter() as c:
        intervals = timed_calls(bf.next_batch, min_total=0.2)
    bf.close()
    assert sum(c.ran_during(t0, t1) for t0, t1 in intervals) >= 20


def test_store_indexing_releases_the_gil_on_a_big_index_list():
    store = image_store(64, 48, obs_image_dtype="uint8")
    idx = np.tile(np.arange(64), 12)  # 768 rows to decode in one call
    store[idx[:10]]
    with Counter() as c:
        intervals = timed_calls(lambda: store[idx])
    assert sum(c.ran_during(t0, t1) for t0, t1 in intervals) >= 20


# --- concurrency ---------------------------------------------------------------------------------

def test_sampling_threads_while_one_thread_appends():
    n0, extra = 200, 600
    store = DatasetStore(max_action_dim=3)
    store.from_dataset(datasets.Dataset.from_dict({
        "action": [k % 3 for k in range(n0)], "reward": [float(k) for k in range(n0)],
        "done": [0] * n0}))
    S, B = 8, 16
    errors, checked = [], [0] * 4
    saw_appended = set()
    stop = threading.Event()

    def appender():
        try:
            for k in range(n0, n0 + extra):
                store.append({"action": k % 3, "reward": float(k), "done": 0})
                if k % 10 == 0:
                    time.sleep(0.004)  # spread the appends over the samplers' run
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
        finally:
            stop.set()

    def check_rows(reward, action, done):
        rows = reward.astype(np.int64)
        assert (rows.astype(np.float64) == reward).all()
        assert ((0 <= rows) & (rows < n0 + extra)).all()
        np.testing.assert_array_equal(action, rows % 3)
        assert (done == 0).all()
        if rows.max() >= n0:
            saw_appended.add(threading.get_ident())
        return rows

    def batch_sampler(slot, workers):
        try:
            with PrefetchBatchifier(store, S, B, seed=slot, num_workers=workers, prefetch=2,
                                    format="numpy") as bf:
                while not stop.is_set() or checked[slot] < 10:
                    b = bf.next_batch()
                    assert b["reward"].shape == (B, S) and b["action"].shape == (B, S)
                    rows = check_rows(b["reward"], b["action"], b["done"])
                    assert (np.diff(rows, axis=1) == 1).all()  # consecutive rows
                    checked[slot] += 1
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    def index_sampler(slot):
        rng = np.random.default_rng(slot)
        try:
            while not stop.is_set() or checked[slot] < 10:
                n = len(store)
                idx = rng.integers(0, n, 64)
                td = store[idx]
                assert td["reward"].shape == (64,)
                rows = check_rows(td["reward"].numpy(), td["action"].numpy(), td["done"].numpy())
                np.testing.assert_array_equal(rows, idx)
                checked[slot] += 1
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=appender),
               threading.Thread(target=batch_sampler, args=(0, 1)),
               threading.Thread(target=batch_sampler, args=(1, 0)),
               threading.Thread(target=index_sampler, args=(2,)),
               threading.Thread(target=index_sampler, args=(3,))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[0]
    assert len(store) == n0 + extra
    assert all(c >= 10 for c in checked)
    assert saw_appended  # samplers saw rows appended while they ran
    # the appended rows are sampled afterwards too
    with PrefetchBatchifier(store, S, B, sampling="last", seed=0, num_workers=0) as bf:
        last = bf.next_batch()
    assert last["reward"][-1, -1].item() == float((n0 + extra) // S * S - 1)


# --- output formats ------------------------------------------------------------------------------

def test_default_format_is_tensordict_of_torch_tensors():
    with PrefetchBatchifier(make_store(40), 4, 2, seed=0) as bf:
        batch = bf.next_batch()
    assert isinstance(batch, TensorDict)
    assert all(isinstance(v, torch.Tensor) for v in batch.values())
    assert batch.device is None or str(batch.device) == "cpu"


def test_numpy_format_gives_dicts_of_arrays_equal_to_torch():
    store = make_store(40)
    with PrefetchBatchifier(store, 4, 3, seed=9, format="numpy", num_workers=0) as bf:
        nb = bf.next_batch()
    with PrefetchBatchifier(store, 4, 3, seed=9, num_workers=0) as bf:
        tb = bf.next_batch()
    assert type(nb) is dict
    assert all(isinstance(v, np.ndarray) for v in nb.values())
    assert nb["action"].dtype == np.int64 and nb["reward"].dtype == np.float32
    assert nb["q_star"].shape == (3, 4, 3)
    assert_same(nb, tb)


def test_store_format_numpy_is_the_batchifier_default():
    store = DatasetStore(max_action_dim=3, format="numpy")
    store.from_dataset(datasets.Dataset.from_dict(steps(20)))
    with PrefetchBatchifier(store, 4, 2, seed=0) as bf:
        assert type(bf.next_batch()) is dict
        assert type(bf.next().data) is dict


# --- augmentation inside the workers -------------------------------------------------------------

def augmenter(seed=3):
    cfg = AugmentTokensConfig(permute_action="input",
                              scale_reward=AugmentScalarSpec(1.0, low=2.0, high=2.0))
    return TokenAugmenter(cfg, 3, 1, "cpu", seed=seed)


def test_augmenter_applies_inside_workers_reproducibly():
    store = make_store(60)
    runs = []
    for workers in (0, 2):
        with PrefetchBatchifier(store, 5, 4, seed=21, num_workers=workers,
                                augmenter=augmenter()) as bf:
            runs.append([bf.next() for _ in range(6)])
    with PrefetchBatchifier(store, 5, 4, seed=21, num_workers=0) as plain_bf:
        plain = [plain_bf.next() for _ in range(6)]
    for a, b, p in zip(runs[0], runs[1], plain):
        assert a.starts == b.starts == p.starts
        assert_same(a.data, b.data)
        # reward scaled by exactly 2, other fields untouched
        np.testing.assert_array_equal(a.data["reward"].numpy(), p.data["reward"].numpy() * 2)
        np.testing.assert_array_equal(a.data["q_star"].numpy(), p.data["q_star"].numpy())
        # per row, actions are mapped through one permutation of {0, 1, 2}
        for row in range(4):
            mapping = {}
            for old, new in zip(p.data["action"][row].tolist(), a.data["action"][row].tolist()):
                assert mapping.setdefault(old, new) == new
            assert len(set(mapping.values())) == len(mapping)
            assert set(mapping.values()) <= {0, 1, 2}
    # not the identity everywhere
    assert any((a.data["action"] != p.data["action"]).any() for a, p in zip(runs[0], plain))


def test_a_disabled_augmenter_changes_nothing():
    store = make_store(40)
    off = TokenAugmenter(AugmentTokensConfig(enabled=False, permute_action="both"), 3, 1, "cpu")
    with PrefetchBatchifier(store, 4, 3, seed=2, augmenter=off, num_workers=0) as a, \
            PrefetchBatchifier(store, 4, 3, seed=2, num_workers=0) as b:
        for _ in range(3):
            assert_same(a.next_batch(), b.next_batch())
