"""mouse_data.v04: the data API of mouse-core 0.4.0 (unreleased, repository commit ca12375) on
the mouse_data engine.

Written from that version's documented behaviour and source: its names, keyword-only
arguments, defaults and return types, the ragged window rule (a window starts at any row and is
cut only at the end of its store, so 1 <= len <= sequence_length), the snapshot / refresh()
rule, the augmenter's per-window draws, and the hub helpers' naming and clear= rules. That
version needs CPython >= 3.14, so it cannot run beside these tests; where our behaviour differs
on purpose, python/V04_DIFFERENCES.md says so.
"""

from __future__ import annotations

import inspect
import os
import shutil
from collections import Counter

import numpy as np
import pytest

import mouse_data
from mouse_data.v04 import (
    Augmenter,
    DataLoader,
    Datastore,
    SequenceAugmentModalitySpec,
    load_stores_from_hub,
    push_stores_to_hub,
    push_to_hub,
)

datasets = pytest.importorskip("datasets")


def _engine_ragged() -> bool:
    params = inspect.signature(mouse_data.PrefetchBatchifier.__init__).parameters
    return "lengths" in params and "layout" in params


needs_engine = pytest.mark.skipif(not _engine_ragged(),
                                  reason="the engine has no ragged / packed windows yet")


def row(i: int, **extra) -> dict:
    return {"action": i % 4, "reward": float(i), "done": 0, "idx": i, **extra}


def store_of(n: int, name: str | None = None, first: int = 0) -> Datastore:
    store = Datastore(name)
    for i in range(first, first + n):
        store.append(row(i))
    return store


# --- the public surface -----------------------------------------------------------------------


def test_names_and_keyword_only_signatures():
    import mouse_data.v04 as v04

    assert set(v04.__all__) == {"Augmenter", "DataLoader", "Datastore",
                                "SequenceAugmentModalitySpec", "load_stores_from_hub",
                                "push_stores_to_hub", "push_to_hub"}
    kw_only = inspect.Parameter.KEYWORD_ONLY
    for fn, required in [
        (DataLoader.__init__, {"stores", "sequence_length", "batch_size"}),
        (Augmenter.__init__, {"modalities"}),
        (load_stores_from_hub, {"repo_id"}),
        (push_stores_to_hub, {"stores", "repo_id"}),
        (push_to_hub, {"splits", "repo_id"}),
    ]:
        params = {k: p for k, p in inspect.signature(fn).parameters.items()
                  if k != "self" and p.kind != inspect.Parameter.VAR_KEYWORD}
        assert all(p.kind == kw_only for p in params.values()), fn
        assert {k for k, p in params.items() if p.default is inspect.Parameter.empty} == required
    dl = inspect.signature(DataLoader.__init__).parameters
    assert (dl["weights"].default, dl["weight_mode"].default, dl["prefetch"].default,
            dl["num_workers"].default, dl["seed"].default, dl["augmenter"].default,
            dl["preparer"].default) == (None, "per_store", 4, 1, None, None, None)
    hub = inspect.signature(load_stores_from_hub).parameters
    assert (hub["store_names"].default, hub["split"].default, hub["force_download"].default,
            hub["token"].default) == (None, "train", False, None)
    for fn in (push_stores_to_hub, push_to_hub):
        p = inspect.signature(fn).parameters
        assert (p["private"].default, p["commit_message"].default, p["clear"].default) == \
            (False, "New rollout data", True)
    assert inspect.signature(push_to_hub).parameters["config_name"].default == "default"
    assert inspect.signature(push_stores_to_hub).parameters["split"].default == "train"


def test_the_03_face_keeps_its_names():
    # the 0.4 names live in their own module; mouse_data keeps 0.3.0's meaning
    assert not hasattr(mouse_data, "DataLoader") and not hasattr(mouse_data, "Datastore")
    assert issubclass(Datastore, mouse_data.DatasetStore)
    assert mouse_data.push_stores_to_hub is not push_stores_to_hub


# --- Datastore ----------------------------------------------------------------------------------


def test_datastore_name_repr_and_columns():
    assert Datastore().name is None
    store = store_of(2, "cartpole_1")
    assert store.name == "cartpole_1"
    assert repr(store).startswith("Datastore(name='cartpole_1', steps=2")
    assert "name" not in store.to_dataset().column_names
    assert set(store.columns) == {"action", "reward", "done", "idx"}
    assert Datastore().columns == [] and repr(Datastore()) == "Datastore(steps=0)"
    with pytest.raises(TypeError):
        Datastore("x", 10)  # the engine options are keyword-only


def test_datastore_rows_come_back_as_dicts():
    store = store_of(5)
    store.append(row(5, note="hello", vec=[1.5, 2.5]))
    rows = store[[0, 5, 2]]
    assert isinstance(rows, list) and all(isinstance(r, dict) for r in rows)
    assert [r["idx"] for r in rows] == [0, 5, 2]
    assert rows[1]["note"] == "hello" and rows[1]["vec"] == [1.5, 2.5]
    assert rows[0]["note"] is None  # a column a row lacks reads as None
    assert [r["idx"] for r in store[1:4]] == [1, 2, 3]
    assert store[[-1]][0]["idx"] == 5
    assert store[[]] == []
    with pytest.raises(IndexError, match="out of range"):
        store[[6]]
    assert store.encoded([0, 1])["action"].tolist() == [0, 1]


