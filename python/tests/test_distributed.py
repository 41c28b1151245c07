"""Several processes and several stores: PrefetchBatchifier under torchrun (2 ranks, gloo, CPU)
deals each epoch's windows disjointly and completely, gives each rank its own random stream, and
resumes per rank; rank / world size from arguments, torch.distributed or RANK / WORLD_SIZE; stores
mixed by weight, windows never spanning two of them."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest

from mouse_data import DatasetStore, PrefetchBatchifier

WORKER = Path(__file__).with_name("torchrun_worker.py")


def steps(n, start=0):
    """n steps whose reward is the row number plus `start`."""
    i = np.arange(start, start + n)
    return {
        "action": (i % 3).tolist(),
        "reward": i.astype(float).tolist(),
        "done": [0] * n,
        "observation": [[float(k), -float(k)] for k in i],
    }


def store_of(n, start=0, **kw):
    kw.setdefault("max_action_dim", 3)
    kw.setdefault("max_obs_continuous_dim", 2)
    store = DatasetStore(format="numpy", **kw)
    store.from_dataset(datasets.Dataset.from_dict(steps(n, start)))
    return store


# --- torchrun ------------------------------------------------------------------------------------


def torchrun(phase, data, out):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(WORKER), phase, str(data), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{phase}: {proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads((out / f"{phase}.json").read_text())


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    root = tmp_path_factory.mktemp("torchrun")
    data = root / "data"
    # 8 * 75 + 5 rows: 75 windows of 8, an odd count for 2 ranks.
    datasets.Dataset.from_dict(steps(605)).save_to_disk(str(data))
    return {phase: torchrun(phase, data, root) for phase in ("epoch", "save", "resume")}


def test_one_sequential_epoch_covers_every_window_once_across_ranks(launched):
    r = launched["epoch"]
    rank0, rank1 = r["epoch"]
    assert len(rank0) == len(rank1) == 38  # ceil(75 / 2): rank 1 gets window 0 again
    assert r["batches"] == [10, 10] and r["next_epoch"] == [1, 1]
    assert sorted(set(rank0) | set(rank1)) == [8 * w for w in range(75)]
    assert not set(rank0) & set(rank1[:-1])
    assert rank0 == [8 * w for w in range(0, 75, 2)]
    assert rank1 == [8 * w for w in range(1, 75, 2)] + [0]


def test_random_streams_differ_between_ranks_and_repeat_for_a_seed(launched):
    (r0_w0, r0_w2), (r1_w0, r1_w2) = launched["epoch"]["random"]
    assert r0_w0 == r0_w2 and r1_w0 == r1_w2  # same seed and rank: same batch, any workers
    assert r0_w0 != r1_w0


def test_state_taken_mid_epoch_on_each_rank_resumes_in_a_new_launch(launched):
    seeds = launched["save"]["seed"]
    assert seeds[0] == seeds[1]  # rank 0's seed was broadcast
    assert launched["resume"]["got"] == launched["save"]["expected"]
    e0, e1 = launched["save"]["expected"]
    assert not set(e0[0]) & set(e1[0])  # the shared permutation is dealt, not repeated


# --- rank and world size in one process ----------------------------------------------------------


def test_rank_comes_from_the_environment(monkeypatch):
    store = store_of(200)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    b = PrefetchBatchifier(store, 10, 2, sampling="sequential", num_workers=0)
    assert (b.rank, b.world_size) == (1, 2)
    assert b.next().starts == [10, 30]
    assert b.total_batches == 5
    explicit = PrefetchBatchifier(store, 10, 2, sampling="sequential", rank=0, world_size=1)
    assert explicit.total_batches == 10
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(ValueError, match="RANK must be an integer, got 'one'"):
        PrefetchBatchifier(store, 10, 2)


def test_rank_errors(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    store = store_of(200)
    assert PrefetchBatchifier(store, 10, 2).world_size == 1
    with pytest.raises(ValueError, match="rank was given without world_size"):
        PrefetchBatchifier(store, 10, 2, rank=1)
    with pytest.raises(ValueError, match=r"rank must be in \[0, world_size 2\), got 3"):
        PrefetchBatchifier(store, 10, 2, rank=3, world_size=2)
    with pytest.raises(ValueError, match="needs a seed"):
        PrefetchBatchifier(store, 10, 2, sampling="batch", rank=0, world_size=2)
    with pytest.raises(ValueError, match="cannot be split over world_size 40 with drop_last"):
        PrefetchBatchifier(store, 10, 2, sampling="sequential", rank=0, world_size=40,
                           drop_last=True)


def test_drop_last_and_padding_keep_ranks_in_step():
    store = store_of(230)  # 23 windows of 10
    for drop_last, per_rank in ((False, 6), (True, 5)):
        seen = []
        for rank in range(4):
            b = PrefetchBatchifier(store, 10, 4, sampling="sequential", rank=rank, world_size=4,
                                   drop_last=drop_last, num_workers=0)
            assert b.total_batches == 2
            starts = b.next().starts + b.next().starts
            assert len(starts) == per_rank
            seen += starts
        assert len(set(seen)) == (23 if not drop_last else 20)


def test_restoring_another_world_size_is_an_error():
    store = store_of(200)
    b = PrefetchBatchifier(store, 10, 2, sampling="sequential", rank=1, world_size=2)
    b.next()
    state = b.state()
    assert (state["rank"], state["world_size"]) == (1, 2)
    other = PrefetchBatchifier(store, 10, 2, sampling="sequential", rank=1, world_size=4)
    with pytest.raises(ValueError, match="rank 1 of world_size 2.*rank 1 of world_size 4"):
        other.restore(state)


# --- several stores ------------------------------------------------------------------------------

OFFSET = 100_000  # rewards of store 1 start here, so a window's rewards tell its store


def draw_stores(b, batches):
    counts = np.zeros(2, dtype=np.int64)
    for _ in range(batches):
        sb = b.next()
        counts += np.bincount(sb.stores, minlength=2)
    return counts


@pytest.mark.parametrize("mode,weights,lengths,p1", [
    ("per_store", (1, 3), (2000, 6000), 0.75),
    ("per_store", (1, 3), (6000, 2000), 0.75),
    ("per_step", (1, 1), (2000, 6000), 0.75),
    ("per_step", (3, 1), (2000, 6000), 0.5),
])
def test_store_frequencies_follow_the_weights(mode, weights, lengths, p1):
    stores = [store_of(lengths[0]), store_of(lengths[1], OFFSET)]
    b = PrefetchBatchifier(stores=stores, sequence_length=4, batch_size=1000, seed=3,
                           weights=weights, weight_mode=mode, num_workers=2)
    counts = draw_stores(b, 100)  # 100k draws
    n = counts.sum()
    assert abs(counts[1] - p1 * n) <= 4 * math.sqrt(n * p1 * (1 - p1)), counts


def test_windows_never_span_two_stores():
    stores = [store_of(50), store_of(23, OFFSET)]
    b = PrefetchBatchifier([stores[0], stores[1]], 10, 64, seed=1, num_workers=2)
    seen = set()
    for _ in range(20):
        sb = b.next()
        rewards = sb.data["reward"]
        for k, (start, store) in enumerate(zip(sb.starts, sb.stores)):
            seen.add(store)
            assert start + 10 <= (50, 23)[store]
            first = start + (OFFSET if store else 0)
            assert rewards[k].tolist() == [float(first + j) for j in range(10)]
    assert seen == {0, 1}


def test_sequential_visits_every_store_once_per_epoch_and_is_deterministic():
    stores = [store_of(55), store_of(37, OFFSET)]
    for sampling in ("sequential", "batch"):
        runs = []
        for workers in (0, 2):
            b = PrefetchBatchifier(stores=stores, sequence_length=10, batch_size=3,
                                   sampling=sampling, seed=9, num_workers=workers)
            assert b.total_batches == 3
            got = []
            for _ in range(3):
                sb = b.next()
                got += list(zip(sb.stores, sb.starts))
            runs.append(got)
        assert runs[0] == runs[1]
        assert sorted(runs[0]) == [(0, 0), (0, 10), (0, 20), (0, 30), (0, 40), (1, 0), (1, 10),
                                   (1, 20)]


def test_stores_that_encode_differently_are_refused_by_column():
    a = store_of(100)
    b = store_of(100, max_obs_continuous_dim=3)
    with pytest.raises(ValueError, match=r'column "obs_continuous" is float64 \[3\] in store 1 '
                                         r'but float64 \[2\] in store 0'):
        PrefetchBatchifier(stores=[a, b], sequence_length=10, batch_size=2)


def test_mixing_argument_errors():
    a, b = store_of(100), store_of(100)
    with pytest.raises(ValueError, match="weights has 1 entries for 2 stores"):
        PrefetchBatchifier(stores=[a, b], sequence_length=10, batch_size=2, weights=[1])
    with pytest.raises(ValueError, match=r"weights\[1\] must be finite and >= 0, got -2"):
        PrefetchBatchifier(stores=[a, b], sequence_length=10, batch_size=2, weights=[1, -2])
    with pytest.raises(ValueError, match="weight_mode must be"):
        PrefetchBatchifier(stores=[a, b], sequence_length=10, batch_size=2, weight_mode="rows")
    with pytest.raises(TypeError, match=r"stores\[1\] must be a mouse_data.DatasetStore, got int"):
        PrefetchBatchifier(stores=[a, 3], sequence_length=10, batch_size=2)
    with pytest.raises(TypeError, match="store or stores, not both"):
        PrefetchBatchifier(a, 10, 2, stores=[a, b])
    with pytest.raises(ValueError, match="stores is empty"):
        PrefetchBatchifier(stores=[], sequence_length=10, batch_size=2)
    with pytest.raises(TypeError, match="store must be a mouse_data.DatasetStore"):
        PrefetchBatchifier("store", 10, 2)


def test_a_store_without_rows_joins_once_it_has_some():
    full = store_of(100)
    agent = DatasetStore(max_action_dim=3, max_obs_continuous_dim=2, format="numpy")
    b = PrefetchBatchifier(stores=[full, agent], sequence_length=10, batch_size=64, seed=2,
                           num_workers=0)
    assert set(b.next().stores) == {0}
    agent.append_columns(steps(40, OFFSET))
    assert set(b.next().stores) == {0, 1}


def test_the_torchrun_example_trains_and_checkpoints_each_rank(tmp_path):
    example = Path(__file__).resolve().parents[2] / "examples" / "python" / "torchrun_train.py"
    data = tmp_path / "cartpole"
    subprocess.run(["mouse-data", "generate", "cartpole", str(data), "--steps", "3000"],
                   check=True, capture_output=True)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    ckpt = tmp_path / "ckpt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(example), str(data), "--checkpoint", str(ckpt), "--max-steps", "3",
           "--sequence-length", "16", "--batch-size", "8"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "2 ranks x 3 steps of [8, 16] windows" in proc.stdout
    states = [json.loads((ckpt / f"batchifier-rank{r}.json").read_text()) for r in (0, 1)]
    assert [(s["rank"], s["world_size"], s["batches"]) for s in states] == [(0, 2, 3), (1, 2, 3)]
    assert (ckpt / "model.pt").is_file()
