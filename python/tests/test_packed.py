"""Variable-length windows and packed batches from Python (SPEC §5.1): packed columns cut by
cu_seqlens are the store rows at the returned starts for every sampling mode x lengths x
boundaries x worker count, max_tokens batches have exactly N rows, the same seed gives the same
packed batches with 0, 1 or 3 workers, state / restore, the NumPy format, argument errors, the
preparer thread, and augmentation of a packed batch against the same windows padded."""

import datasets
import numpy as np
import pytest
import torch

from mouse_data import (
    AugmentMaskProbConfig,
    AugmentScalarSpec,
    AugmentTokensConfig,
    DatasetStore,
    PrefetchBatchifier,
    TokenAugmenter,
)

MODES = ["random", "last", "sequential", "batch"]
LENGTHS = ["fixed", "ragged", "uniform"]
BOUNDARIES = ["none", "source", "episode"]
S = 5


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOUSE_DATA_CACHE", str(tmp_path / "mouse-data-cache"))


def episode_dones(lengths):
    out = []
    for n in lengths:
        out += [0] * (n - 1) + [1]
    return out


def steps(start, dones):
    """Rows whose reward is the global row number, with the given done flags."""
    n = len(dones)
    i = np.arange(start, start + n)
    return {
        "action": (i % 3).tolist(),
        "reward": i.astype(float).tolist(),
        "done": dones,
        "episode_step": (i % 50).tolist(),
        "metadata_q_star": [[float(k), float(k) + 0.5, 1.0] for k in i],
        "observation": [[float(k), -float(k)] for k in i],
    }


def make_store():
    """Two loaded sources with episodes of assorted lengths (some shorter than S)."""
    store = DatasetStore(max_action_dim=3, max_obs_continuous_dim=2)
    a = episode_dones([3, 9, 1, 14, 6, 2, 20, 5])
    b = episode_dones([7, 4, 11, 2, 8])
    store.from_dataset(datasets.Dataset.from_dict(steps(0, a)))
    store.from_dataset(datasets.Dataset.from_dict(steps(len(a), b)))
    return store


def unit_ends(store, boundaries):
    ends = set()
    n = len(store)
    if boundaries != "none":
        ends.update(store._core.segment_starts()[1:])
    if boundaries == "episode":
        done = np.asarray(store[list(range(n))]["done"])
        ends.update((np.nonzero(done)[0] + 1).tolist())
    ends.add(n)
    return sorted(ends)


def end_after(ends, start):
    return next(e for e in ends if e > start)


def check_packed(sb, ends, lengths, total_rows=None):
    d = sb.data
    assert d.batch_size == torch.Size([])
    cu = d["cu_seqlens"]
    assert cu.dtype == torch.int32 and cu[0] == 0
    seqs = d["lengths"].shape[0]
    assert cu.shape == (seqs + 1,) and seqs >= len(sb.starts)
    assert len(sb.lengths) == len(sb.starts)
    n = d["reward"].shape[0]
    if total_rows is not None:
        assert n == total_rows
    assert d["observation"].shape == (n, 2) if "observation" in d.keys() else True
    for b, (start, length) in enumerate(zip(sb.starts, sb.lengths)):
        lo, hi = int(cu[b]), int(cu[b + 1])
        assert hi - lo == length == int(d["lengths"][b])
        assert 1 <= length <= S
        assert start + length <= end_after(ends, start)
        if lengths == "ragged":
            assert length == min(S, end_after(ends, start) - start)
        rows = np.arange(start, start + length, dtype=np.float32)
        np.testing.assert_array_equal(d["reward"][lo:hi].numpy(), rows)
        np.testing.assert_array_equal(d["obs_continuous"][lo:hi, 1].numpy(), -rows)
        np.testing.assert_array_equal(d["sequence_id"][lo:hi].numpy(), np.full(length, b))
        np.testing.assert_array_equal(d["position"][lo:hi].numpy(), np.arange(length))