def test_datastore_append_rows_stores_and_lists_in_order():
    a = store_of(3, first=0)
    b = store_of(2, first=10)
    store = Datastore()
    store.append(row(100))
    store.append(a)
    store.append(row(200))
    store.append([b, a])
    assert [r["idx"] for r in store[:]] == [100, 0, 1, 2, 200, 10, 11, 0, 1, 2]
    assert len(store) == 10
    with pytest.raises(ValueError, match="empty"):
        store.append({})
    with pytest.raises(TypeError):
        store.append([row(1)])
    with pytest.raises(TypeError):
        store.append(3)


def test_datastore_from_dataset_after_appends_keeps_order_and_clear():
    store = store_of(2)
    store.from_dataset(datasets.Dataset.from_list([row(50), row(51)]))
    store.append(row(52))
    store.from_dataset(datasets.DatasetDict({
        "a": datasets.Dataset.from_list([row(60)]),
        "b": datasets.Dataset.from_list([row(61)])}))
    assert [r["idx"] for r in store[:]] == [0, 1, 50, 51, 52, 60, 61]
    back = store.to_dataset()
    assert back["idx"] == [0, 1, 50, 51, 52, 60, 61]
    store.clear()
    assert len(store) == 0 and store[:] == []


# --- SequenceAugmentModalitySpec and Augmenter ----------------------------------------------------


@pytest.mark.parametrize("kwargs, match", [
    (dict(type="text", field="a"), "type"),
    (dict(type="discrete", field="a", mask_prob=1.5), "mask_prob"),
    (dict(type="linear", field="a", permute=True, vocab_size=4), "permute"),
    (dict(type="discrete", field="a", permute=True), "vocab_size"),
    (dict(type="discrete", field="a", vocab_size=0), "vocab_size"),
    (dict(type="linear", field="a", scale_in_low=0.0, scale_out_low=1.0), "together"),
    (dict(type="image", field="a", scale_in_low=0.0, scale_out_low=1.0, scale_in_high=1.0,
          scale_out_high=2.0), "linear"),
    (dict(type="linear", field="a", scale_in_low=1.0, scale_out_low=0.0, scale_in_high=1.0,
          scale_out_high=2.0), "differ"),
    (dict(type="linear", field="a", scale_mean=2.0), "linear"),
    (dict(type="discrete", field="a", shift_std=1.0), "image"),
    (dict(type="image", field="a", scale_low=0.5), "low and high"),
])
def test_spec_rejects_inconsistent_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SequenceAugmentModalitySpec(**kwargs)


def test_spec_fields_type_and_activity():
    spec = SequenceAugmentModalitySpec(type="Discrete", field=["action", "prev_action"],
                                       vocab_size=4, permute=True)
    assert spec.type == "discrete" and spec.fields == ("action", "prev_action")
    assert spec.is_active()
    assert not SequenceAugmentModalitySpec(type="image", field="o").is_active()
    assert SequenceAugmentModalitySpec(type="image", field="o", shift_low=3.0,
                                       shift_high=3.0).is_active()
    assert not SequenceAugmentModalitySpec(type="image", field="o", scale_low=1.0,
                                           scale_high=1.0).is_active()
    lin = SequenceAugmentModalitySpec(type="linear", field="r", scale_in_low=0.0,
                                      scale_out_low=-1.0, scale_in_high=2.0, scale_out_high=1.0)
    assert lin.linear_transform() == (1.0, -1.0) and lin.is_active()
    with pytest.raises(TypeError):
        Augmenter(modalities=[{"type": "discrete", "field": "a", "colour": 1}])


def _batch(n_windows=3, length=5):
    return [[row(i, q=[float(10 * i + a) for a in range(4)])
             for i in range(w * 10, w * 10 + length)]
            for w in range(n_windows)]


def test_augmenter_permutes_per_window_and_values_follow_their_index():
    aug = Augmenter(modalities=[{"type": "discrete", "field": ["action", "q"], "vocab_size": 4,
                                 "permute": True}], seed=3)
    batch = _batch(6)
    before = [[dict(r) for r in w] for w in batch]
    out = aug(batch)
    assert batch == before  # the input is never modified
    perms = []
    for win_in, win_out in zip(batch, out):
        mapping = {}
        for r_in, r_out in zip(win_in, win_out):
            assert mapping.setdefault(r_in["action"], r_out["action"]) == r_out["action"]
            # the value of index a is now at index perm[a], perm being the action's permutation
            perm = {a: r_out["q"].index(r_in["q"][a]) for a in range(4)}
            assert perm[r_in["action"]] == r_out["action"]
            assert r_out["idx"] == r_in["idx"] and r_out["reward"] == r_in["reward"]
        perms.append(tuple(sorted(perm.items())))
        assert sorted(perm.values()) == [0, 1, 2, 3]
    assert len(set(perms)) > 1  # windows draw their own permutation
    with pytest.raises(ValueError, match="action"):
        aug([[row(0) | {"action": 9}]])


