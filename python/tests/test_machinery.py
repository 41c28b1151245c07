"""PyTorch's own machinery over mouse_data: pickling a DatasetStore (by path, by Arrow cache
files, as Arrow IPC bytes; the appended rows exactly), DataLoader workers started with "spawn",
torch.multiprocessing, batchifiers across fork, epoch iteration and len(), state_dict aliases,
the error hierarchy, reprs and the type stubs."""

import ast
import inspect
import io
import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
import time
from itertools import islice
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pytest
import torch
from PIL import Image
from tensordict import TensorDict

import mouse_data
from mouse_data import DatasetStore, PrefetchBatchifier

PKG = Path(mouse_data.__file__).resolve().parent

# Python warns that forking a threaded process may deadlock the child: what these tests check
# does not happen.
FORK_WARNING = "ignore:This process .* is multi-threaded:DeprecationWarning"


def steps(n, start=0):
    """n steps whose reward is the row number, with every contract column."""
    i = np.arange(start, start + n)
    return {
        "action": (i % 3).tolist(),
        "reward": i.astype(float).tolist(),
        "done": [int(k % 10 == 9) for k in i],
        "episode_step": (i % 10).tolist(),
        "metadata_q_star": [[float(k), float(k) + 0.5] for k in i],
        "observation": [[float(k), -float(k)] for k in i],
    }


def new_store(**kw):
    kw.setdefault("max_action_dim", 3)
    kw.setdefault("max_obs_continuous_dim", 2)
    return DatasetStore(**kw)


def png(arr):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def append_mixed(store, n=7):
    """Appended rows of several types: bools, an int column that widens to float when a float
    arrives, a string column that appears late (null before), pixel images."""
    rng = np.random.default_rng(0)
    for k in range(n):
        row = {"action": k % 3, "reward": 100.0 + k, "done": int(k == n - 1),
               "flag": k % 2 == 0, "level": 1 if k < 3 else 1.5,
               "observation_image": rng.integers(0, 255, (2, 3, 3), dtype=np.uint8)}
        if k >= 4:
            row["note"] = f"late {k}"
        store.append(row)


def same_rows(a, b):
    assert len(a) == len(b)
    ia, ib = a[list(range(len(a)))], b[list(range(len(b)))]
    assert set(ia.keys()) == set(ib.keys())
    for k in ia.keys():
        assert torch.equal(ia[k], ib[k]), k


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "ds"
    datasets.Dataset.from_dict(steps(60)).save_to_disk(str(path))
    return path


# --- pickling a DatasetStore ----------------------------------------------------------------

def test_a_store_loaded_from_a_path_pickles_by_the_path(saved):
    store = new_store(name="cartpole", max_obs_image_pixels=18, obs_image_dtype="uint8")
    store.from_dataset(saved)
    data = pickle.dumps(store)
    assert str(saved).encode() in data
    assert len(data) < 2000  # the path and the arguments, not 60 rows
    back = pickle.loads(data)
    assert back.name == "cartpole" and back._core.obs_image_dtype == "uint8"
    same_rows(store, back)


def test_a_dataset_backed_by_arrow_files_pickles_by_the_files(saved):
    ds = datasets.load_from_disk(str(saved))
    assert ds.cache_files
    store = new_store()
    store.from_dataset(ds)
    data = pickle.dumps(store)
    assert ds.cache_files[0]["filename"].encode() in data
    assert len(data) < 20000
    same_rows(store, pickle.loads(data))


def test_sources_without_files_pickle_as_arrow_ipc(saved):
    table = datasets.load_from_disk(str(saved)).data.table
    reader = pa.RecordBatchReader.from_batches(table.schema, table.slice(10, 20).to_batches())
    in_memory = datasets.Dataset.from_dict(steps(5, start=500))
    assert not in_memory.cache_files
    dd = datasets.DatasetDict({"a": datasets.Dataset.from_dict(steps(4, start=900)),
                               "b": datasets.Dataset.from_dict(steps(3, start=950))})
    store = new_store()
    store.from_dataset(table)
    store.from_dataset(reader)  # a one-shot stream: the store keeps its rows to pickle
    store.from_dataset(in_memory)
    store.from_dataset(dd, splits="b")
    data = pickle.dumps(store)
    assert data.count(b"\xff\xff\xff\xff") >= 4  # Arrow IPC stream messages, one per source
    del table, reader, in_memory, dd
    back = pickle.loads(data)
    assert len(back) == 60 + 20 + 5 + 3
    same_rows(store, back)
    assert back[[80, 87]]["reward"].tolist() == [500.0, 952.0]