@pytest.mark.parametrize("sampling", MODES)
@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("boundaries", BOUNDARIES)
def test_packed_columns_cut_by_cu_seqlens_are_the_rows_at_the_starts(sampling, lengths,
                                                                      boundaries):
    store = make_store()
    ends = unit_ends(store, boundaries)
    runs = []
    for workers in (0, 1, 3):
        bf = PrefetchBatchifier(store, S, 4, sampling, num_workers=workers, seed=5,
                                boundaries=boundaries, lengths=lengths, min_length=2,
                                layout="packed")
        seen = []
        for _ in range(10):
            sb = bf.next()
            check_packed(sb, ends, lengths, total_rows=sum(sb.lengths))
            assert sb.efficiency == 1.0
            seen.append((sb.starts, sb.lengths, sb.data["reward"].tolist()))
        bf.close()
        runs.append(seen)
    assert runs[0] == runs[1] == runs[2]


@pytest.mark.parametrize("sampling", MODES)
@pytest.mark.parametrize("lengths", LENGTHS)
def test_max_tokens_batches_have_exactly_n_rows(sampling, lengths):
    store = make_store()
    ends = unit_ends(store, "episode")
    for batch_size in (None, 6):
        bf = PrefetchBatchifier(store, S, batch_size, sampling, seed=2, boundaries="episode",
                                lengths=lengths, layout="packed", max_tokens=23)
        for _ in range(6):
            sb = bf.next()
            d = sb.data
            real = sum(sb.lengths)
            assert d["reward"].shape == (23,) and d["sequence_id"].shape == (23,)
            assert sb.efficiency == pytest.approx(real / 23)
            if batch_size is not None:
                assert d["cu_seqlens"].shape == (batch_size + 1,)
                assert d["lengths"].shape == (batch_size,)
                assert d["lengths"][len(sb.starts):].eq(0).all()
            assert d["sequence_id"][real:].eq(-1).all() and d["position"][real:].eq(-1).all()
            assert d["reward"][real:].eq(0).all()
            assert torch.isneginf(d["q_star"][real:]).all()
            if sampling == "random" and lengths != "fixed" and (
                    batch_size is None or len(sb.starts) < batch_size):
                assert real == 23
            check_packed(sb, ends, "uniform", total_rows=23)
        bf.close()


def test_same_seed_same_packed_batches_and_exact_restore():
    store = make_store()

    def run(workers, count, state=None):
        bf = PrefetchBatchifier(store, S, 4, seed=9, num_workers=workers, lengths="uniform",
                                boundaries="episode", layout="packed", max_tokens=17)
        if state is not None:
            bf.restore(state)
        out = [(b["reward"].tolist(), b["lengths"].tolist()) for b in
               (bf.next_batch() for _ in range(count))]
        st = bf.state()
        bf.close()
        return out, st

    full, _ = run(0, 8)
    assert run(1, 8)[0] == full and run(3, 8)[0] == full
    head, st = run(2, 3)
    assert st["lengths"] == "uniform" and st["max_tokens"] == 17 and st["layout"] == "packed"
    tail, _ = run(3, 5, st)
    assert head + tail == full
    other = PrefetchBatchifier(store, S, 4, seed=9, boundaries="episode", layout="packed")
    with pytest.raises(ValueError, match="lengths"):
        other.restore(st)


def test_padded_layout_reports_lengths_and_masks_ragged_windows():
    store = make_store()
    bf = PrefetchBatchifier(store, S, 8, "sequential", seed=1, lengths="ragged",
                            boundaries="episode")
    sb = bf.next()
    assert sb.data.batch_size == torch.Size([8, S])
    mask = sb.data["mask"]
    for b, (start, length) in enumerate(zip(sb.starts, sb.lengths)):
        assert mask[b].sum() == length
        np.testing.assert_array_equal(sb.data["reward"][b, :length].numpy(),
                                      np.arange(start, start + length, dtype=np.float32))
    assert sb.efficiency == pytest.approx(sum(sb.lengths) / (8 * S))
    plain = PrefetchBatchifier(store, S, 3, seed=1).next()
    assert plain.lengths == [S] * 3 and plain.efficiency == 1.0


def test_numpy_format_has_the_same_keys():
    store = make_store()
    bf = PrefetchBatchifier(store, S, 4, seed=1, lengths="ragged", layout="packed",
                            max_tokens=20, format="numpy")
    d = bf.next_batch()
    assert isinstance(d, dict)
    assert {"sequence_id", "position", "cu_seqlens", "lengths", "reward"} <= set(d)
    assert d["cu_seqlens"].dtype == np.int32 and d["reward"].shape == (20,)