def test_augmenter_masks_with_zeros_mask_value_and_step_index():
    aug = Augmenter(modalities=[
        {"type": "discrete", "field": ["action", "step_index"], "vocab_size": 4, "mask_prob": 1.0},
        {"type": "linear", "field": ["reward", "vec"], "mask_prob": 1.0},
        {"type": "discrete", "field": "done", "mask_prob": 1.0, "mask_value": 2},
    ], seed=0)
    out = aug([[row(3, step_index=7, vec=[1.0, 2.0], done=1)]])[0][0]
    assert out["action"] == 0 and out["step_index"] == -1
    assert out["reward"] == 0.0 and isinstance(out["reward"], float)
    assert out["vec"] == [0.0, 0.0] and out["done"] == 2 and out["idx"] == 3
    half = Augmenter(modalities=[{"type": "discrete", "field": "action", "mask_prob": 0.5}],
                     seed=1)
    rows = half([[row(1) for _ in range(400)]])[0]
    masked = sum(r["action"] == 0 for r in rows)
    assert 140 < masked < 260


def test_augmenter_linear_and_image_transforms():
    lin = Augmenter(modalities=[{"type": "linear", "field": "reward", "scale_in_low": 0.0,
                                 "scale_out_low": 1.0, "scale_in_high": 1.0,
                                 "scale_out_high": 3.0}])
    out = lin([[row(2), row(3)]])
    assert [r["reward"] for r in out[0]] == [5.0, 7.0]
    img = Augmenter(modalities=[{"type": "image", "field": "pix", "scale_low": 0.5,
                                 "scale_high": 2.0, "shift_mean": 10.0}], seed=5)
    windows = [[row(i, pix=[0, 100, 250]) for i in range(3)] for _ in range(4)]
    out = img(windows)
    scales = set()
    for w in out:
        first = w[0]["pix"]
        assert all(r["pix"] == first for r in w)  # one draw per window
        assert first[0] == 10 and all(isinstance(v, int) for v in first)
        assert 0 <= min(first) and max(first) <= 255
        scales.add(first[1])
    assert len(scales) > 1
    fixed = Augmenter(modalities=[{"type": "image", "field": "pix", "scale_low": 2.0,
                                   "scale_high": 2.0, "shift_mean": 0.4}])
    assert fixed([[row(0, pix=[1, 100, 200])]])[0][0]["pix"] == [2, 200, 255]


def test_augmenter_identity_keep_fields_enabled_seed_and_fork():
    batch = _batch(2)
    spec = {"type": "discrete", "field": "action", "vocab_size": 4, "permute": True}
    assert Augmenter(modalities=[]).__call__(batch) is batch
    assert Augmenter(modalities=[spec], enabled=False)(batch) is batch
    kept = Augmenter(modalities=[spec], enabled=False, keep_fields=["action", "idx"])(batch)
    assert kept[0][0] == {"action": batch[0][0]["action"], "idx": batch[0][0]["idx"]}
    assert Augmenter(modalities=[spec], seed=7)(batch) == \
        Augmenter(modalities=[spec], seed=7)(batch)
    gen = np.random.default_rng(7)
    assert Augmenter(modalities=[spec], generator=gen)(batch) == \
        Augmenter(modalities=[spec], seed=7)(batch)
    parent = Augmenter(modalities=[spec], seed=1, keep_fields=["action"])
    child = parent.fork(seed=9)
    assert child.modalities == parent.modalities and child.keep_fields == ("action",)
    assert child(batch) == Augmenter(modalities=[spec], seed=9, keep_fields=["action"])(batch)
    with pytest.raises(ValueError, match="seed or generator"):
        Augmenter(modalities=[spec], seed=1, generator=np.random.default_rng(1))
    with pytest.raises(TypeError):
        Augmenter([spec])  # keyword-only


def test_augmenter_maps_onto_a_token_augmenter():
    pytest.importorskip("torch")
    aug = Augmenter(modalities=[
        {"type": "discrete", "field": ["action", "metadata_q_star"], "vocab_size": 6,
         "permute": True},
        {"type": "discrete", "field": "observation_discrete", "vocab_size": 9, "permute": True,
         "mask_prob": 0.25},
        {"type": "linear", "field": "reward", "scale_in_low": 0.0, "scale_out_low": 1.0,
         "scale_in_high": 1.0, "scale_out_high": 3.0, "mask_prob": 0.5},
        {"type": "image", "field": "observation_image", "scale_low": 0.5, "scale_high": 1.5},
        {"type": "discrete", "field": "episode_step", "mask_prob": 0.1},
    ], enabled=True)
    token = aug.to_token_augmenter(seed=3)
    assert isinstance(token, mouse_data.TokenAugmenter)
    cfg = token.augment
    assert cfg.permute_action == "both" and cfg.permute_obs_discrete and not cfg.permute_done
    assert (cfg.scale_reward.mean, cfg.shift_reward.mean) == (2.0, 1.0)
    assert (cfg.scale_obs_image.low, cfg.scale_obs_image.high) == (0.5, 1.5)
    assert (cfg.mask_prob.obs_discrete, cfg.mask_prob.reward, cfg.mask_prob.time,
            cfg.mask_prob.action) == (0.25, 0.5, 0.1, 0.0)
    only_target = Augmenter(modalities=[{"type": "discrete", "field": "q_star", "vocab_size": 4,
                                         "permute": True}], enabled=False)
    token = only_target.to_token_augmenter()
    assert token.augment.permute_action == "target" and token.augment.enabled is False
    for bad, match in [
        ({"type": "discrete", "field": "note", "mask_prob": 0.5}, "note"),
        ({"type": "discrete", "field": "action", "mask_prob": 0.5, "mask_value": 3}, "mask_value"),
        ({"type": "discrete", "field": "done", "vocab_size": 2, "permute": True}, "done"),
        ({"type": "linear", "field": "action", "scale_in_low": 0.0, "scale_out_low": 1.0,
          "scale_in_high": 1.0, "scale_out_high": 3.0}, "linear"),
    ]:
        with pytest.raises(ValueError, match=match):
            Augmenter(modalities=[bad]).to_token_augmenter()
    with pytest.raises(ValueError, match="two specs"):
        Augmenter(modalities=[{"type": "discrete", "field": "action", "vocab_size": 4,
                               "permute": True}] * 2).to_token_augmenter()


