"""Differential tests: mouse_data against the original mouse-core 0.3.0 ``mouse.data``.

Each test builds the same small dataset (``datasets.Dataset.from_dict`` → ``save_to_disk`` →
``load_from_disk``), runs both implementations and compares. ``test_match_*`` tests check the
behaviour we copy; ``test_diff_*`` tests each show one deliberate difference listed in
``python/DIFFERENCES.md`` (the number in the name is the item number there): they assert what the
original does *and* what we do.

Skipped as a whole when ``mouse.data`` (mouse-core) or ``mouse_data`` cannot be imported.
mouse-core's top-level package imports model code (needs ``transformers``) and its ``mouse.data``
package imports ``hub.py`` (needs an older ``huggingface_hub``), so ``mouse`` and ``mouse.data``
are registered as bare namespace modules and the three data modules imported directly.
"""

from __future__ import annotations

import importlib.util
import io
import os
import sys
import time
import types

import pytest

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
tensordict = pytest.importorskip("tensordict")
datasets = pytest.importorskip("datasets")
PIL_Image = pytest.importorskip("PIL.Image")
TensorDict = tensordict.TensorDict


def _import_mouse_core():
    """(dataset_store, batch, augment) modules of mouse-core, or raise ImportError."""
    if "mouse.data.dataset_store" in sys.modules:
        return (sys.modules["mouse.data.dataset_store"], sys.modules["mouse.data.batch"],
                sys.modules["mouse.data.augment"])
    root = None
    for entry in sys.path:
        cand = os.path.join(entry or ".", "mouse", "data", "dataset_store.py")
        if os.path.isfile(cand):
            root = os.path.dirname(os.path.dirname(cand))
            break
    if root is None:
        raise ImportError("mouse-core (mouse/data/dataset_store.py) not found on sys.path")
    saved = {k: sys.modules.get(k) for k in ("mouse", "mouse.data")}
    try:
        if "mouse" not in sys.modules or not hasattr(sys.modules["mouse"], "__path__"):
            m = types.ModuleType("mouse")
            m.__path__ = [root]
            sys.modules["mouse"] = m
        d = types.ModuleType("mouse.data")
        d.__path__ = [os.path.join(root, "data")]
        sys.modules["mouse.data"] = d
        import mouse.data.augment as aug_mod
        import mouse.data.batch as batch_mod
        import mouse.data.dataset_store as ds_mod
    except Exception:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
        raise
    return ds_mod, batch_mod, aug_mod


try:
    MC_DS, MC_B, MC_A = _import_mouse_core()
except Exception as exc:  # noqa: BLE001
    pytest.skip(f"mouse.data (mouse-core 0.3.0) cannot be imported: {exc!r}", allow_module_level=True)

try:
    import mouse_data as MD
except Exception as exc:  # noqa: BLE001
    pytest.skip(f"mouse_data cannot be imported (is the compiled _core built?): {exc!r}",
                allow_module_level=True)

CPU = torch.device("cpu")


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def on_disk(tmp_path, data, features=None, name="ds"):
    """``Dataset.from_dict(data)`` saved to disk and memory-mapped back."""
    ds = datasets.Dataset.from_dict(data, features=features)
    path = tmp_path / name
    ds.save_to_disk(str(path))
    return datasets.load_from_disk(str(path))


def png_bytes(arr, mode=None):
    buf = io.BytesIO()
    PIL_Image.fromarray(arr, mode).save(buf, "PNG")
    return buf.getvalue()


def image_feature_rows(images):
    return [None if im is None else {"bytes": png_bytes(im), "path": None} for im in images]


def assert_td_equal(ours, theirs, keys=None):
    """Same keys (or `keys`), dtypes, shapes and values (NaN == NaN, -inf == -inf)."""
    ok = set(ours.keys())
    tk = set(theirs.keys())
    if keys is None:
        assert ok == tk, f"keys differ: ours {sorted(ok)}, mouse-core {sorted(tk)}"
        keys = tk
    assert tuple(ours.batch_size) == tuple(theirs.batch_size)
    for k in sorted(keys):
        a, b = ours[k], theirs[k]
        assert a.dtype == b.dtype, f"{k}: dtype ours {a.dtype}, mouse-core {b.dtype}"
        assert a.shape == b.shape, f"{k}: shape ours {tuple(a.shape)}, mouse-core {tuple(b.shape)}"
        if a.dtype.is_floating_point:
            assert torch.equal(torch.isnan(a), torch.isnan(b)), f"{k}: NaN positions differ"
            am, bm = torch.nan_to_num(a, nan=0.0), torch.nan_to_num(b, nan=0.0)
            assert torch.equal(am, bm), f"{k}: ours {a.tolist()} vs mouse-core {b.tolist()}"
        else:
            assert torch.equal(a, b), f"{k}: ours {a.tolist()} vs mouse-core {b.tolist()}"


def both_stores(*args, **kw):
    return MD.DatasetStore(*args, **kw), MC_DS.DatasetStore(*args, **kw)


def step_data(n, **extra):
    d = {"action": [i % 3 for i in range(n)], "reward": [0.25 * i for i in range(n)],
         "done": [1 if i % 4 == 3 else 0 for i in range(n)]}
    d.update(extra)
    return d


def raises(fn):
    """The exception `fn` raises, or None."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return e
    return None


# ---------------------------------------------------------------------------------------------
# Behaviour we match: encode_hf_rows and indexing
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def full_ds(tmp_path):
    rng = np.random.default_rng(1)
    n = 7
    imgs = [rng.integers(0, 256, (2, 3, 3), dtype=np.uint8) for _ in range(n)]
    imgs[4] = None  # a null image row (not the first): zeros on both sides
    data = step_data(
        n,
        xformed_reward=[float(i) / 3 for i in range(n)],
        episode_step=[i % 4 for i in range(n)],
        metadata_q_star=[[float(i), float(i) + 0.5, -1.0, 2.0] for i in range(n)],
        observation=[[0.1 * i, 0.2, 0.3] for i in range(n)],
        observation_discrete=[i % 5 for i in range(n)],
        observation_image=image_feature_rows(imgs),
        note=[f"row{i}" for i in range(n)],  # ignored by the encoder
    )
    feats = datasets.Features({
        "action": datasets.Value("int64"), "reward": datasets.Value("float32"),
        "done": datasets.Value("int64"), "xformed_reward": datasets.Value("float64"),
        "episode_step": datasets.Value("int32"),
        "metadata_q_star": datasets.List(datasets.Value("float32")),
        "observation": datasets.List(datasets.Value("float64")),
        "observation_discrete": datasets.Value("int64"),
        "observation_image": datasets.Image(), "note": datasets.Value("string"),
    })
    return on_disk(tmp_path, data, feats)


@pytest.mark.parametrize("dims", [(3, 2, 5, 10), (6, 5, 5, 30), (1, 1, 1, 1)])
def test_match_encode_hf_rows_all_columns(full_ds, dims):
    """q_star truncated / -inf padded to max_action_dim, obs zero-padded / truncated, images
    decoded H×W×C flattened int64 with null rows zero, extra columns ignored."""
    ours, theirs = both_stores(*dims)
    rows = full_ds[:]
    assert_td_equal(ours.encode_hf_rows(rows), theirs.encode_hf_rows(rows))


def test_match_encode_null_qstar_not_first_row_is_neg_inf(tmp_path):
    ds = on_disk(tmp_path, step_data(4, metadata_q_star=[[1.0, 2.0], None, [3.0], None]))
    ours, theirs = both_stores(3)
    rows = ds[:]
    assert_td_equal(ours.encode_hf_rows(rows), theirs.encode_hf_rows(rows))


def test_match_encode_grey_rgba_images_and_list_discrete(tmp_path):
    grey = [np.arange(6, dtype=np.uint8).reshape(2, 3) + i for i in range(3)]
    rgba = [np.full((1, 2, 4), 10 * i, dtype=np.uint8) for i in range(3)]
    for imgs in (grey, rgba):
        ds = on_disk(tmp_path, step_data(3, observation_image=image_feature_rows(imgs),
                                         observation_discrete=[[1, 2], [3, 4], [5, 6]]),
                     datasets.Features({"action": datasets.Value("int64"),
                                        "reward": datasets.Value("float64"),
                                        "done": datasets.Value("int64"),
                                        "observation_image": datasets.Image(),
                                        "observation_discrete": datasets.List(datasets.Value("int64"))}),
                     name=f"img{imgs[0].ndim}")
        ours, theirs = both_stores(2, 0, 2, 9)  # obs_discrete width == list length: comparable
        assert_td_equal(ours.encode_hf_rows(ds[:]), theirs.encode_hf_rows(ds[:]))


def _jpeg_ds(tmp_path):
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    PIL_Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(buf, "JPEG", quality=80)
    return on_disk(tmp_path, step_data(1, observation_image=[{"bytes": buf.getvalue(), "path": None}]),
                   datasets.Features({"action": datasets.Value("int64"),
                                      "reward": datasets.Value("float64"),
                                      "done": datasets.Value("int64"),
                                      "observation_image": datasets.Image()}))


def test_match_jpeg_image_via_index(tmp_path):
    """Our libjpeg-turbo decode equals Pillow's, pixel for pixel."""
    ds = _jpeg_ds(tmp_path)
    ours, theirs = both_stores(2, 0, 0, 192)
    ours.from_dataset(ds)
    theirs.from_dataset(ds)
    assert_td_equal(ours[[0]], theirs[[0]])
    assert_td_equal(ours.encode_hf_rows(ds), theirs.encode_hf_rows(ds[:]))