@pytest.mark.parametrize("kwargs, needle", [
    (dict(lengths="short"), "lengths must be one of 'fixed', 'ragged', 'uniform', got 'short'"),
    (dict(layout="flat"), "layout must be one of 'padded', 'packed', got 'flat'"),
    (dict(layout="packed", lengths="nope"), "lengths must be one of"),
    (dict(max_tokens=64), 'max_tokens 64 needs layout "packed"'),
    (dict(layout="packed", max_tokens=3), "max_tokens must be >= sequence_length 5"),
    (dict(lengths="uniform", min_length=6), r"min_length must be in \[1, sequence_length 5\], got 6"),
    (dict(lengths="uniform", min_length=0), r"min_length must be in \[1, sequence_length 5\], got 0"),
])
def test_bad_options_raise_value_error_naming_them(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        PrefetchBatchifier(make_store(), S, 4, **kwargs)


def test_batch_size_none_needs_max_tokens():
    with pytest.raises(TypeError, match="batch_size may be None only with max_tokens"):
        PrefetchBatchifier(make_store(), S, None, layout="packed")


def test_preparer_runs_on_a_thread_and_keeps_order_state_and_errors():
    store = make_store()
    plain = PrefetchBatchifier(store, S, 4, seed=3, lengths="ragged", layout="packed",
                               max_tokens=16)
    expected = [plain.next_batch()["reward"].sum().item() for _ in range(6)]
    seen_threads = set()

    def prep(td):
        import threading

        seen_threads.add(threading.current_thread().name)
        return td["reward"].sum().item()

    bf = PrefetchBatchifier(store, S, 4, seed=3, lengths="ragged", layout="packed",
                            max_tokens=16, preparer=prep)
    got = [bf.next_batch() for _ in range(3)]
    st = bf.state()
    assert st["batches"] == 3
    sb = bf.next()
    assert sb.data == expected[3] and sb.number == 3 and sum(sb.lengths) == 16
    bf.restore(st)
    got += [bf.next_batch() for _ in range(3)]
    assert got == expected
    assert seen_threads == {"mouse-data-preparer"}
    bf.close()
    with pytest.raises(ValueError, match="after close"):
        bf.next_batch()

    def broken(td):
        raise KeyError("no such thing")

    bad = PrefetchBatchifier(store, S, 4, seed=3, layout="packed", preparer=broken)
    with pytest.raises(KeyError, match="no such thing"):
        bad.next_batch()
    bad.close()
    with pytest.raises(TypeError, match="preparer"):
        PrefetchBatchifier(store, S, 4, preparer=3)


def test_preparer_epochs_iterate_like_plain_ones():
    store = make_store()
    plain = PrefetchBatchifier(store, S, 4, "sequential", lengths="ragged", layout="packed")
    bf = PrefetchBatchifier(store, S, 4, "sequential", lengths="ragged", layout="packed",
                            preparer=lambda td: td["reward"].tolist())
    assert [b["reward"].tolist() for b in plain] == list(bf)
    bf.close()


def test_augmentation_of_a_packed_batch_equals_the_same_windows_padded():
    store = make_store()
    cfg = AugmentTokensConfig(
        permute_action="both", permute_done=True,
        scale_reward=AugmentScalarSpec(1.0, low=0.5, high=2.0),
        shift_obs=AugmentScalarSpec(0.0, std=0.3),
        mask_prob=AugmentMaskProbConfig(action=0.1, reward=0.2, obs_continuous=0.3, time=0.1))

    def batches(layout, workers):
        bf = PrefetchBatchifier(store, S, 6, seed=4, num_workers=workers, lengths="ragged",
                                boundaries="episode", layout=layout,
                                augmenter=TokenAugmenter(cfg, 3, 1, "cpu", seed=8))
        out = [bf.next() for _ in range(5)]
        bf.close()
        return out

    padded = batches("padded", 0)
    for workers in (0, 3):
        for p, q in zip(batches("packed", workers), padded):
            assert p.starts == q.starts and p.lengths == q.lengths
            cu = p.data["cu_seqlens"]
            for name in ("action", "reward", "done", "obs_continuous", "q_star", "time"):
                for b, length in enumerate(p.lengths):
                    torch.testing.assert_close(p.data[name][int(cu[b]):int(cu[b + 1])],
                                               q.data[name][b, :length], rtol=0, atol=0,
                                               equal_nan=True)
