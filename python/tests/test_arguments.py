"""Arguments are checked where they enter: every public constructor, method and hub function
raises a mouse_data.Error that is also the builtin (TypeError, ValueError, ...), names the
argument, and for a wrong type shows the public signature, never the extension's own."""

import itertools
import os

import datasets
import numpy as np
import pytest

import mouse_data
from mouse_data import (
    AugmentMaskProbConfig,
    AugmentScalarSpec,
    AugmentTokensConfig,
    DatasetStore,
    PrefetchBatchifier,
    TokenAugmenter,
)

RAW_SIGNATURE = ("incompatible function arguments", "The following argument types are supported")


def steps(n):
    i = np.arange(n)
    return {"action": (i % 3).tolist(), "reward": i.astype(float).tolist(), "done": [0] * n,
            "observation": [[float(k), -float(k)] for k in i]}


@pytest.fixture
def store():
    s = DatasetStore(max_action_dim=3, max_obs_continuous_dim=2)
    s.from_dataset(datasets.Dataset.from_dict(steps(40)))
    return s


def check(excinfo, builtin, *parts):
    """The exception is ours and the builtin, names every part, and is not a raw signature."""
    e = excinfo.value
    assert isinstance(e, mouse_data.Error) and isinstance(e, builtin), type(e).__mro__
    msg = str(e)
    for part in parts:
        assert part in msg, (part, msg)
    for raw in RAW_SIGNATURE:
        assert raw not in msg


# --- bools where ints go --------------------------------------------------------------------

def test_a_bool_is_not_an_int(store):
    cases = [
        (lambda: DatasetStore(max_action_dim=True), "max_action_dim", "DatasetStore(max_action_dim"),
        (lambda: PrefetchBatchifier(store, True, 2), "sequence_length", "PrefetchBatchifier(store"),
        (lambda: PrefetchBatchifier(store, 4, batch_size=False), "batch_size", "PrefetchBatchifier("),
        (lambda: PrefetchBatchifier(store, 4, 2, num_workers=True), "num_workers", "num_workers=1"),
        (lambda: PrefetchBatchifier(store, 4, 2, seed=True), "seed", "seed=None"),
        (lambda: PrefetchBatchifier(store, 4, 2, rank=True, world_size=2), "rank", "rank=None"),
        (lambda: TokenAugmenter(AugmentTokensConfig(), True, 3), "max_num_actions",
         "TokenAugmenter(augment"),
        (lambda: mouse_data.save_to_hub_layout({"train": [store]}, "x", max_shard_bytes=True),
         "max_shard_bytes", "save_to_hub_layout(splits, directory"),
    ]
    for make, name, signature in cases:
        with pytest.raises(TypeError) as ei:
            make()
        check(ei, TypeError, name, "bool is not an int", signature)


# --- floats with fractions ------------------------------------------------------------------

def test_a_float_with_a_fraction_is_not_an_int(store):
    cases = [
        (lambda: PrefetchBatchifier(store, 2.5, 2), "sequence_length", "2.5"),
        (lambda: PrefetchBatchifier(store, 4, 1.5), "batch_size", "1.5"),
        (lambda: PrefetchBatchifier(store, 4, 2, prefetch=3.25), "prefetch", "3.25"),
        (lambda: PrefetchBatchifier(store, 4, 2, seed=0.5), "seed", "0.5"),
        (lambda: DatasetStore(max_action_dim=3.5), "max_action_dim", "3.5"),
        (lambda: TokenAugmenter(AugmentTokensConfig(), 2.5, 3), "max_num_actions", "2.5"),
    ]
    for make, name, value in cases:
        with pytest.raises(ValueError) as ei:
            make()
        check(ei, ValueError, name, value, "whole number")
    # a whole float is its int, as before
    bf = PrefetchBatchifier(store, 4.0, np.float64(2.0), sampling="sequential", num_workers=0,
                            seed=0)
    assert bf.next_batch().batch_size == (2, 4)
    bf.close()


# --- negatives and out-of-range -------------------------------------------------------------