def test_match_encode_hf_rows_dict_with_decoded_jpeg(tmp_path):
    """``ds[:]`` holds decoded PIL JPEG images; they must be encoded as they are (a re-encode to
    JPEG through Dataset.from_dict is lossy)."""
    ds = _jpeg_ds(tmp_path)
    ours, theirs = both_stores(2, 0, 0, 192)
    assert_td_equal(ours.encode_hf_rows(ds[:]), theirs.encode_hf_rows(ds[:]))


def test_match_encode_bool_columns(tmp_path):
    ds = on_disk(tmp_path, {"action": [True, False], "reward": [True, False], "done": [False, True]})
    ours, theirs = both_stores(2)
    assert_td_equal(ours.encode_hf_rows(ds[:]), theirs.encode_hf_rows(ds[:]))


def test_match_missing_required_column_is_an_error(tmp_path):
    ds = on_disk(tmp_path, {"action": [1], "reward": [1.0]})
    ours, theirs = both_stores(2)
    assert raises(lambda: theirs.encode_hf_rows(ds[:])) is not None
    e = raises(lambda: ours.encode_hf_rows(ds[:]))
    assert e is not None and "done" in str(e)


@pytest.mark.parametrize("idx", [[0, 3, 5], [6, 0, 2, 2], [-1, -7, 4]])
def test_match_index_source_rows(full_ds, idx):
    ours, theirs = both_stores(4, 2, 3, 18)
    ours.from_dataset(full_ds)
    theirs.from_dataset(full_ds)
    assert len(ours) == len(theirs) == 7
    assert_td_equal(ours[idx], theirs[idx])


def buffer_rows(n, start=100):
    return [{"action": (start + i) % 3, "reward": 0.5 * i, "done": i % 2, "episode_step": i,
             "metadata_q_star": [float(i), -2.0], "observation": [1.0 * i, 2.0, 3.0]}
            for i in range(n)]


def test_match_index_buffer_rows():
    ours, theirs = both_stores(3, 4)
    for r in buffer_rows(5):
        ours.append(r)
        theirs.append(r)
    for idx in ([0, 1, 2, 3, 4], [4, 0, 2], [-1, -5]):
        assert_td_equal(ours[idx], theirs[idx])


def test_match_index_mixed_rows(tmp_path):
    """Mixed source/buffer rows with the same columns in both segments (non-negative indices)."""
    ds = on_disk(tmp_path, step_data(4, episode_step=[0, 1, 2, 3],
                                     metadata_q_star=[[9.0, 8.0]] * 4,
                                     observation=[[0.5, 0.25, 0.125]] * 4))
    ours, theirs = both_stores(3, 4)
    for s in (ours, theirs):
        s.from_dataset(ds)
        for r in buffer_rows(3):
            s.append(r)
    assert len(ours) == len(theirs) == 7
    for idx in ([0, 4, 1, 6], [5, 3, 4, 0], [2]):
        assert_td_equal(ours[idx], theirs[idx])


def test_match_out_of_range_index_is_index_error(full_ds):
    ours, theirs = both_stores(4)
    ours.from_dataset(full_ds)
    theirs.from_dataset(full_ds)
    assert isinstance(raises(lambda: theirs[[7]]), IndexError)
    e = raises(lambda: ours[[7]])
    assert isinstance(e, IndexError) and "7" in str(e)


def test_match_from_dataset_splits(tmp_path):
    parts = {n: datasets.Dataset.from_dict(step_data(k)) for n, k in
             (("train_a", 3), ("train_b", 4), ("test", 5), ("empty", 0))}
    dd = datasets.DatasetDict(parts)
    for kw, want in (({}, 12), ({"splits": ["test", "train_a"]}, 8),
                     ({"split_pattern": "train_*"}, 7), ({"split_pattern": ["t?st", "*_b"]}, 9)):
        ours, theirs = both_stores(3)
        ours.from_dataset(dd, **kw)
        theirs.from_dataset(dd, **kw)
        assert len(ours) == len(theirs) == want
        assert_td_equal(ours[list(range(want))], theirs[list(range(want))])
    for kw, exc in (({"splits": ["nope"]}, KeyError), ({"split_pattern": "x*"}, KeyError),
                    ({"splits": ["test"], "split_pattern": "t*"}, ValueError)):
        ours, theirs = both_stores(3)
        assert isinstance(raises(lambda: theirs.from_dataset(dd, **kw)), exc)
        assert isinstance(raises(lambda: ours.from_dataset(dd, **kw)), exc)


def test_match_to_dataset_source_only_and_buffer(tmp_path, full_ds):
    ours, theirs = both_stores(3)
    ours.from_dataset(full_ds)
    theirs.from_dataset(full_ds)
    assert theirs.to_dataset() is full_ds
    assert ours.to_dataset()[:]["note"] == full_ds[:]["note"]
    ours, theirs = both_stores(3, 0, 0, 12)
    img = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    for s in (ours, theirs):
        s.append({"action": 1, "reward": 0.5, "done": 0, "observation_image": img})
        s.append({"action": 2, "reward": 1.5, "done": 1, "observation_image": img[::-1].copy()})
    a, b = ours.to_dataset(), theirs.to_dataset()
    assert isinstance(a.features["observation_image"], datasets.Image)
    assert isinstance(b.features["observation_image"], datasets.Image)
    for ra, rb in zip(a, b):
        assert ra["action"] == rb["action"] and ra["reward"] == rb["reward"]
        assert np.array_equal(np.asarray(ra["observation_image"]), np.asarray(rb["observation_image"]))
    # and the result loads back into either store with the same encoding
    o2, t2 = both_stores(3, 0, 0, 12)
    o2.from_dataset(a)
    t2.from_dataset(b)
    assert_td_equal(o2[[0, 1]], t2[[0, 1]])