# --- DataLoader ---------------------------------------------------------------------------------


def _windows_ok(batch, n, s_max):
    """Every window is a contiguous run of idx, cut only at the store's end."""
    for window in batch:
        idx = [r["idx"] for r in window]
        assert idx == list(range(idx[0], idx[0] + len(idx)))
        assert len(idx) == min(s_max, n - idx[0])


def test_dataloader_argument_errors():
    store = store_of(4)
    with pytest.raises(TypeError):
        DataLoader(store, 3, 2)  # keyword-only
    with pytest.raises(TypeError, match="stores"):
        DataLoader(stores=[], sequence_length=2, batch_size=1)
    with pytest.raises(TypeError, match="stores"):
        DataLoader(stores="store", sequence_length=2, batch_size=1)
    cases = [
        (dict(weight_mode="per_row"), "weight_mode"),
        (dict(sequence_length=0), "sequence_length"),
        (dict(batch_size=0), "batch_size"),
        (dict(weights=[1.0, 2.0]), "weights"),
        (dict(weights=[0.0]), "weights"),
        (dict(num_workers=-1), "num_workers"),
        (dict(prefetch=0), "prefetch"),
        (dict(boundaries="task"), "boundaries"),
        (dict(max_tokens=64), "max_tokens"),
    ]
    for extra, match in cases:
        kw = dict(stores=store, sequence_length=3, batch_size=2, num_workers=0) | extra
        with pytest.raises(ValueError, match=match):
            DataLoader(**kw)
    with pytest.raises(TypeError, match="TokenAugmenter"):
        DataLoader(stores=store, sequence_length=3, batch_size=2, num_workers=0,
                   augmenter=lambda rows: rows, packed=True)
    with pytest.raises(TypeError, match="packed=True"):
        DataLoader(stores=store, sequence_length=3, batch_size=2, num_workers=0,
                   augmenter=Augmenter(modalities=[]).to_token_augmenter())
    with pytest.raises(ValueError, match="idx"):  # no encoded column to map onto
        DataLoader(stores=store, sequence_length=3, batch_size=2, num_workers=0, packed=True,
                   augmenter=Augmenter(modalities=[{"type": "discrete", "field": "idx",
                                                    "mask_prob": 0.5}]))


@needs_engine
def test_dataloader_ragged_windows_from_one_store():
    n, s_max = 20, 6
    store = store_of(n)
    with DataLoader(stores=store, sequence_length=s_max, batch_size=8, num_workers=0,
                    seed=0) as loader:
        lengths = Counter()
        starts = Counter()
        for _ in range(60):
            batch = loader.next_batch()
            assert isinstance(batch, list) and len(batch) == 8
            assert all(isinstance(w, list) and all(isinstance(r, dict) for r in w) for w in batch)
            _windows_ok(batch, n, s_max)
            lengths.update(len(w) for w in batch)
            starts.update(w[0]["idx"] for w in batch)
    assert set(starts) == set(range(n))  # a window may start at any row
    assert set(lengths) == set(range(1, s_max + 1))  # short windows only at the end
    assert lengths[s_max] > 300
    assert set(batch[0][0]) == {"action", "reward", "done", "idx"}
    assert isinstance(batch[0][0]["reward"], float) and isinstance(batch[0][0]["idx"], int)


@needs_engine
def test_dataloader_short_and_empty_stores():
    one = Datastore()
    one.append(row(7))
    loader = DataLoader(stores=one, sequence_length=4, batch_size=1, num_workers=0)
    assert [[r["idx"] for r in w] for w in loader.next_batch()] == [[7]]
    loader.close()
    empty = Datastore()
    with DataLoader(stores=empty, sequence_length=2, batch_size=1, num_workers=0) as loader:
        with pytest.raises(ValueError, match="all stores are empty"):
            loader.next_batch()
        empty.append(row(1))
        loader.refresh()
        assert len(loader.next_batch()[0]) == 1


@needs_engine
def test_dataloader_snapshot_and_refresh():
    store = Datastore()
    store.from_dataset(datasets.Dataset.from_list([row(1), row(2)]))
    store.append(row(3))
    with DataLoader(stores=store, sequence_length=3, batch_size=4, num_workers=1,
                    prefetch=2) as loader:
        loader.next_batch()
        store.append(row(4))
        for _ in range(20):
            assert all(r["idx"] != 4 for w in loader.next_batch() for r in w)
        assert loader._ns == [3]
        loader.refresh()
        assert loader._ns == [4]
        seen = {r["idx"] for _ in range(20) for w in loader.next_batch() for r in w}
        assert 4 in seen