def test_negative_values_name_the_argument(store):
    cases = [
        (lambda: PrefetchBatchifier(store, 4, 2, seed=-1), "seed", ">= 0"),
        (lambda: PrefetchBatchifier(store, 4, 2, seed=1 << 64), "seed", "<= "),
        (lambda: PrefetchBatchifier(store, -4, 2), "sequence_length", ">= 1"),
        (lambda: PrefetchBatchifier(store, 4, 2, prefetch=0), "prefetch", ">= 1"),
        (lambda: PrefetchBatchifier(store, 4, 2, num_workers=-1), "num_workers", ">= 0"),
        (lambda: PrefetchBatchifier(store, 4, 2, rank=-1, world_size=2), "rank", ">= 0"),
        (lambda: PrefetchBatchifier(stores=[store, store], sequence_length=4, batch_size=2,
                                    weights=[1.0, -1.0]), "weights[1]", "-1"),
        (lambda: TokenAugmenter(AugmentTokensConfig(), 3, 3, seed=-1), "seed", ">= 0"),
        (lambda: TokenAugmenter(AugmentTokensConfig(), -3, 3), "max_num_actions", ">= 0"),
        (lambda: mouse_data.save_to_hub_layout({"train": [store]}, "x", max_shard_bytes=-5),
         "max_shard_bytes", ">= 1"),
        (lambda: DatasetStore(max_action_dim=-2), "max_action_dim", "-2"),
    ]
    for make, name, bound in cases:
        with pytest.raises(ValueError) as ei:
            make()
        check(ei, ValueError, name, bound)


# --- None where a value is required ----------------------------------------------------------

def test_none_where_a_value_is_required(store):
    cases = [
        (lambda: PrefetchBatchifier(store, None, 2), "sequence_length"),
        (lambda: PrefetchBatchifier(store, 4, 2, sampling=None), "sampling"),
        (lambda: PrefetchBatchifier(store, 4, 2, prefetch=None), "prefetch"),
        (lambda: PrefetchBatchifier(store, 4, 2, pin_memory=None), "pin_memory"),
        (lambda: DatasetStore(max_action_dim=None), "max_action_dim"),
        (lambda: DatasetStore(obs_image_dtype=None), "obs_image_dtype"),
        (lambda: TokenAugmenter(None, 3, 3), "augment"),
        (lambda: TokenAugmenter(AugmentTokensConfig(), None, 3), "max_num_actions"),
        (lambda: AugmentScalarSpec(None), "mean"),
        (lambda: AugmentMaskProbConfig(action=None), "action"),
        (lambda: mouse_data.save_stores_to_hub_layout([store], None), "directory"),
    ]
    for make, name in cases:
        with pytest.raises(TypeError) as ei:
            make()
        check(ei, TypeError, name)


# --- values of the wrong kind ---------------------------------------------------------------

def test_wrong_kinds_of_value_name_the_argument(store):
    type_cases = [
        (lambda: PrefetchBatchifier(store, 4, 2, augmenter="yes"), "augmenter", "TokenAugmenter"),
        (lambda: PrefetchBatchifier(store, 4, 2, sampling=3), "sampling", "'random'"),
        (lambda: PrefetchBatchifier(store, 4, 2, boundaries=["episode"]), "boundaries", "'episode'"),
        (lambda: PrefetchBatchifier("store.arrow", 4, 2), "store", "DatasetStore"),
        (lambda: PrefetchBatchifier(store, 4, 2, weights="1,2"), "weights", "list of numbers"),
        (lambda: PrefetchBatchifier(store, 4, 2, drop_last="no"), "drop_last", "a bool"),
        (lambda: PrefetchBatchifier(store, 4, 2, format=5), "format", "a str"),
        (lambda: DatasetStore(name=3), "name", "a str"),
        (lambda: DatasetStore(image_cache=3), "image_cache", "a path"),
        (lambda: DatasetStore(format=5), "format", "a str"),
        (lambda: store.from_dataset(datasets.DatasetDict(), splits=[1]), "splits[0]", "a str"),
        (lambda: store.from_dataset("x", config=3), "config", "a str"),
        (lambda: store.from_dataset("x", cache_dir=3), "cache_dir", "a path"),
        (lambda: store.from_dataset(3), "got int", "datasets.Dataset"),
        (lambda: store.append_columns([1, 2]), "columns", "mapping"),
        (lambda: store[[0.5]], "indices", "integers"),
        (lambda: DatasetStore.merge_stores_to_dataset(store), "stores", "list of DatasetStore"),
        (lambda: TokenAugmenter(AugmentTokensConfig(), 3, 3, device=1.5), "device", "torch device"),
        (lambda: TokenAugmenter(AugmentTokensConfig(), 3, 3, generator="g"), "generator",
         "torch.Generator"),
        (lambda: AugmentTokensConfig(enabled="yes"), "enabled", "a bool"),
        (lambda: AugmentTokensConfig(scale_reward=2.0), "scale_reward", "AugmentScalarSpec"),
        (lambda: AugmentScalarSpec("1"), "mean", "a number"),
        (lambda: AugmentScalarSpec(1.0, low=True, high=2.0), "low", "a number"),
        (lambda: AugmentTokensConfig.from_dict([("enabled", True)]), "data", "a dict"),
        (lambda: AugmentTokensConfig.from_yaml(3), "source", "YAML text"),
        (lambda: mouse_data.save_to_hub_layout([store], "x"), "splits", "dict of split name"),
        (lambda: mouse_data.save_to_hub_layout({"train": store}, "x"), "splits['train']",
         "list of DatasetStore"),
        (lambda: mouse_data.save_configs_to_hub_layout({"a": [store]}, "x"), "configs['a']",
         "dict of split name"),
        (lambda: mouse_data.push_stores_to_hub([store], 5), "repo_id", "a str"),
        (lambda: mouse_data.push_to_hub({"train": [store]}, "org/x", private="yes"), "private",
         "a bool"),
        (lambda: mouse_data.hub_config_names(5), "path_or_repo_id", "a path"),
        (lambda: mouse_data.load_stores(".", configs=[3]), "configs[0]", "a str"),
    ]
    for make, name, expected in type_cases:
        with pytest.raises(TypeError) as ei:
            make()
        check(ei, TypeError, name, expected)

    value_cases = [
        (lambda: TokenAugmenter(AugmentTokensConfig(), 3, 3, device="gpu"), "device", "'gpu'"),
        (lambda: PrefetchBatchifier(store, 4, 2, sampling="shuffle"), "sampling", "'shuffle'"),
        (lambda: PrefetchBatchifier(store, 4, 2, weight_mode="per_row"), "weight_mode", "per_row"),
        (lambda: DatasetStore(image_cache=""), "image_cache", '""'),
        (lambda: AugmentTokensConfig(permute_action="sideways"), "permute_action", "sideways"),
        (lambda: AugmentTokensConfig(permute_action=None), "permute_action", "None"),
    ]
    for make, name, expected in value_cases:
        with pytest.raises(ValueError) as ei:
            make()
        check(ei, ValueError, name, expected)