def test_match_merge_stores(tmp_path):
    ds1 = on_disk(tmp_path, step_data(3), name="a")
    ds2 = on_disk(tmp_path, step_data(2), name="b")
    o1, t1 = both_stores(3)
    o2, t2 = both_stores(3)
    o1.from_dataset(ds1); t1.from_dataset(ds1)
    o2.from_dataset(ds2); t2.from_dataset(ds2)
    a = MD.DatasetStore.merge_stores_to_dataset([o1, o2])
    b = MC_DS.DatasetStore.merge_stores_to_dataset([t1, t2])
    assert a[:]["action"] == b[:]["action"] and len(a) == 5
    assert len(MD.DatasetStore.merge_stores_to_dataset([])) == 0
    assert len(MC_DS.DatasetStore.merge_stores_to_dataset([])) == 0


def test_match_constructor_max_action_dim_must_be_positive():
    assert isinstance(raises(lambda: MC_DS.DatasetStore(0)), ValueError)
    assert isinstance(raises(lambda: MD.DatasetStore(0)), ValueError)


def test_match_empty_row_append_is_value_error():
    ours, theirs = both_stores(3)
    assert isinstance(raises(lambda: theirs.append({})), ValueError)
    assert isinstance(raises(lambda: ours.append({})), ValueError)


# ---------------------------------------------------------------------------------------------
# Behaviour we match: sampling starts and total_batches
# ---------------------------------------------------------------------------------------------


def index_store_pair(tmp_path, n):
    """Stores whose row i has action = i, so a window's start is its first action."""
    ds = on_disk(tmp_path, {"action": list(range(n)), "reward": [0.0] * n, "done": [0] * n},
                 name=f"idx{n}")
    ours, theirs = both_stores(n + 1)
    ours.from_dataset(ds)
    theirs.from_dataset(ds)
    return ours, theirs


def mc_starts(bf):
    return bf.next_batch()["action"][:, 0].tolist()


CASES = [(23, 5, 2), (20, 5, 4), (20, 5, 3), (7, 7, 1), (50, 3, 7), (10, 1, 10)]


@pytest.mark.parametrize("n,s,b", CASES)
def test_match_last_starts_and_total_batches(tmp_path, n, s, b):
    ours, theirs = index_store_pair(tmp_path, n)
    w = n // s
    if w < b:
        pytest.skip("W < B: see test_diff_18")
    t = MC_B.PrefetchBatchifier(theirs, s, b, sampling="last", num_workers=0)
    o = MD.PrefetchBatchifier(ours, s, b, sampling="last", num_workers=0, seed=0)
    try:
        expected = [(w - b + i) * s for i in range(b)]  # (W-B .. W-1) * S
        for _ in range(3):
            got_t = mc_starts(t)
            nb = o.next()
            assert got_t == expected
            assert list(nb.starts) == expected
            assert nb.data["action"][:, 0].tolist() == expected
            assert nb.data["action"].tolist() == [list(range(x, x + s)) for x in expected]
        assert o.total_batches == t.total_batches == -(-w // b)
    finally:
        o.close()
        t.close()


@pytest.mark.parametrize("n,s,b", CASES)
@pytest.mark.parametrize("workers", [0, 1, 3])
def test_match_sequential_starts(tmp_path, n, s, b, workers):
    ours, theirs = index_store_pair(tmp_path, n)
    w = n // s
    epoch = [[k * s for k in range(i, min(i + b, w))] for i in range(0, w, b)]
    expected = (epoch * 3)[: 2 * len(epoch) + 1]
    t = MC_B.PrefetchBatchifier(theirs, s, b, sampling="sequential", num_workers=1)
    o = MD.PrefetchBatchifier(ours, s, b, sampling="sequential", num_workers=workers, seed=0)
    try:
        got_t = [mc_starts(t) for _ in expected]
        got_o = [list(o.next().starts) for _ in expected]
        assert got_t == expected
        assert got_o == expected
        assert o.total_batches == t.total_batches == len(epoch)
    finally:
        o.close()
        t.close()


@pytest.mark.parametrize("n,s,b", [(23, 5, 2), (50, 3, 7)])
def test_match_batch_mode_epoch_covers_every_window_once(tmp_path, n, s, b):
    """The order is random on both sides (so not comparable), but each epoch is a permutation
    of all W windows, B per batch with a short last batch."""
    ours, theirs = index_store_pair(tmp_path, n)
    w = n // s
    nb = -(-w // b)
    t = MC_B.PrefetchBatchifier(theirs, s, b, sampling="batch", num_workers=1)
    o = MD.PrefetchBatchifier(ours, s, b, sampling="batch", num_workers=0, seed=5)
    try:
        for get in (lambda: mc_starts(t), lambda: list(o.next().starts)):
            for _ in range(2):
                batches = [get() for _ in range(nb)]
                assert [len(x) for x in batches] == [min(b, w - i * b) for i in range(nb)]
                assert sorted(sum(batches, [])) == [k * s for k in range(w)]
    finally:
        o.close()
        t.close()


def test_match_windows_are_consecutive_rows_across_episodes(tmp_path):
    """Windows are dataset[start:start+S], crossing done flags (boundaries='none')."""
    n = 12
    ds = on_disk(tmp_path, {"action": list(range(n)), "reward": [0.0] * n,
                            "done": [1 if i % 3 == 2 else 0 for i in range(n)]})
    ours, theirs = both_stores(20)
    ours.from_dataset(ds)
    theirs.from_dataset(ds)
    t = MC_B.PrefetchBatchifier(theirs, 4, 3, sampling="sequential", num_workers=1)
    o = MD.PrefetchBatchifier(ours, 4, 3, sampling="sequential", num_workers=0, seed=0,
                              boundaries="none")
    try:
        assert_td_equal(o.next_batch(), t.next_batch())
    finally:
        o.close()
        t.close()


# ---------------------------------------------------------------------------------------------
# Behaviour we match: the augmenter's deterministic parts
# ---------------------------------------------------------------------------------------------


def aug_batch():
    b, s = 2, 4
    return TensorDict({
        "action": torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0]]),
        "reward": torch.tensor([[0.1, 1.0, -2.5, 3.3], [0.0, -0.7, 7.0, 1e-3]], dtype=torch.float32),
        "done": torch.tensor([[0, 1, 2, 0], [2, 2, 1, 0]]),
        "time": torch.tensor([[0, 1, 2, 3]] * 2),
        "q_star": torch.arange(32, dtype=torch.float32).reshape(2, 4, 4),
        "obs_continuous": torch.linspace(-1, 1, 24, dtype=torch.float64).reshape(2, 4, 3),
        "obs_discrete": torch.tensor([[0, 1, 2, 4], [4, 3, 2, 1]]),
        "obs_image": torch.tensor([[[0, 1, 3, 5, 7, 100, 128, 254, 255]] * 4] * 2),
    }, batch_size=[b, s])


PERM_ACTION = torch.tensor([[1, 2, 3, 0], [3, 0, 2, 1]])
PERM_DONE = torch.tensor([[2, 0, 1], [1, 2, 0]])

# (our snapshot attribute, mouse-core snapshot attribute); ours may use either spelling.
SNAP_FIELDS = {
    "action_perm": ("perm_action",), "done_perm": ("perm_done",),
    "obs_discrete_perm": ("perm_obs_discrete",), "scale_reward": ("r_scale",),
    "shift_reward": ("r_shift",), "scale_obs": ("o_scale",), "shift_obs": ("o_shift",),
    "scale_obs_image": ("im_scale",), "shift_obs_image": ("im_shift",),
}


def impose(pair, batch, **values):
    """Draw a snapshot on both augmenters, then overwrite the given members (names in the
    brief's spelling, e.g. action_perm, scale_reward) with the same values on both."""
    ours, theirs = pair
    ours.update_augmentations(batch)
    theirs.update_augmentations(batch)
    snap_t = theirs.snapshot
    snap_o = ours.snapshot
    for name, value in values.items():
        mc_name = SNAP_FIELDS[name][0]
        assert hasattr(snap_t, mc_name)
        setattr(snap_t, mc_name, value)
        our_name = name if hasattr(snap_o, name) else mc_name
        assert hasattr(snap_o, our_name), f"our snapshot has neither {name} nor {mc_name}"
        setattr(snap_o, our_name, value)
    ours.set_snapshot(snap_o)
    theirs._snapshot = snap_t  # mouse-core has no setter; its __call__ reads _snapshot