@needs_engine
def test_dataloader_seed_is_reproducible_whatever_the_workers():
    store = store_of(30)
    aug = Augmenter(modalities=[{"type": "discrete", "field": "action", "vocab_size": 4,
                                 "permute": True}])

    def take(workers, seed):
        with DataLoader(stores=store, sequence_length=5, batch_size=3, num_workers=workers,
                        seed=seed, augmenter=aug) as loader:
            return [loader.next_batch() for _ in range(5)]

    a = take(0, 42)
    assert a == take(0, 42) == take(2, 42)
    assert a != take(0, 43)


@needs_engine
def test_dataloader_weights_choose_stores():
    small = store_of(10, "small", first=0)
    big = store_of(90, "big", first=1000)
    empty = Datastore("empty")

    def share_small(**kw):
        with DataLoader(stores=[small, big, empty], sequence_length=4, batch_size=50,
                        num_workers=0, seed=1, **kw) as loader:
            windows = [w for _ in range(20) for w in loader.next_batch()]
        return sum(w[0]["idx"] < 1000 for w in windows) / len(windows)

    assert abs(share_small() - 0.5) < 0.06
    assert abs(share_small(weights=[3.0, 1.0, 1.0]) - 0.75) < 0.06
    assert abs(share_small(weight_mode="per_step") - 0.1) < 0.04
    with DataLoader(stores=[small, big], sequence_length=4, batch_size=50, num_workers=0,
                    seed=2) as loader:
        for w in loader.next_batch():
            idx = [r["idx"] for r in w]
            n, first = (10, 0) if idx[0] < 1000 else (90, 1000)
            assert len(idx) == min(4, n - (idx[0] - first))


@needs_engine
def test_dataloader_augmenter_then_preparer():
    store = store_of(12)
    seen = []

    def preparer(batch):
        seen.append(batch)
        return {"B": len(batch), "N": sum(len(w) for w in batch)}

    aug = Augmenter(modalities=[{"type": "discrete", "field": "action", "vocab_size": 16,
                                 "mask_prob": 1.0}], seed=0)
    with DataLoader(stores=store, sequence_length=3, batch_size=2, num_workers=0,
                    augmenter=aug, preparer=preparer) as loader:
        out = loader.next_batch()
    assert out["B"] == 2 and 2 <= out["N"] <= 6
    assert all(r["action"] == 0 for w in seen[0] for r in w)  # augmented before preparing


@needs_engine
def test_dataloader_workers_need_no_free_threading_and_close():
    store = store_of(40)
    loader = DataLoader(stores=store, sequence_length=8, batch_size=4, num_workers=2, seed=0)
    assert loader.total_batches == 2  # ceil((40 // 8) / 4)
    assert "S_max=8" in repr(loader) and "B=4" in repr(loader)
    assert len(next(iter(loader))) == 4
    loader.close()
    loader.close()
    with pytest.raises(ValueError, match="close"):
        loader.next_batch()


@needs_engine
def test_dataloader_packed_extension():
    torch = pytest.importorskip("torch")
    store = store_of(30)
    with DataLoader(stores=store, sequence_length=6, batch_size=4, num_workers=0, seed=3,
                    packed=True) as loader:
        batch = loader.next_batch()
    n = int(batch["lengths"].sum())
    assert batch["action"].shape == (n,) and batch["sequence_id"].shape == (n,)
    assert batch["cu_seqlens"].dtype == torch.int32 and batch["cu_seqlens"].shape == (5,)
    assert all(1 <= int(x) <= 6 for x in batch["lengths"])
    with DataLoader(stores=store, sequence_length=6, batch_size=4, num_workers=0, seed=3,
                    packed=True, preparer=lambda td: int(td["lengths"].sum())) as loader:
        assert loader.next_batch() == n


def _engine_augments_packed() -> bool:
    if not _engine_ragged():
        return False
    store = store_of(8)
    token = Augmenter(modalities=[{"type": "discrete", "field": "action", "mask_prob": 0.5}]
                      ).to_token_augmenter(seed=0)
    bf = mouse_data.PrefetchBatchifier(store, 4, 2, num_workers=0, seed=0, lengths="ragged",
                                       layout="packed", augmenter=token)
    try:
        bf.next_batch()
        return True
    except ValueError:
        return False
    finally:
        bf.close()


@needs_engine
def test_dataloader_packed_with_an_augmenter():
    pytest.importorskip("torch")
    if not _engine_augments_packed():
        pytest.skip("the engine's TokenAugmenter does not take packed batches yet")
    store = store_of(30)
    # a v04 Augmenter runs in the engine as its TokenAugmenter: every action of a window is
    # masked to 0 here, the rewards untouched
    aug = Augmenter(modalities=[{"type": "discrete", "field": "action", "mask_prob": 1.0}])
    with DataLoader(stores=store, sequence_length=6, batch_size=4, num_workers=1, seed=3,
                    packed=True, augmenter=aug, max_tokens=32) as loader:
        batch = loader.next_batch()
    real = batch["sequence_id"] >= 0
    assert batch["sequence_id"].shape == (32,)
    assert (batch["action"][real] == 0).all()
    assert (batch["reward"][real] % 1 == 0).all() and batch["reward"][real].max() > 0