def test_appended_rows_come_back_exactly_with_their_types(saved):
    store = new_store(max_obs_image_pixels=18)
    store.from_dataset(saved)
    append_mixed(store)
    back = pickle.loads(pickle.dumps(store))
    same_rows(store, back)
    before = store._core.buffer_to_dataset()
    after = back._core.buffer_to_dataset()
    t0, t1 = pa.table(_stream(before[0])), pa.table(_stream(after[0]))
    assert t0.schema.equals(t1.schema), (t0.schema, t1.schema)
    assert t0.equals(t1)
    assert before[1] == after[1]  # features: the Image column stays an Image
    assert '"Image"' in after[1]
    # and the store goes on as the original would
    for s in (store, back):
        s.append({"action": 1, "reward": 1.0, "done": 0, "level": 2, "flag": True})
    same_rows(store, back)


def _stream(capsule):
    from mouse_data._arrow import _Stream

    return _Stream(capsule)


def test_an_empty_store_and_a_buffer_only_store_pickle():
    empty = pickle.loads(pickle.dumps(new_store(format="numpy")))
    assert len(empty) == 0 and empty._format == "numpy"
    store = new_store()
    store.append_columns({"action": np.arange(5) % 3, "reward": np.arange(5.0),
                          "done": np.zeros(5, np.int64)})
    same_rows(store, pickle.loads(pickle.dumps(store)))


def test_torch_multiprocessing_hands_a_store_over(saved):
    from multiprocessing.reduction import ForkingPickler

    import torch.multiprocessing  # noqa: F401 - registers torch's reductions

    store = new_store()
    store.from_dataset(saved)
    append_mixed(store, 3)
    same_rows(store, pickle.loads(bytes(ForkingPickler.dumps(store))))


class WindowDataset(torch.utils.data.Dataset):
    """A map-style dataset holding a store: item i is window [i*S, i*S+S)."""

    def __init__(self, store, S):
        self.store, self.S = store, S

    def __len__(self):
        return len(self.store) // self.S

    def __getitem__(self, i):
        td = self.store[list(range(i * self.S, i * self.S + self.S))]
        return td["reward"], torch.tensor(os.getpid())


def test_dataloader_with_spawned_workers(saved):
    store = new_store()
    store.from_dataset(datasets.load_from_disk(str(saved)))
    store.append_columns({"action": np.arange(4) % 3, "reward": np.arange(60.0, 64.0),
                          "done": np.zeros(4, np.int64)})
    loader = torch.utils.data.DataLoader(WindowDataset(store, 4), batch_size=3, num_workers=2,
                                         multiprocessing_context="spawn")
    rewards, pids = [], set()
    for r, pid in loader:
        rewards.append(r)
        pids.update(pid.tolist())
    assert torch.cat(rewards).flatten().tolist() == [float(k) for k in range(64)]
    assert len(pids) == 2 and os.getpid() not in pids


# --- fork ------------------------------------------------------------------------------------