def aug_pair(max_actions=4, max_disc=5, **cfg):
    ours = MD.TokenAugmenter(MD.AugmentTokensConfig(**_convert_cfg(cfg, MD)), max_actions, max_disc,
                             CPU, generator=None)
    theirs = MC_A.TokenAugmenter(MC_A.AugmentTokensConfig(**_convert_cfg(cfg, MC_A)), max_actions,
                                 max_disc, CPU, torch.Generator().manual_seed(0))
    return ours, theirs


def _convert_cfg(cfg, mod):
    out = {}
    for k, v in cfg.items():
        if isinstance(v, tuple) and k == "mask_prob":
            out[k] = mod.AugmentMaskProbConfig(*v)
        elif isinstance(v, tuple):
            out[k] = mod.AugmentScalarSpec(*v)
        else:
            out[k] = v
    return out


def run_pair(pair, batch):
    ours, theirs = pair
    before = batch.clone()
    a, b = ours(batch), theirs(batch)
    assert_td_equal(batch, before)  # the input never changes
    return a, b


@pytest.mark.parametrize("mode", ["input", "target", "both"])
def test_match_action_permutation_given_snapshot(mode):
    pair = aug_pair(permute_action=mode)
    batch = aug_batch()
    impose(pair, batch, action_perm=PERM_ACTION.clone())
    a, b = run_pair(pair, batch)
    assert_td_equal(a, b)
    if mode != "input":  # q_star columns follow their action: new[perm[a]] = old[a]
        assert a["q_star"][0, 0].tolist() == [3.0, 0.0, 1.0, 2.0]


def test_match_done_permutation_given_snapshot():
    pair = aug_pair(permute_done=True)
    batch = aug_batch()
    impose(pair, batch, done_perm=PERM_DONE.clone())
    assert_td_equal(*run_pair(pair, batch))


@pytest.mark.parametrize("scale,shift", [(0.37, 0.0), (1.0, -0.21), (2.5, 0.125), (-1.3, 3.7)])
def test_match_reward_and_obs_scale_shift_given_scalars(scale, shift):
    pair = aug_pair(scale_reward=(1.0, 0.0, 0.1, 3.0), shift_reward=(0.0, 0.0, -1.0, 1.0),
                    scale_obs=(1.0, 0.0, 0.1, 3.0), shift_obs=(0.0, 0.0, -1.0, 1.0))
    batch = aug_batch()
    impose(pair, batch, scale_reward=scale, shift_reward=shift, scale_obs=scale, shift_obs=shift)
    assert_td_equal(*run_pair(pair, batch))


@pytest.mark.parametrize("scale,shift", [(0.5, 0.5), (1.5, -0.5), (3.0, 0.0), (1.0, 200.0),
                                          (0.25, -3.5), (1.0 / 3.0, 0.49999997)])
def test_match_image_scale_shift_round_half_even_and_clamp(scale, shift):
    pair = aug_pair(scale_obs_image=(1.0, 0.0, 0.1, 3.0), shift_obs_image=(0.0, 0.0, -9.0, 9.0))
    batch = aug_batch()
    impose(pair, batch, scale_obs_image=scale, shift_obs_image=shift)
    a, b = run_pair(pair, batch)
    assert_td_equal(a, b)
    assert int(a["obs_image"].min()) >= 0 and int(a["obs_image"].max()) <= 255


def test_match_image_fixed_scalars_without_imposing():
    """low == high (not identity) is a fixed draw on both sides: no snapshot surgery needed."""
    pair = aug_pair(scale_obs_image=(1.0, 0.0, 0.5, 0.5), shift_obs_image=(0.0, 0.0, 0.5, 0.5),
                    scale_reward=(1.0, 0.0, 2.0, 2.0))
    batch = aug_batch()
    for p in pair:
        p.update_augmentations(batch)
    a, b = run_pair(pair, batch)
    assert_td_equal(a, b)
    assert a["obs_image"][0, 0].tolist() == [0, 0, 2, 2, 4, 50, 64, 128, 128]


def test_match_masks_with_probability_one():
    """Every position masked: 0 (time -1, vectors all 0); q_star untouched; permutations after
    masks map the masked 0 through the permutation."""
    pair = aug_pair(mask_prob=(1.0,) * 7)
    batch = aug_batch()
    for p in pair:
        p.update_augmentations(batch)
    a, b = run_pair(pair, batch)
    assert_td_equal(a, b)
    assert set(a["time"].flatten().tolist()) == {-1}
    pair = aug_pair(mask_prob=(1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0), permute_action="both",
                    permute_done=True)
    impose(pair, batch, action_perm=PERM_ACTION.clone(), done_perm=PERM_DONE.clone())
    assert_td_equal(*run_pair(pair, batch))


def test_match_disabled_returns_input_itself():
    for cfg in ({}, {"enabled": False, "permute_done": True}):
        ours, theirs = aug_pair(**cfg)
        batch = aug_batch()
        ours.update_augmentations(batch)
        theirs.update_augmentations(batch)
        assert theirs.snapshot is None and ours.snapshot is None
        assert theirs(batch) is batch
        assert ours(batch) is batch


def test_match_no_snapshot_and_batch_size_mismatch_are_errors():
    ours, theirs = aug_pair(permute_done=True)
    batch = aug_batch()
    assert raises(lambda: theirs(batch)) is not None
    assert raises(lambda: ours(batch)) is not None
    ours.update_augmentations(batch)
    theirs.update_augmentations(batch)
    small = batch[:1]
    assert isinstance(raises(lambda: theirs(small)), ValueError)
    assert isinstance(raises(lambda: ours(small)), ValueError)


def test_match_config_validation():
    for mod in (MD, MC_A):
        assert isinstance(raises(lambda: mod.AugmentScalarSpec(1.0, low=0.5)), ValueError)
        assert isinstance(raises(lambda: mod.AugmentTokensConfig(permute_action="sideways")), ValueError)
        assert isinstance(raises(lambda: mod.AugmentTokensConfig(permute_action=True)), ValueError)
        cfg = mod.AugmentTokensConfig(scale_reward=mod.AugmentScalarSpec(1.0, low=2.0, high=2.0))
        assert cfg.any_enabled()
        cfg = mod.AugmentTokensConfig(scale_reward=mod.AugmentScalarSpec(5.0, low=1.0, high=1.0))
        assert not cfg.any_enabled()  # low == high == identity: inactive (mean ignored)


def test_match_snapshot_shapes():
    ours, theirs = aug_pair(permute_action="both", permute_done=True, permute_obs_discrete=True,
                            scale_reward=(1.0, 0.0, 0.5, 1.5))
    batch = aug_batch()
    ours.update_augmentations(batch)
    theirs.update_augmentations(batch)
    so, st = ours.snapshot, theirs.snapshot
    for ours_name, (mc_name,) in SNAP_FIELDS.items():
        vo = getattr(so, ours_name, getattr(so, mc_name, "missing"))
        vt = getattr(st, mc_name)
        assert (vo is None) == (vt is None), ours_name
        if isinstance(vt, torch.Tensor):
            vo = torch.as_tensor(vo)
            assert vo.dtype == vt.dtype == torch.int64 and vo.shape == vt.shape
            assert torch.equal(vo.sort(dim=1).values,
                               torch.arange(vt.shape[1]).expand_as(vt))  # rows are permutations
    assert 0.5 <= so_scale(so) < 1.5


def so_scale(snap):
    return getattr(snap, "scale_reward", None) if hasattr(snap, "scale_reward") else snap.r_scale


# ---------------------------------------------------------------------------------------------
# Deliberate differences (numbers = items in python/DIFFERENCES.md)
# ---------------------------------------------------------------------------------------------