# --- hub ----------------------------------------------------------------------------------------


class _Url(str):
    repo_id: str


class FakeHub:
    """Enough of huggingface_hub.HfApi to push to: files live in a dict."""

    def __init__(self, files: dict[str, bytes] | None = None):
        self.files = dict(files or {})
        self.private = None
        self.commits = 0

    def whoami(self, token=None):
        return {"name": "me"}

    def create_repo(self, repo_id, repo_type=None, private=False, exist_ok=False):
        url = _Url(f"https://huggingface.co/datasets/{repo_id}")
        url.repo_id = repo_id
        return url

    def update_repo_settings(self, repo_id, repo_type=None, private=None):
        self.private = private

    def list_repo_files(self, repo_id, repo_type=None):
        return list(self.files)

    def create_commit(self, repo_id, operations, commit_message, repo_type=None):
        self.commits += 1
        for op in operations:
            if type(op).__name__ == "CommitOperationDelete":
                del self.files[op.path_in_repo]
            else:
                with open(op.path_or_fileobj, "rb") as f:
                    self.files[op.path_in_repo] = f.read()

    def write(self, root):
        for path, data in self.files.items():
            os.makedirs(os.path.dirname(os.path.join(root, path)) or root, exist_ok=True)
            with open(os.path.join(root, path), "wb") as f:
                f.write(data)
        return root


def test_push_stores_to_hub_then_load_them_back(tmp_path):
    pytest.importorskip("huggingface_hub")
    api = FakeHub({"old/train-00000-of-00001.parquet": b"x", "notes.txt": b"y"})
    stores = [store_of(5, "env_0"), store_of(3, "env_1", first=100), Datastore("env_2")]
    url = push_stores_to_hub(stores=stores, repo_id="org/rollouts", api=api)
    assert url == "https://huggingface.co/datasets/org/rollouts" and api.private is False
    assert "notes.txt" not in api.files and "old/train-00000-of-00001.parquet" not in api.files
    root = api.write(str(tmp_path / "repo"))
    loaded = load_stores_from_hub(repo_id=root)
    assert [s.name for s in loaded] == ["env_0", "env_1"]
    assert all(isinstance(s, Datastore) for s in loaded)
    assert [r["idx"] for r in loaded[1][:]] == [100, 101, 102]
    only = load_stores_from_hub(repo_id=root, store_names=["env_1"], split="train")
    assert [s.name for s in only] == ["env_1"] and len(only[0]) == 3
    with pytest.raises(KeyError, match="env_9"):
        load_stores_from_hub(repo_id=root, store_names=["env_9"])
    with pytest.raises(ValueError, match="empty"):
        load_stores_from_hub(repo_id=root, store_names=[])
    with pytest.raises(ValueError, match="unique"):
        load_stores_from_hub(repo_id=root, store_names=["env_0", "env_0"])
    # clear=False deletes nothing; the bare name resolves under the user
    api.files["notes.txt"] = b"y"
    push_stores_to_hub(stores=[store_of(2, "env_3")], repo_id="rollouts", clear=False,
                       private=True, api=api)
    assert "notes.txt" in api.files and api.private is True
    assert any(p.startswith("env_0/") for p in api.files)


def test_load_stores_from_hub_reads_the_04_layout(tmp_path):
    # what the 0.4 push_stores_to_hub writes: data/<store>/<split>-NNNNN-of-NNNNN.parquet and a
    # card whose configs list one config per store
    root = tmp_path / "hub04"
    card = ["---", "configs:"]
    for name, n in (("env_a", 3), ("env_b", 2)):
        (root / "data" / name).mkdir(parents=True)
        datasets.Dataset.from_list([row(i) for i in range(n)]).to_parquet(
            str(root / "data" / name / "train-00000-of-00001.parquet"))
        card += [f"- config_name: {name}", "  data_files:", "  - split: train",
                 f"    path: data/{name}/train-*.parquet"]
    (root / "README.md").write_text("\n".join(card + ["---", ""]))
    stores = load_stores_from_hub(repo_id=str(root))
    assert [(s.name, len(s)) for s in stores] == [("env_a", 3), ("env_b", 2)]
    assert [r["idx"] for r in stores[0][:]] == [0, 1, 2]


def test_load_stores_from_hub_downloads_what_it_needs(tmp_path, monkeypatch):
    hf = pytest.importorskip("huggingface_hub")
    api = FakeHub()
    push_stores_to_hub(stores=[store_of(4, "env_0"), store_of(2, "env_1")], repo_id="org/r",
                       api=api)
    root = api.write(str(tmp_path / "snapshot"))
    calls = []

    def fake_download(**kw):
        calls.append(kw)
        return root

    monkeypatch.setattr(hf, "snapshot_download", fake_download)
    stores = load_stores_from_hub(repo_id="rollouts", store_names=["env_1"], split="train",
                                  force_download=True, token="t", revision="v1", api=api)
    assert [(s.name, len(s)) for s in stores] == [("env_1", 2)]
    (call,) = calls
    assert call["repo_id"] == "me/rollouts" and call["repo_type"] == "dataset"
    assert call["force_download"] is True and call["token"] == "t" and call["revision"] == "v1"
    assert "env_1/train-*.parquet" in call["allow_patterns"]
    assert "data/env_1/train-*.parquet" in call["allow_patterns"]
    assert not any("env_0" in p for p in call["allow_patterns"])