def test_the_signature_leads_a_type_error(store):
    with pytest.raises(TypeError) as ei:
        PrefetchBatchifier(store, 4, 2, augmenter="yes")
    msg = str(ei.value)
    assert msg.startswith("PrefetchBatchifier(store=None, sequence_length=None, batch_size=None, "
                          "sampling='random', prefetch=4, num_workers=1, pin_memory=False, *, "
                          "seed=None,"), msg
    assert "augmenter must be a TokenAugmenter or None, got str 'yes'" in msg


def test_augmenter_methods_check_the_batch():
    aug = TokenAugmenter(AugmentTokensConfig(permute_done=True), 3, 2, seed=0)
    for call in (aug.update_augmentations, aug):
        for bad in (None, 5, [1]):
            with pytest.raises(TypeError) as ei:
                call(bad)
            check(ei, TypeError, "step_stream", "a TensorDict")
        with pytest.raises(KeyError) as ei:
            call({"reward": np.zeros((2, 3))})
        check(ei, KeyError, '"action" array [B, S]')


# --- a str is one split name, not letters ----------------------------------------------------

def test_one_split_name_as_a_str(tmp_path):
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_dict(steps(10)),
                               "test": datasets.Dataset.from_dict(steps(4))})
    s = DatasetStore(max_action_dim=3)
    s.from_dataset(dd, splits="train")
    assert len(s) == 10
    path = tmp_path / "dd"
    dd.save_to_disk(str(path))
    s = DatasetStore(max_action_dim=3)
    s.from_dataset(path, splits="test")
    assert len(s) == 4
    s.from_dataset(dd, split_pattern="te*")
    assert len(s) == 8
    with pytest.raises(KeyError) as ei:
        s.from_dataset(dd, splits="t")
    check(ei, KeyError, "t", "train")


# --- append_columns with string arrays ---------------------------------------------------------

@pytest.mark.parametrize("values", [np.array(["0", "1"]), np.array([b"0", b"1"]),
                                    np.array(["0", 1], dtype=object), ["0", "1"]])
def test_append_columns_with_string_arrays_names_the_column(values):
    s = DatasetStore(max_action_dim=3)
    with pytest.raises((TypeError, ValueError)) as ei:
        s.append_columns({"action": values, "reward": np.zeros(2), "done": np.zeros(2, np.int64)})
    check(ei, (TypeError, ValueError), "action")
    assert len(s) == 0


# --- YAML: a path that does not exist ----------------------------------------------------------