def _wait(pid, timeout=60.0):
    """The child's exit status, killing it if it has not exited within timeout (a hang)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung")


@pytest.mark.filterwarnings(FORK_WARNING)
@pytest.mark.parametrize("workers", [0, 2])
def test_a_forked_child_gets_a_clear_error_not_a_hang(workers, saved):
    store = new_store()
    store.from_dataset(saved)
    bf = PrefetchBatchifier(store, 4, 2, sampling="sequential", num_workers=workers, seed=0)
    first = bf.next_batch()["reward"][:, 0].tolist()
    pid = os.fork()
    if pid == 0:  # the child: exit codes tell the parent what happened
        code = 10
        try:
            try:
                bf.next_batch()
                code = 11
            except mouse_data.UsedAfterForkError as e:
                code = 12 if "fork" in str(e) and isinstance(e, RuntimeError) else 13
            for use in (bf.state, lambda: list(bf), lambda: bf.total_batches):
                try:
                    use()
                    code = 14
                except mouse_data.UsedAfterForkError:
                    pass
            bf.close()  # does nothing here: no workers to stop
            # a new batchifier in the child works, over the store the fork shares
            fresh = PrefetchBatchifier(store, 4, 2, sampling="sequential", num_workers=workers,
                                       seed=0)
            if fresh.next_batch()["reward"][:, 0].tolist() != first:
                code = 15
            fresh.close()
        finally:
            os._exit(code)
    assert _wait(pid) == 12
    assert bf.next_batch()["reward"][:, 0].tolist() == [8.0, 12.0]  # the parent goes on
    bf.close()


@pytest.mark.filterwarnings(FORK_WARNING)
@pytest.mark.parametrize("sampling", ["random", "batch"])
def test_a_fork_does_not_change_the_parents_batches(sampling, saved):
    # The workers pause while the process forks and make their prefetched batches again.
    store = new_store()
    store.from_dataset(saved)
    ref = PrefetchBatchifier(store, 4, 3, sampling=sampling, num_workers=0, seed=9)
    expected = [ref.next().starts for _ in range(12)]
    bf = PrefetchBatchifier(store, 4, 3, sampling=sampling, num_workers=2, prefetch=3, seed=9)
    got = [bf.next().starts for _ in range(4)]
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        assert _wait(pid) == 0
        got += [bf.next().starts for _ in range(4)]
    assert got == expected
    bf.close()


def test_a_forked_child_that_exits_normally_does_not_hang(saved):
    # The child runs Python's own exit (finalisation, garbage collection), which must not join
    # the parent's threads.
    script = textwrap.dedent(f"""
        import os, sys, time
        import mouse_data
        store = mouse_data.DatasetStore(max_action_dim=3)
        store.from_dataset({str(saved)!r})
        bf = mouse_data.PrefetchBatchifier(store, 4, 2, num_workers=2, prefetch=2, seed=0)
        bf.next_batch()
        pid = os.fork()
        if pid == 0:
            try:
                bf.next_batch()
            except mouse_data.UsedAfterForkError:
                print("child: refused", flush=True)
            del bf
            sys.exit(0)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                print("child exit", os.waitstatus_to_exitcode(status), flush=True)
                break
            time.sleep(0.05)
        else:
            os.kill(pid, 9)
            print("child hung", flush=True)
        bf.close()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, env=os.environ.copy())
    assert out.returncode == 0, out.stderr
    assert "child: refused" in out.stdout and "child exit 0" in out.stdout, out.stdout + out.stderr
    assert "leaked" not in out.stderr


def _use_in_child(bf, queue):
    try:
        bf.next_batch()
        queue.put("no error")
    except mouse_data.UsedAfterForkError as e:
        queue.put(str(e))


@pytest.mark.filterwarnings(FORK_WARNING)
def test_multiprocessing_fork_context(saved):
    store = new_store()
    store.from_dataset(saved)
    bf = PrefetchBatchifier(store, 4, 2, num_workers=1, seed=0)
    bf.next_batch()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    p = ctx.Process(target=_use_in_child, args=(bf, queue))
    p.start()
    p.join(60)
    if p.is_alive():
        p.kill()
        pytest.fail("the forked child hung")
    assert "forked" in queue.get(timeout=5)
    bf.close()


# --- iteration, len, state_dict --------------------------------------------------------------

@pytest.mark.parametrize("sampling", ["sequential", "batch"])
@pytest.mark.parametrize("workers", [0, 2])
def test_iterating_runs_one_epoch(sampling, workers):
    store = new_store()
    store.from_dataset(datasets.Dataset.from_dict(steps(40)))  # W = 10 windows of 4
    with PrefetchBatchifier(store, 4, 3, sampling=sampling, num_workers=workers, seed=1) as bf:
        assert len(bf) == bf.total_batches == 4
        epoch0 = [b["reward"][:, 0].tolist() for b in bf]
        assert [len(b) for b in epoch0] == [3, 3, 3, 1]
        assert sorted(sum(epoch0, [])) == [4.0 * w for w in range(10)]
        epoch1 = [b["reward"][:, 0].tolist() for b in bf]  # the next iter(): the next epoch
        assert sorted(sum(epoch1, [])) == sorted(sum(epoch0, []))
        if sampling == "sequential":
            assert epoch1 == epoch0
        bf.next_batch()  # part of epoch 2 taken by hand: iter() gives the rest of it
        assert len(list(bf)) == 3
        assert bf.state()["epoch"] == 3