def test_push_stores_to_hub_rules():
    api = FakeHub()
    with pytest.raises(ValueError, match="name"):
        push_stores_to_hub(stores=[store_of(1)], repo_id="org/x", api=api)
    with pytest.raises(ValueError, match="unique"):
        push_stores_to_hub(stores=[store_of(1, "a"), store_of(1, "a")], repo_id="org/x", api=api)
    with pytest.raises(ValueError, match="env#0"):
        push_stores_to_hub(stores=[store_of(1, "env#0")], repo_id="org/x", api=api)
    assert push_stores_to_hub(stores=[Datastore("a")], repo_id="org/x", api=api) is None
    assert api.commits == 0
    with pytest.raises(TypeError):
        push_stores_to_hub([store_of(1, "a")], "org/x")  # keyword-only


def test_push_to_hub_config_and_clear(tmp_path):
    pytest.importorskip("huggingface_hub")
    api = FakeHub({"data/other/train-00000-of-00001.parquet": b"x", "README.md": b"old",
                   "keep.txt": b"k"})
    url = push_to_hub(splits={"train": [store_of(4), store_of(2, first=50)],
                              "eval": [store_of(3, first=90)]},
                      repo_id="org/runs", config_name="expert", api=api)
    assert url.endswith("/org/runs")
    assert "data/other/train-00000-of-00001.parquet" not in api.files and "keep.txt" in api.files
    assert api.files["README.md"] != b"old"
    root = api.write(str(tmp_path / "repo"))
    train = datasets.load_dataset(root, name="expert", split="train")
    assert train["idx"] == [0, 1, 2, 3, 50, 51]
    api.files["data/other/train-00000-of-00001.parquet"] = b"x"
    push_to_hub(splits={"train": [store_of(1)]}, repo_id="org/runs", config_name="more",
                clear=False, api=api)
    assert "data/other/train-00000-of-00001.parquet" in api.files
    assert push_to_hub(splits={"train": [Datastore()]}, repo_id="org/runs", api=api) is None


# --- the 0.4 examples, with the model replaced by a stub preparer -------------------------------


class StubPreparer:
    """Turns sampled rows into a flat token batch, as an encoder's preparer would: every step's
    action and reward in one stream, with each step's window id and position."""

    def __call__(self, batch):
        import torch

        steps = [(b, t, r) for b, w in enumerate(batch) for t, r in enumerate(w)]
        return {
            "action": torch.tensor([r["action"] for _, _, r in steps]),
            "reward": torch.tensor([r["reward"] for _, _, r in steps]),
            "sequence_id": torch.tensor([b for b, _, _ in steps]),
            "position": torch.tensor([t for _, t, _ in steps]),
            "lengths": torch.tensor([len(w) for w in batch]),
        }


class StubModel:
    """Stands in for Model + objective: a loss over the prepared token batch."""

    def __init__(self):
        import torch

        self.weight = torch.zeros(4, requires_grad=True)

    def __call__(self, tb):
        import torch

        q = self.weight[tb["action"]]
        return ((q - tb["reward"].float()) ** 2).mean()