def test_diff_01_keys_from_schema_not_first_row(tmp_path):
    ds = on_disk(tmp_path, step_data(4, metadata_q_star=[None, [1.0], [2.0], None],
                                     observation=[None, [1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    # actions 0..2 with a 2-wide q_star: outside the value contract, which ours checks (item 29)
    ours, theirs = MD.DatasetStore(2, 2, validate=False), MC_DS.DatasetStore(2, 2)
    t = theirs.encode_hf_rows(ds[:])
    o = ours.encode_hf_rows(ds[:])
    assert "q_star" not in t.keys() and "obs_continuous" not in t.keys()
    assert o["q_star"].tolist()[1] == [1.0, float("-inf")]
    assert o["obs_continuous"].tolist()[0] == [0.0, 0.0]
    # so batches of one store flicker in mouse-core and never in ours
    for s in (ours, theirs):
        s.from_dataset(ds)
    t = MC_B.PrefetchBatchifier(theirs, 1, 1, sampling="sequential", num_workers=1)
    o = MD.PrefetchBatchifier(ours, 1, 1, sampling="sequential", num_workers=0, seed=0)
    try:
        assert len({tuple(sorted(t.next_batch().keys())) for _ in range(4)}) >= 2
        assert len({tuple(sorted(o.next_batch().keys())) for _ in range(4)}) == 1
    finally:
        o.close()
        t.close()


def test_diff_02_null_episode_step_is_minus_one(tmp_path):
    ds = on_disk(tmp_path, step_data(3, episode_step=[0, None, 2]))
    ours, theirs = both_stores(2)
    assert isinstance(raises(lambda: theirs.encode_hf_rows(ds[:])), TypeError)
    assert ours.encode_hf_rows(ds[:])["time"].tolist() == [0, -1, 2]  # SPEC §3


def test_diff_03_nulls_and_ragged_lists_in_obs_and_qstar(tmp_path):
    ours, theirs = both_stores(3, 3)
    rows = step_data(3, observation=[[1.0, 2.0], None, [3.0]])
    assert raises(lambda: theirs.encode_hf_rows(rows)) is not None
    assert ours.encode_hf_rows(rows)["obs_continuous"].tolist() == [[1, 2, 0], [0, 0, 0], [3, 0, 0]]
    rows = step_data(2, metadata_q_star=[[1.0], [1.0, 2.0]])
    assert raises(lambda: theirs.encode_hf_rows(rows)) is not None
    inf = float("-inf")
    assert ours.encode_hf_rows(rows)["q_star"].tolist() == [[1, inf, inf], [1, 2, inf]]


def test_diff_04_scalar_observation_column(tmp_path):
    rows = step_data(2, observation=[1.5, 2.5])
    ours, theirs = both_stores(2, 3)
    assert isinstance(raises(lambda: theirs.encode_hf_rows(rows)), IndexError)
    assert ours.encode_hf_rows(rows)["obs_continuous"].tolist() == [[1.5, 0, 0], [2.5, 0, 0]]


def test_diff_05_obs_discrete_list_is_padded_to_max_dim(tmp_path):
    rows = step_data(2, observation_discrete=[[1, 2, 3], [4, 5, 6]])
    ours, theirs = both_stores(2, 0, 2)
    assert theirs.encode_hf_rows(rows)["obs_discrete"].shape == (2, 3)  # raw list width
    assert ours.encode_hf_rows(rows)["obs_discrete"].tolist() == [[1, 2], [4, 5]]
    ours, theirs = both_stores(2, 0, 4)
    assert theirs.encode_hf_rows(rows)["obs_discrete"].shape == (2, 3)
    assert ours.encode_hf_rows(rows)["obs_discrete"].tolist() == [[1, 2, 3, 0], [4, 5, 6, 0]]
    rows = step_data(2, observation_discrete=[3, None])
    assert isinstance(raises(lambda: theirs.encode_hf_rows(rows)), TypeError)
    assert ours.encode_hf_rows(rows)["obs_discrete"].tolist() == [3, 0]


def test_diff_06_integer_columns_stored_as_float(tmp_path):
    ours, theirs = both_stores(2)
    rows = step_data(2)
    rows["action"] = [1.7, 2.0]
    assert theirs.encode_hf_rows(rows)["action"].tolist() == [1, 2]  # silently truncated
    assert raises(lambda: ours.encode_hf_rows(rows)) is not None
    rows["action"] = [1.0, 2.0]  # integral floats are accepted (SPEC §3)
    assert ours.encode_hf_rows(rows)["action"].tolist() == [1, 2]


def test_diff_07_null_reward_and_xformed_reward(tmp_path):
    ds = on_disk(tmp_path, step_data(2, xformed_reward=[None, 1.0]))
    ours, theirs = both_stores(2)
    assert torch.isnan(theirs.encode_hf_rows(ds[:])["xformed_reward"][0])
    assert ours.encode_hf_rows(ds[:])["xformed_reward"].tolist() == [0.0, 1.0]
    ds = on_disk(tmp_path, {"action": [0, 1], "reward": [None, 1.0], "done": [0, 0]}, name="r")
    assert torch.isnan(theirs.encode_hf_rows(ds[:])["reward"][0])
    e = raises(lambda: ours.encode_hf_rows(ds[:]))
    assert isinstance(e, ValueError) and "reward" in str(e)


def _img_ds(tmp_path, pil, name):
    buf = io.BytesIO()
    pil.save(buf, "PNG")
    return on_disk(tmp_path, step_data(1, observation_image=[{"bytes": buf.getvalue(), "path": None}]),
                   datasets.Features({"action": datasets.Value("int64"),
                                      "reward": datasets.Value("float64"),
                                      "done": datasets.Value("int64"),
                                      "observation_image": datasets.Image()}), name=name)


def test_diff_08_palette_16bit_and_1bit_png(tmp_path):
    pal = PIL_Image.fromarray(np.array([[0, 1], [2, 3]], dtype=np.uint8), "P")
    pal.putpalette([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120] + [0] * 756)
    ds = _img_ds(tmp_path, pal, "pal")
    ours, theirs = both_stores(2, 0, 0, 12)
    assert theirs.encode_hf_rows(ds[:])["obs_image"][0].tolist() == [0, 1, 2, 3] + [0] * 8
    assert ours.encode_hf_rows(ds[:])["obs_image"][0].tolist() == [10, 20, 30, 40, 50, 60, 70, 80,
                                                                    90, 100, 110, 120]
    i16 = PIL_Image.fromarray(np.array([[300, 5]], dtype=np.uint16))
    ds = _img_ds(tmp_path, i16, "i16")
    assert theirs.encode_hf_rows(ds[:])["obs_image"][0, :2].tolist() == [300 % 256, 5]
    assert ours.encode_hf_rows(ds[:])["obs_image"][0, :2].tolist() == [300 >> 8, 0]
    bw = PIL_Image.fromarray(np.array([[True, False]]))
    ds = _img_ds(tmp_path, bw, "bw")
    assert theirs.encode_hf_rows(ds[:])["obs_image"][0, :2].tolist() == [1, 0]
    assert ours.encode_hf_rows(ds[:])["obs_image"][0, :2].tolist() == [255, 0]


def test_diff_09_obs_image_dtype_option(full_ds):
    # actions 0..2 with a 2-wide q_star: outside the value contract, which ours checks (item 29)
    o8 = MD.DatasetStore(2, 0, 0, 18, obs_image_dtype="uint8", validate=False)
    o64, theirs = MD.DatasetStore(2, 0, 0, 18, validate=False), MC_DS.DatasetStore(2, 0, 0, 18)
    for s in (o8, o64, theirs):
        s.from_dataset(full_ds)
    t = theirs[[0, 1]]["obs_image"]
    assert t.dtype == torch.int64 and o64[[0, 1]]["obs_image"].dtype == torch.int64
    got = o8[[0, 1]]["obs_image"]
    assert got.dtype == torch.uint8 and torch.equal(got.long(), t)


def test_diff_10_negative_index_with_buffer_counts_from_global_end(tmp_path):
    ds = on_disk(tmp_path, step_data(3))
    ours, theirs = both_stores(2)
    for s in (ours, theirs):
        s.from_dataset(ds)
        s.append({"action": 2, "reward": 9.0, "done": 1})
    assert theirs[[-1]]["reward"].tolist() == [0.5]  # the last *source* row
    assert ours[[-1]]["reward"].tolist() == [9.0]  # the last row of the store


def test_diff_11_mixed_rows_qstar_fill_is_neg_inf(tmp_path):
    ds = on_disk(tmp_path, step_data(2, metadata_q_star=[[1.0, 2.0]] * 2))
    ours, theirs = both_stores(2)
    for s in (ours, theirs):
        s.from_dataset(ds)
        s.append({"action": 1, "reward": 9.0, "done": 1})
    assert theirs[[0, 2]]["q_star"].tolist()[1] == [0.0, 0.0]
    assert ours[[0, 2]]["q_star"].tolist()[1] == [float("-inf")] * 2


def test_diff_12_buffer_keys_from_buffer_schema_not_first_requested_row():
    ours, theirs = both_stores(2)
    for s in (ours, theirs):
        s.append({"action": 1, "reward": 0.0, "done": 0})
        s.append({"action": 2, "reward": 0.0, "done": 0, "episode_step": 5})
    assert "time" not in theirs[[0, 1]].keys()
    assert isinstance(raises(lambda: theirs[[1, 0]]), TypeError)
    assert ours[[0, 1]]["time"].tolist() == [-1, 5]
    assert ours[[1, 0]]["time"].tolist() == [5, -1]


def test_diff_13_append_checks_types_at_once():
    ours, theirs = both_stores(2)
    for s in (ours, theirs):
        s.append({"action": 1, "reward": 0.0, "done": 0})
    theirs.append({"action": "x", "reward": 0.0, "done": 0})  # accepted, fails later
    assert len(theirs) == 2
    assert raises(lambda: theirs.to_dataset()) is not None
    assert isinstance(raises(lambda: ours.append({"action": "x", "reward": 0.0, "done": 0})), TypeError)
    assert len(ours) == 1
    assert isinstance(raises(lambda: ours.append({"action": 1})), ValueError)  # no reward / done
    theirs.append({"action": 1})
    assert len(theirs) == 3
    # Values outside the contract: stored by the original, refused by ours (naming column, row).
    for bad in ({"done": 3}, {"action": -1}, {"reward": float("nan")}, {"action": 1.5}):
        row = {"action": 1, "reward": 0.0, "done": 0, **bad}
        theirs.append(row)
        err = raises(lambda: ours.append(row))
        assert isinstance(err, ValueError) and "at row 1" in str(err), err
    assert len(theirs) == 7
    assert len(ours) == 1


def test_diff_14_to_dataset_keeps_every_column():
    ours, theirs = both_stores(2)
    for s in (ours, theirs):
        s.append({"action": 1, "reward": 0.0, "done": 0})
        s.append({"action": 2, "reward": 0.5, "done": 1, "episode_step": 4})
    assert "episode_step" not in theirs.to_dataset().column_names
    d = ours.to_dataset()
    assert set(d.column_names) == {"action", "reward", "done", "episode_step"}
    assert d["episode_step"] == [None, 4]


def test_diff_33_columns_new_in_one_row_are_ordered_by_name():
    """mouse-core (Dataset.from_list) keeps the first row's key order; ours keeps the order of
    first appearance across rows, and columns new in the same row by name (DIFFERENCES 33)."""
    ours, theirs = both_stores(2)
    for s in (ours, theirs):
        s.append({"reward": 0.0, "action": 1, "done": 0, "zeta": 1, "beta": 2})
    assert theirs.to_dataset().column_names == ["reward", "action", "done", "zeta", "beta"]
    assert ours.to_dataset().column_names == ["action", "beta", "done", "reward", "zeta"]
    ours.append({"action": 1, "reward": 0.0, "done": 0, "alpha": 3})
    assert ours.to_dataset().column_names[-1] == "alpha"


def test_diff_15_float_pixels_scaled_consistently():
    ours, theirs = both_stores(2, 0, 0, 3)
    px = np.full((1, 1, 3), 0.5)
    for s in (ours, theirs):
        s.append({"action": 1, "reward": 0.0, "done": 0, "observation_image": px})
    assert theirs[[0]]["obs_image"].tolist() == [[0, 0, 0]]  # indexing truncates 0.5 -> 0 ...
    t2 = MC_DS.DatasetStore(2, 0, 0, 3)
    t2.from_dataset(theirs.to_dataset())
    assert t2[[0]]["obs_image"].tolist() == [[127, 127, 127]]  # ... to_dataset scales x255
    assert ours[[0]]["obs_image"].tolist() == [[127, 127, 127]]  # ours: x255 at append


def test_diff_16_appended_rows_are_sampled(tmp_path):
    ds = on_disk(tmp_path, {"action": [0, 1, 2], "reward": [0.0] * 3, "done": [0] * 3})
    ours, theirs = both_stores(200)
    for s in (ours, theirs):
        s.from_dataset(ds)
    t = MC_B.PrefetchBatchifier(theirs, 1, 1, sampling="last", num_workers=0)
    o = MD.PrefetchBatchifier(ours, 1, 1, sampling="last", num_workers=0, seed=0)
    try:
        for s in (ours, theirs):
            s.append({"action": 100, "reward": 0.0, "done": 0})
        assert t.next_batch()["action"].tolist() == [[2]]
        assert o.next_batch()["action"].tolist() == [[100]]
    finally:
        o.close()
        t.close()
    buf_o, buf_t = both_stores(200)
    for s in (buf_o, buf_t):
        for i in range(4):
            s.append({"action": i, "reward": 0.0, "done": 0})
    assert isinstance(raises(lambda: MC_B.PrefetchBatchifier(buf_t, 2, 1)), TypeError)
    with MD.PrefetchBatchifier(buf_o, 2, 1, sampling="last", num_workers=0, seed=0) as b:
        assert b.next_batch()["action"].tolist() == [[2, 3]]


def test_diff_17_num_workers_zero_and_many_for_ordered_modes(tmp_path):
    ours, theirs = index_store_pair(tmp_path, 20)
    t = MC_B.PrefetchBatchifier(theirs, 2, 3, sampling="sequential", num_workers=0)
    try:
        assert len(t._workers) == 1  # 0 is overridden: one background thread
    finally:
        t.close()
    ref = None
    for workers in (0, 1, 4):
        with MD.PrefetchBatchifier(ours, 2, 3, sampling="batch", num_workers=workers, seed=9) as o:
            got = [list(o.next().starts) for _ in range(10)]
        ref = ref or got
        assert got == ref  # same seed, same order, whatever the number of workers


def test_diff_18_argument_errors_at_construction(tmp_path):
    ours, theirs = index_store_pair(tmp_path, 10)
    # mouse-core: errors surface late (first next_batch) or odd ones
    assert isinstance(raises(lambda: MC_B.PrefetchBatchifier(theirs, 11, 1, num_workers=0).next_batch()),
                      ValueError)  # numpy "high <= 0"
    assert isinstance(raises(lambda: MC_B.PrefetchBatchifier(theirs, 0, 1, num_workers=0)),
                      ZeroDivisionError)
    t = MC_B.PrefetchBatchifier(theirs, 5, 3, sampling="last", num_workers=0)
    assert "windows" in str(raises(t.next_batch))
    for args, kw in (((11, 1), {}), ((0, 1), {}), ((2, 0), {}), ((2, 1), {"prefetch": 0}),
                     ((2, 1), {"num_workers": -1}), ((5, 3), {"sampling": "last"}),
                     ((2, 1), {"sampling": "foo"})):
        e = raises(lambda: MD.PrefetchBatchifier(ours, *args, num_workers=kw.pop("num_workers", 0),
                                                 seed=0, **kw))
        assert isinstance(e, ValueError), (args, kw, e)


def test_diff_19_worker_error_keeps_type_and_message(tmp_path):
    ours, theirs = index_store_pair(tmp_path, 6)
    t = MC_B.PrefetchBatchifier(theirs, 3, 5, sampling="last", num_workers=1)
    e = raises(t.next_batch)
    t.close()
    assert type(e) is RuntimeError and "prefetch worker" in str(e)
    assert isinstance(e.__cause__, ValueError)
    # ours checks this one at construction (see 18) and re-raises any worker error with its
    # own type and message
    e = raises(lambda: MD.PrefetchBatchifier(ours, 3, 5, sampling="last", num_workers=1, seed=0))
    assert isinstance(e, ValueError) and "last" in str(e)


def test_diff_20_random_starts_differ_from_numpy_but_are_uniform_and_seeded(tmp_path):
    n, s, b = 40, 4, 16
    ours, theirs = index_store_pair(tmp_path, n)
    t = MC_B.PrefetchBatchifier(theirs, s, b, sampling="random", num_workers=0)
    first_t = mc_starts(t)
    assert first_t == np.random.default_rng(0).integers(0, n - s + 1, size=b).tolist()
    with MD.PrefetchBatchifier(ours, s, b, sampling="random", num_workers=2, seed=0) as o:
        first_o = list(o.next().starts)
    with MD.PrefetchBatchifier(ours, s, b, sampling="random", num_workers=0, seed=0) as o:
        assert list(o.next().starts) == first_o  # reproducible from the seed
    assert all(0 <= x <= n - s for x in first_o)
    assert first_o != first_t


def test_diff_21_pin_memory_without_cuda_falls_back(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA present: both pin")
    ours, theirs = index_store_pair(tmp_path, 10)
    t = MC_B.PrefetchBatchifier(theirs, 2, 1, num_workers=1, pin_memory=True)
    assert isinstance(raises(t.next_batch), RuntimeError)
    t.close()
    with MD.PrefetchBatchifier(ours, 2, 1, num_workers=1, pin_memory=True, seed=0) as o:
        assert o.next_batch()["action"].shape == (1, 2)
        assert not o.pinned


def test_diff_22_next_batch_after_close_is_an_error(tmp_path):
    ours, _ = index_store_pair(tmp_path, 10)
    o = MD.PrefetchBatchifier(ours, 2, 1, num_workers=1, seed=0)
    o.next_batch()
    o.close()
    o.close()  # idempotent
    assert raises(o.next_batch) is not None


def test_diff_23_augment_draws_differ_from_torch_generator():
    ours, theirs = aug_pair(permute_action="both", scale_reward=(1.0, 0.0, 0.5, 1.5))
    batch = aug_batch()
    ours.update_augmentations(batch)
    theirs.update_augmentations(batch)
    st = theirs.snapshot
    # mouse-core: float32-rounded scalars from torch.Generator (seeded 0 here)
    assert float(np.float32(st.r_scale)) == st.r_scale
    g = torch.Generator().manual_seed(0)
    assert torch.equal(st.perm_action[0], torch.randperm(4, generator=g))
    # ours: reproducible from the seed, but not torch's stream
    o2 = MD.TokenAugmenter(MD.AugmentTokensConfig(permute_action="both",
                           scale_reward=MD.AugmentScalarSpec(1.0, low=0.5, high=1.5)), 4, 5, CPU)
    o2.update_augmentations(batch)
    a, b = ours.snapshot, o2.snapshot
    pa = getattr(a, "action_perm", getattr(a, "perm_action", None))
    pb = getattr(b, "action_perm", getattr(b, "perm_action", None))
    assert torch.equal(torch.as_tensor(pa), torch.as_tensor(pb))
    assert so_scale(a) == so_scale(b)


def test_diff_24_permute_tokens_alone_is_no_augmentation():
    ours, theirs = aug_pair(permute_tokens=True)
    batch = aug_batch()
    theirs.update_augmentations(batch)
    out_t = theirs(batch)
    assert out_t is not batch  # counted as enabled: a clone, otherwise unchanged
    assert_td_equal(out_t, batch)
    ours.update_augmentations(batch)
    assert ours(batch) is batch


def test_diff_25_obs_discrete_permutation_works():
    ours, theirs = aug_pair(permute_obs_discrete=True)
    batch = aug_batch()
    perm = torch.tensor([[1, 2, 3, 4, 0], [4, 3, 2, 1, 0]])
    theirs.update_augmentations(batch)
    assert isinstance(raises(lambda: theirs(batch)), RuntimeError)  # expand_as shape error
    impose((ours, theirs), batch, obs_discrete_perm=perm)
    got = ours(batch)["obs_discrete"]
    want = torch.stack([perm[b][batch["obs_discrete"][b]] for b in range(2)])
    assert torch.equal(got, want)


def test_diff_26_mask_vector_obs_discrete():
    ours, theirs = aug_pair(mask_prob=(0, 0, 0, 0, 1.0, 0, 0))
    batch = aug_batch()
    batch["obs_discrete"] = torch.ones(2, 4, 3, dtype=torch.int64)
    theirs.update_augmentations(batch)
    ours.update_augmentations(batch)
    assert isinstance(raises(lambda: theirs(batch)), RuntimeError)  # [B,S] mask vs [B,S,D]
    assert int(ours(batch)["obs_discrete"].abs().sum()) == 0


def test_diff_27_config_values_are_validated():
    assert MC_A.AugmentMaskProbConfig(action=2.0).action == 2.0
    assert MC_A.AugmentScalarSpec(1.0, std=-1.0).std == -1.0
    assert isinstance(raises(lambda: MD.AugmentTokensConfig(
        mask_prob=MD.AugmentMaskProbConfig(action=2.0))), ValueError)
    assert isinstance(raises(lambda: MD.AugmentTokensConfig(
        scale_reward=MD.AugmentScalarSpec(1.0, std=-1.0))), ValueError)


def test_diff_28_out_of_range_value_names_the_field():
    ours, theirs = aug_pair(permute_done=True)
    batch = aug_batch()
    batch["done"][0, 0] = 3
    theirs.update_augmentations(batch)
    ours.update_augmentations(batch)
    assert isinstance(raises(lambda: theirs(batch)), (RuntimeError, IndexError))
    e = raises(lambda: ours(batch))
    assert isinstance(e, ValueError) and "done" in str(e) and "3" in str(e)


def test_diff_29_from_dataset_empty_split_list_and_differing_columns(tmp_path):
    dd = datasets.DatasetDict({"a": datasets.Dataset.from_dict(step_data(2))})
    ours, theirs = both_stores(2)
    theirs.from_dataset(dd, splits=[])
    assert len(theirs) == 0
    assert isinstance(raises(lambda: ours.from_dataset(dd, splits=[])), ValueError)
    a = on_disk(tmp_path, step_data(2), name="a")
    b = on_disk(tmp_path, step_data(2, episode_step=[7, 8]), name="b")
    for s in (ours, theirs):
        s.from_dataset(a)
        s.from_dataset(b)
    assert isinstance(raises(lambda: theirs[[0, 2]]), TypeError)  # concatenated nulls crash
    assert ours[[0, 2]]["time"].tolist() == [-1, 7]


def test_diff_29_from_dataset_checks_values(tmp_path):
    ds = on_disk(tmp_path, step_data(8, done=[0, 0, 3, 0, 0, 0, 0, 1]))
    ours, theirs = both_stores(4)
    theirs.from_dataset(ds)
    assert theirs[[2]]["done"].tolist() == [3]
    e = raises(lambda: ours.from_dataset(ds))
    assert isinstance(e, ValueError) and 'column "done" has the value 3 at row 2' in str(e)
    lenient = MD.DatasetStore(4, validate=False)
    lenient.from_dataset(ds)
    assert lenient[[2]]["done"].tolist() == [3]


def test_diff_30_buffer_column_missing_from_source_in_to_dataset(tmp_path):
    ds = on_disk(tmp_path, step_data(1))
    ours, theirs = both_stores(2)
    for s in (ours, theirs):
        s.from_dataset(ds)
        s.append({"action": 1, "reward": 0.5, "done": 1, "other": 3})
    assert theirs.to_dataset()["other"] == [None, 3]
    assert isinstance(raises(ours.to_dataset), ValueError)


def test_diff_31_push_to_hub_one_commit_replacing_data_files(tmp_path):
    """mouse-core wipes shards/README in one commit, then DatasetDict.push_to_hub adds its own
    commits (it needs the network, so only its shard pattern is checked here); ours makes one
    commit that adds the new layout and deletes every other file under data/."""
    import re

    src = open(MC_DS.__file__.replace("dataset_store.py", "hub.py")).read()
    assert r'^data/([^/]+)-\d{5}-of-\d{5}\.parquet$' in src and "wipe stale shards" in src

    class FakeApi:
        def __init__(self):
            self.commits = []

        def create_repo(self, repo_id, **kw):
            return types.SimpleNamespace(repo_id="me/" + repo_id)

        def list_repo_files(self, repo_id, **kw):
            return ["README.md", "data/train-00000-of-00002.parquet", "data/old-00000-of-00001.parquet",
                    "data/notes.txt", "other.txt"]

        def create_commit(self, repo_id, operations, commit_message, **kw):
            self.commits.append((repo_id, operations, commit_message))

    store = MD.DatasetStore(2)
    for i in range(3):
        store.append({"action": i % 2, "reward": 0.5, "done": 0})
    api = FakeApi()
    MD.push_to_hub({"train": [store]}, "ds", api=api)
    assert len(api.commits) == 1
    repo, ops, _ = api.commits[0]
    assert repo == "me/ds"
    deleted = sorted(o.path_in_repo for o in ops if type(o).__name__ == "CommitOperationDelete")
    added = sorted(o.path_in_repo for o in ops if type(o).__name__ == "CommitOperationAdd")
    assert deleted == ["data/notes.txt", "data/old-00000-of-00001.parquet",
                       "data/train-00000-of-00002.parquet"]
    assert "README.md" in added
    assert any(re.match(r"^data/train-\d{5}-of-\d{5}\.parquet$", p) for p in added)


def _mouse_core_align_splits():
    """mouse-core's ``_align_splits`` and the helpers it calls, taken from its ``hub.py`` (which
    cannot be imported here: it needs an older ``huggingface_hub``)."""
    import ast

    path = MC_DS.__file__.replace("dataset_store.py", "hub.py")
    tree = ast.parse(open(path).read())
    wanted = {"_is_null_typed", "_placeholder_column_like", "_align_splits"}
    module = ast.Module([n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in wanted],
                        type_ignores=[])
    scope = {"Any": object, "np": np, "Dataset": datasets.Dataset, "Features": datasets.Features,
             "Value": datasets.Value, "__name__": "mouse_core_hub"}
    exec(compile(module, path, "exec"), scope)
    return scope["_align_splits"]


def test_diff_32_splits_with_different_columns(tmp_path):
    """mouse-core's push_to_hub aligns splits with placeholders (a missing int column is 0, so a
    split without episode_step reads back as step 0 everywhere); ours lines them up with nulls,
    which encode as "not available" (time -1)."""
    align = _mouse_core_align_splits()
    train = datasets.Dataset.from_dict({"action": [1, 0], "reward": [0.5, 1.0], "done": [0, 1],
                                        "episode_step": [0, 1]})
    test = datasets.Dataset.from_dict({"action": [1], "reward": [0.5], "done": [1]})
    theirs = align({"train": train, "test": test})
    assert theirs["test"]["episode_step"] == [0]
    a, b = MD.DatasetStore(2), MD.DatasetStore(2)
    a.from_dataset(train)
    b.from_dataset(test)
    assert MD.save_to_hub_layout({"train": [a], "test": [b]}, tmp_path / "hub")
    ours = datasets.load_dataset(str(tmp_path / "hub"), cache_dir=str(tmp_path / "hf"))
    assert ours["test"].column_names == theirs["test"].column_names
    assert ours["test"]["episode_step"] == [None]
    back = MD.DatasetStore(2, format="numpy")
    back.from_dataset(ours["test"])
    assert back[[0]]["time"].tolist() == [-1]


def test_diff_34_a_str_is_one_split_name(tmp_path):
    d = on_disk(tmp_path, step_data(8))
    dd = datasets.DatasetDict({"train": d, "test": d})
    ours, theirs = both_stores(3)
    e = raises(lambda: theirs.from_dataset(dd, splits="train"))
    assert isinstance(e, KeyError) and "'t'" in str(e)
    ours.from_dataset(dd, splits="train")
    assert len(ours) == 8


def test_diff_35_argument_types_are_checked_at_once(tmp_path):
    d = on_disk(tmp_path, step_data(40))
    ours, theirs = both_stores(3)
    ours.from_dataset(d)
    theirs.from_dataset(d)
    t = MC_B.PrefetchBatchifier(theirs, True, 2, sampling="sequential", num_workers=0)
    assert tuple(t.next_batch().batch_size) == (2, 1)
    t = MC_B.PrefetchBatchifier(theirs, 2.5, 2, sampling="sequential", num_workers=1)
    assert isinstance(raises(t.next_batch), RuntimeError)
    t.close()
    e = raises(lambda: MD.PrefetchBatchifier(ours, True, 2))
    assert isinstance(e, TypeError) and isinstance(e, MD.Error) and "sequence_length" in str(e)
    assert str(e).startswith("PrefetchBatchifier(store=None, sequence_length=None")
    e = raises(lambda: MD.PrefetchBatchifier(ours, 2.5, 2))
    assert isinstance(e, ValueError) and isinstance(e, MD.Error) and "sequence_length" in str(e)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_diff_36_a_forked_child_gets_no_batch(tmp_path):
    d = on_disk(tmp_path, step_data(40))
    ours, theirs = both_stores(3)
    ours.from_dataset(d)
    theirs.from_dataset(d)
    t = MC_B.PrefetchBatchifier(theirs, 4, 2, num_workers=1, prefetch=2)
    o = MD.PrefetchBatchifier(ours, 4, 2, num_workers=1, prefetch=2, seed=0)
    t.next_batch()
    o.next_batch()
    time.sleep(0.3)  # let the original's worker fill its queue
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            got = 0
            try:
                for _ in range(5):
                    t.next_batch()
                    got += 1
            except RuntimeError as e:
                code |= 1 if "stopped unexpectedly" in str(e) and got == 2 else 0
            try:
                o.next_batch()
            except MD.UsedAfterForkError as e:
                code |= 2 if isinstance(e, RuntimeError) and "fork" in str(e) else 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("forked child hung")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 3
    t.close()
    o.close()


def test_match_reprs(tmp_path):
    d = on_disk(tmp_path, step_data(40))
    ours, theirs = both_stores(3)
    ours.from_dataset(d)
    theirs.from_dataset(d)
    assert repr(ours) == repr(theirs) == "DatasetStore(steps=40)"
    t = MC_B.PrefetchBatchifier(theirs, 4, 3, sampling="batch")
    with MD.PrefetchBatchifier(ours, 4, 3, sampling="batch", seed=0) as o:
        assert repr(o) == repr(t) == "PrefetchBatchifier(n=40, S=4, B=3, sampling='batch')"
    t.close()