@pytest.mark.parametrize("sampling", ["random", "last"])
def test_endless_modes_have_no_len(sampling):
    store = new_store()
    store.from_dataset(datasets.Dataset.from_dict(steps(40)))
    with PrefetchBatchifier(store, 4, 3, sampling=sampling, num_workers=0, seed=1) as bf:
        with pytest.raises(TypeError, match="never ends") as ei:
            len(bf)
        assert isinstance(ei.value, mouse_data.Error)
        assert len(list(islice(bf, 3 * bf.total_batches + 1))) == 3 * bf.total_batches + 1


def test_state_dict_aliases_state_and_restore(tmp_path):
    store = new_store()
    store.from_dataset(datasets.Dataset.from_dict(steps(40)))
    a = PrefetchBatchifier(store, 4, 2, sampling="batch", num_workers=2, seed=5)
    for _ in range(3):
        a.next_batch()
    sd = a.state_dict()
    assert sd == a.state()
    torch.save({"data": sd}, tmp_path / "ckpt.pt")
    expected = [a.next_batch()["reward"].tolist() for _ in range(4)]
    b = PrefetchBatchifier(store, 4, 2, sampling="batch", num_workers=0, seed=5)
    b.load_state_dict(torch.load(tmp_path / "ckpt.pt")["data"])
    assert [b.next_batch()["reward"].tolist() for _ in range(4)] == expected
    a.close()
    b.close()


# --- devices ---------------------------------------------------------------------------------

def test_the_augmenters_device_does_not_move_the_batchifiers_batches(monkeypatch):
    # device= is the one way onto the GPU: an augmenter given to a batchifier changes the
    # batch where it is made, on the host; its own device applies when it is called directly.
    store = new_store()
    store.from_dataset(datasets.Dataset.from_dict(steps(40)))
    aug = mouse_data.TokenAugmenter(mouse_data.AugmentTokensConfig(), 3, 1, device="meta")
    with PrefetchBatchifier(store, 4, 2, num_workers=0, seed=0, augmenter=aug) as bf:
        batch = bf.next_batch()
        assert batch["action"].device == torch.device("cpu")
        assert bf.device == "cpu"


# --- errors ----------------------------------------------------------------------------------

def test_every_error_is_ours_and_the_builtin(saved, tmp_path):
    store = new_store()
    store.from_dataset(saved)
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_dict(steps(3))})
    bad_file = tmp_path / "bad"
    bad_file.mkdir()
    (bad_file / "dataset_info.json").write_text("{not json")
    (bad_file / "state.json").write_text("{}")
    cases = [
        (lambda: store[[60]], IndexError, mouse_data.OutOfRangeError, "60"),
        (lambda: store.from_dataset(dd, splits=["nope"]), KeyError, mouse_data.MissingKeyError,
         "nope"),
        (lambda: store.from_dataset(tmp_path / "absent"), OSError, mouse_data.IoError, "absent"),
        (lambda: store.from_dataset(bad_file), ValueError, mouse_data.FormatError,
         "dataset_info.json"),
        (lambda: store.append({}), ValueError, mouse_data.InvalidArgumentError, "empty"),
        (lambda: store.append({"action": 0, "reward": 0.0, "done": 0, "observation": "x"}),
         TypeError, mouse_data.WrongTypeError, "observation"),
        (lambda: PrefetchBatchifier(store, 61, 1), ValueError, mouse_data.InvalidArgumentError,
         "61"),
    ]
    for make, builtin, ours, part in cases:
        with pytest.raises(builtin) as ei:
            make()
        assert isinstance(ei.value, ours) and isinstance(ei.value, mouse_data.Error)
        assert part in str(ei.value)
    with pytest.raises(KeyError) as ei:
        store.from_dataset(dd, splits=["nope"])
    assert not str(ei.value).startswith("'")  # the message as written, not quoted
    assert mouse_data.FormatError is mouse_data._core.FormatError
    assert issubclass(mouse_data.NotFoundError, FileNotFoundError)


# --- reprs -----------------------------------------------------------------------------------