def test_example_collect_push_load_train_offline(tmp_path):
    # 01: one store per env stream, rows appended, pushed as one config per store
    torch = pytest.importorskip("torch")
    pytest.importorskip("huggingface_hub")
    names = [f"proc_frozenlake_{i}" for i in range(3)]
    stores = [Datastore(name=name) for name in names]
    rng = np.random.default_rng(0)
    for step in range(40):
        for i, store in enumerate(stores):
            store.append({"action": np.int64(rng.integers(4)), "observation": int(rng.integers(64)),
                          "reward": float(step % 5 == 0), "done": int(step % 10 == 9),
                          "info_q_star": rng.normal(size=4).tolist()})
    api = FakeHub()
    url = push_stores_to_hub(stores=stores, repo_id="mouse-example-dataset", split="train",
                             private=False, api=api)
    assert url.endswith("/me/mouse-example-dataset")
    root = api.write(str(tmp_path / "hub"))
    # 02: load every store, augment, sample, train
    stores = load_stores_from_hub(repo_id=root, split="train")
    assert [s.name for s in stores] == names
    augmenter = Augmenter(
        modalities=[
            {"field": "action", "type": "discrete", "vocab_size": 4, "permute": True},
            {"field": "observation", "type": "discrete", "vocab_size": 64, "permute": True},
        ],
        keep_fields=["action", "observation", "reward", "done"],
    )
    if not _engine_ragged():
        pytest.skip("the engine has no ragged / packed windows yet")
    raw = DataLoader(stores=stores, sequence_length=16, batch_size=4, prefetch=4, num_workers=0,
                     augmenter=augmenter)
    first = raw.next_batch()
    assert len(first) == 4 and set(first[0][0]) == {"action", "observation", "reward", "done"}
    raw.close()
    loader = DataLoader(stores=stores, sequence_length=16, batch_size=4, prefetch=4,
                        num_workers=0, augmenter=augmenter, preparer=StubPreparer())
    model = StubModel()
    optimizer = torch.optim.AdamW([model.weight], lr=0.1)
    for _ in range(5):
        batch = loader.next_batch()
        assert int(batch["lengths"].sum()) == batch["action"].shape[0]
        loss = model(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    loader.close()
    assert model.weight.abs().sum() > 0


@needs_engine
def test_example_online_replay_with_refresh():
    # 03: empty per-env stores, a loader made before any row, rows appended each cycle,
    # loader.refresh() before training on them
    pytest.importorskip("torch")
    stores = [Datastore(name=f"env_{i}") for i in range(2)]
    loader = DataLoader(stores=stores, sequence_length=8, batch_size=4, weight_mode="per_step",
                        num_workers=0, preparer=StubPreparer())
    step = 0
    seen_max = -1
    for cycle in range(3):
        for _ in range(10):
            for store in stores:
                store.append({"action": step % 4, "reward": float(step), "done": 0})
            step += 1
        loader.refresh()
        for _ in range(5):
            batch = loader.next_batch()
            assert batch["sequence_id"].max() <= 3
            seen_max = max(seen_max, int(batch["reward"].max()))
        assert seen_max <= step - 1
    assert seen_max >= 20
    loader.close()


# --- stubs --------------------------------------------------------------------------------------


def _stub_signatures(path):
    import ast

    tree = ast.parse(path.read_text())
    out = {}

    def params(args):
        pos = args.posonlyargs + args.args
        defaults = [None] * (len(pos) - len(args.defaults)) + list(args.defaults)
        got = [(a.arg, "POSITIONAL_OR_KEYWORD", d is not None) for a, d in zip(pos, defaults)]
        if args.vararg:
            got.append((args.vararg.arg, "VAR_POSITIONAL", False))
        got += [(a.arg, "KEYWORD_ONLY", d is not None)
                for a, d in zip(args.kwonlyargs, args.kw_defaults)]
        if args.kwarg:
            got.append((args.kwarg.arg, "VAR_KEYWORD", False))
        return [g for g in got if g[0] not in ("self", "cls")]

    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = params(node.args)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not any(
                        getattr(d, "id", None) == "property" for d in item.decorator_list):
                    out[f"{node.name}.{item.name}"] = params(item.args)
    return out


@pytest.mark.parametrize("module", ["mouse_data.v04", "mouse_data.torch"])
def test_stubs_match_the_runtime(module):
    import importlib
    import pathlib

    if module == "mouse_data.torch":
        pytest.importorskip("torch")
    mod = importlib.import_module(module)
    path = pathlib.Path(mod.__file__)
    stub = path.with_suffix(".pyi")
    assert stub.exists(), stub
    sigs = _stub_signatures(stub)
    assert sigs
    for qualname, want in sigs.items():
        owner, _, name = qualname.rpartition(".")
        obj = getattr(getattr(mod, owner) if owner else mod, name)
        got = [(p.name, p.kind.name, p.default is not inspect.Parameter.empty)
               for p in inspect.signature(obj).parameters.values() if p.name not in ("self",)]
        if name == "__init__" and owner == "SequenceAugmentModalitySpec":
            continue  # the dataclass fields are the signature
        assert got == want, qualname
    for name in mod.__all__:
        assert any(q == name or q.startswith(name + ".") for q in sigs) or \
            f"class {name}" in stub.read_text(), name
    for name in mod.__all__:  # every public name is documented
        assert getattr(mod, name).__doc__, name


@needs_engine
def test_dataloader_prepares_ahead_in_a_thread_and_reports_errors():
    import threading

    store = store_of(20)
    threads = set()

    def preparer(batch):
        threads.add(threading.current_thread().name)
        return len(batch)

    with DataLoader(stores=store, sequence_length=4, batch_size=3, num_workers=1,
                    preparer=preparer) as loader:
        assert [loader.next_batch() for _ in range(3)] == [3, 3, 3]
    assert threads and threading.current_thread().name not in threads
    with DataLoader(stores=store, sequence_length=4, batch_size=3, num_workers=0,
                    preparer=preparer) as loader:
        loader.next_batch()
    assert threading.current_thread().name in threads

    def broken(batch):
        raise KeyError("no such field")

    for workers in (0, 2):
        with DataLoader(stores=store, sequence_length=4, batch_size=3, num_workers=workers,
                        preparer=broken) as loader:
            with pytest.raises(KeyError, match="no such field"):
                loader.next_batch()


@needs_engine
def test_a_dropped_loader_is_collected_and_stops_its_threads():
    import gc
    import threading
    import weakref

    def rows_threads():
        return sum(t.name == "mouse-data-v04-rows" and t.is_alive()
                   for t in threading.enumerate())

    before = rows_threads()
    loader = DataLoader(stores=store_of(20), sequence_length=4, batch_size=2, num_workers=1)
    loader.next_batch()
    assert rows_threads() == before + 1
    ref = weakref.ref(loader)
    del loader
    gc.collect()
    assert ref() is None
    assert rows_threads() == before