def test_from_yaml_of_a_missing_file_is_file_not_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for source in ("missing.yaml", "configs/aug.yml", str(tmp_path / "nope"), tmp_path / "x.yaml"):
        with pytest.raises(FileNotFoundError) as ei:
            AugmentTokensConfig.from_yaml(source)
        check(ei, OSError, os.fspath(source), "file not found")
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(FileNotFoundError) as ei:
        AugmentTokensConfig.from_yaml("dir.yaml")
    check(ei, OSError, "dir.yaml", "directory")
    # YAML text still is YAML text, and a file still is a file
    assert AugmentTokensConfig.from_yaml("permute_done: true").permute_done
    (tmp_path / "aug.yaml").write_text("permute_done: true\n")
    assert AugmentTokensConfig.from_yaml("aug.yaml").permute_done


# --- the sweep: no raw signature anywhere -------------------------------------------------------

class _FakeApi:
    def __getattr__(self, name):
        raise _Unreachable(name)


class _Unreachable(Exception):
    pass


BAD_VALUES = [object(), None, True, 2.5, -1, "x", [1], {"a": 1}, b"bytes", np.float32(0.5)]


def test_no_wrong_value_reaches_the_extension_signature(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a str where a directory goes writes there
    cfg = AugmentTokensConfig()
    calls = {
        "DatasetStore": (DatasetStore, dict(max_action_dim=3, max_obs_continuous_dim=0,
                                            max_obs_discrete_dim=0, max_obs_image_pixels=0,
                                            obs_image_dtype="int64", image_cache=None,
                                            format="auto", name=None)),
        "from_dataset": (store.from_dataset, dict(ds=datasets.Dataset.from_dict(steps(3)),
                                                  splits=None, split_pattern=None)),
        "append": (store.append, dict(data={"action": 0, "reward": 0.0, "done": 0})),
        "append_columns": (store.append_columns, dict(columns={"action": [0], "reward": [0.0],
                                                               "done": [0]})),
        "encode_hf_rows": (store.encode_hf_rows, dict(rows=steps(2))),
        "PrefetchBatchifier": (PrefetchBatchifier, dict(
            store=store, sequence_length=4, batch_size=2, sampling="random", prefetch=2,
            num_workers=0, pin_memory=False, seed=0, boundaries="none", augmenter=None,
            format=None, weights=None, weight_mode="per_store", rank=0, world_size=1,
            drop_last=False)),
        "TokenAugmenter": (TokenAugmenter, dict(augment=cfg, max_num_actions=3,
                                                max_num_obs_discrete=2, device="cpu",
                                                generator=None, seed=0, format="auto")),
        "AugmentScalarSpec": (AugmentScalarSpec, dict(mean=1.0, std=0.0, low=None, high=None)),
        "AugmentMaskProbConfig": (AugmentMaskProbConfig, dict(action=0.1, reward=0.0)),
        "AugmentTokensConfig": (AugmentTokensConfig, dict(enabled=True, permute_done=False,
                                                          permute_action=False,
                                                          mask_prob=AugmentMaskProbConfig())),
        "save_to_hub_layout": (mouse_data.save_to_hub_layout, dict(
            splits={"train": [store]}, directory=tmp_path / "h1", config_name="default",
            max_shard_bytes=1 << 20)),
        "save_stores_to_hub_layout": (mouse_data.save_stores_to_hub_layout, dict(
            stores=[store], directory=tmp_path / "h2", split="train", max_shard_bytes=1 << 20)),
        "push_stores_to_hub": (mouse_data.push_stores_to_hub, dict(
            stores=[store], repo_id="org/x", split="train", private=False,
            commit_message="m", api=_FakeApi())),
        "hub_config_names": (mouse_data.hub_config_names, dict(path_or_repo_id=tmp_path / "h2",
                                                               revision=None)),
        "load_stores": (mouse_data.load_stores, dict(path_or_repo_id=tmp_path / "h2",
                                                     split="train", configs=None, revision=None,
                                                     cache_dir=None)),
    }
    mouse_data.save_stores_to_hub_layout([store], tmp_path / "h2")
    tried = 0
    failures = []
    for (label, (func, good)), (arg, bad) in itertools.product(
            calls.items(), itertools.product(range(17), BAD_VALUES)):
        keys = list(good)
        if arg >= len(keys):
            continue
        if label.startswith("push") and keys[arg] == "api" and bad is None:
            continue  # the default: the real Hub client, which is offline here
        kwargs = dict(good)
        kwargs[keys[arg]] = bad
        tried += 1
        try:
            out = func(**kwargs)
        except _Unreachable:
            continue
        except Exception as e:  # noqa: BLE001 - the point: what comes out must be ours
            if not isinstance(e, mouse_data.Error) or any(raw in str(e) for raw in RAW_SIGNATURE):
                failures.append((label, keys[arg], bad, type(e), str(e)[:200]))
        else:
            close = getattr(out, "close", None)
            if close is not None:
                close()
    assert not failures, "\n".join(map(repr, failures))
    assert tried > 500