def test_reprs_in_the_seed_format():
    store = new_store()
    store.from_dataset(datasets.Dataset.from_dict(steps(40)))
    store.append({"action": 0, "reward": 0.0, "done": 0})
    assert repr(store) == "DatasetStore(steps=41)"
    assert repr(new_store(name="pong")) == "DatasetStore(steps=0, name='pong')"
    with PrefetchBatchifier(store, 4, 3, sampling="batch", num_workers=0, seed=0) as bf:
        assert repr(bf) == "PrefetchBatchifier(n=41, S=4, B=3, sampling='batch')"
    # (mouse-core prints the same: test_vs_mouse_core.py::test_match_reprs)


# --- stubs -----------------------------------------------------------------------------------

PUBLIC_MODULES = ["__init__", "augment", "batch", "dataset_store", "errors", "hub"]


def _stub_functions(tree):
    """{qualified name: ast arguments} of the functions and methods of a stub."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = node.args
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    out[f"{node.name}.{item.name}"] = item.args
    return out


def _params(args):
    names = [a.arg for a in args.posonlyargs + args.args]
    pos_defaults = [None] * (len(names) - len(args.defaults)) + list(args.defaults)
    out = [(n, "POSITIONAL_OR_KEYWORD", d) for n, d in zip(names, pos_defaults)]
    if args.vararg:
        out.append((args.vararg.arg, "VAR_POSITIONAL", None))
    out += [(a.arg, "KEYWORD_ONLY", d) for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    if args.kwarg:
        out.append((args.kwarg.arg, "VAR_KEYWORD", None))
    return [(n, k, None if d is None else ast.unparse(d)) for n, k, d in out
            if n not in ("self", "cls")]


def _runtime_params(func):
    out = []
    for p in inspect.signature(func).parameters.values():
        if p.name in ("self", "cls"):
            continue
        default = None if p.default is inspect.Parameter.empty else repr(p.default)
        out.append((p.name, p.kind.name, default))
    return out


def _normalise_default(text):
    if text is None:
        return None
    try:
        return repr(ast.literal_eval(text))
    except ValueError:
        return text


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_stubs_match_the_runtime(module):
    import importlib

    stub_path = PKG / f"{module}.pyi"
    assert stub_path.exists(), stub_path
    tree = ast.parse(stub_path.read_text())
    mod = mouse_data if module == "__init__" else importlib.import_module(f"mouse_data.{module}")
    public = getattr(mod, "__all__", None)
    functions = _stub_functions(tree)
    checked = 0
    for qualname, args in functions.items():
        owner, _, name = qualname.rpartition(".")
        obj = getattr(mod, owner) if owner else mod
        assert hasattr(obj, name), f"{module}.pyi: {qualname} does not exist at runtime"
        func = inspect.getattr_static(obj, name)
        if isinstance(func, (staticmethod, classmethod)):
            func = func.__func__
        if isinstance(func, property) or not callable(func):
            continue
        want = [(n, k, _normalise_default(d)) for n, k, d in _params(args)]
        got = [(n, k, d if d is None or d == "Ellipsis" else _normalise_default(d))
               for n, k, d in _runtime_params(func)]
        # a stub may write a default as ...: then only its presence must match
        want = [(n, k, "..." if d == "Ellipsis" else d) for n, k, d in want]
        got = [(n, k, "..." if w[2] == "..." and d is not None else d)
               for (n, k, d), w in zip(got, want + [(None, None, None)] * len(got))]
        assert want == got, f"{module}.pyi: {qualname}"
        checked += 1
    stub_names = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    stub_names |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
                   if isinstance(t, ast.Name)}
    stub_names |= {t.target.id for t in tree.body if isinstance(t, ast.AnnAssign)}
    stub_names |= {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom)
                   for a in n.names}
    for name in public or []:
        assert name in stub_names, f"{module}.pyi lacks {name}"
    assert checked or module in ("__init__", "errors")


def test_next_batch_is_typed_as_a_tensordict():
    tree = ast.parse((PKG / "batch.pyi").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "PrefetchBatchifier")
    fn = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "next_batch")
    assert ast.unparse(fn.returns) == "TensorDict"
    init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    sampling = next(a for a in init.args.args if a.arg == "sampling")
    assert ast.unparse(sampling.annotation) == "Sampling"
    alias = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "Sampling")
    assert ast.unparse(alias.value) == "Literal['random', 'last', 'sequential', 'batch']"
    from mouse_data.batch import Sampling
    assert Sampling.__args__ == ("random", "last", "sequential", "batch")
