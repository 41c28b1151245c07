"""Column data is shared with pyarrow / datasets, never copied, and its owner stays alive as long
as the store needs it."""

import gc
import json
import os
import subprocess
import sys
import textwrap

import datasets
import numpy as np
import pyarrow as pa
import pytest

from mouse_data import DatasetStore, PrefetchBatchifier

ROWS = 10_000_000


def run_python(code, **env):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, env={**os.environ, **env}, timeout=600)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def big_dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "ds"
    # Written in a child process so this one's memory says nothing about it.
    run_python(f"""
        import numpy as np, datasets
        n = {ROWS}
        ds = datasets.Dataset.from_dict({{
            "action": np.arange(n, dtype=np.int64) % 4,
            "reward": np.ones(n, dtype=np.float32),
            "done": (np.arange(n) % 200 == 199).astype(np.int64),
        }})
        ds.save_to_disk({str(path)!r}, num_shards=4)
    """)
    return path


def test_loading_ten_million_rows_through_datasets_grows_rss_by_less_than_50_mb(big_dataset):
    out = run_python(f"""
        import json, datasets, numpy as np
        def rss_mb():
            for line in open("/proc/self/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        from mouse_data import DatasetStore, PrefetchBatchifier
        ds = datasets.load_from_disk({str(big_dataset)!r})
        # Warm up the import and conversion paths on a tiny dataset first.
        w = DatasetStore(max_action_dim=4); w.from_dataset(ds.select(range(10)))
        before = rss_mb()
        s = DatasetStore(max_action_dim=4)
        s.from_dataset(ds)
        b = PrefetchBatchifier(s, 64, 32, num_workers=2, seed=3)
        for _ in range(50):
            batch = b.next_batch()
        b.close()
        after = rss_mb()
        print(json.dumps({{"len": len(s), "before": before, "after": after,
                          "action": batch["action"][0, :4].tolist()}}))
    """)
    r = json.loads(out.strip().splitlines()[-1])
    assert r["len"] == ROWS
    print(f"RSS before {r['before']:.1f} MB, after {r['after']:.1f} MB")
    assert r["after"] - r["before"] < 50, r
    a = r["action"]
    assert a == [(a[0] + k) % 4 for k in range(4)]


def test_populate_maps_the_rows_in_at_load_and_sampling_faults_nothing_more(big_dataset):
    """populate=True: from_dataset maps every page of the encoded columns (200 MB here) into the
    process, so the file pages it holds grow by the data at load and sampling faults nothing
    more in; without it, loading maps nothing and sampling faults the pages in as it goes. The
    store opens the files itself (a path): ``datasets.load_from_disk`` maps them all in anyway."""
    out = run_python(f"""
        import json, pickle
        def rss_file_mb():
            for line in open("/proc/self/status"):
                if line.startswith("RssFile:"):
                    return int(line.split()[1]) / 1024
        from mouse_data import DatasetStore, PrefetchBatchifier
        w = DatasetStore(max_action_dim=4)
        w.append_columns({{"action": [0], "reward": [0.0], "done": [0]}})
        r = {{}}
        for populate in (False, True):
            before = rss_file_mb()
            s = DatasetStore(max_action_dim=4, populate=populate)
            s.from_dataset({str(big_dataset)!r})
            loaded = rss_file_mb()
            b = PrefetchBatchifier(s, 64, 32, num_workers=0, seed=3, format="numpy")
            for _ in range(3000):
                b.next_batch()
            b.close()
            r[str(populate)] = [loaded - before, rss_file_mb() - loaded]
            if populate:
                r["pickled"] = len(pickle.loads(pickle.dumps(s)))
            del b, s
        print(json.dumps(r))
    """)
    r = json.loads(out.strip().splitlines()[-1])
    print(f"file pages mapped at load / by sampling, MB: {r}")
    assert r["False"][0] < 20 and r["False"][1] > 100, r
    assert r["True"][0] > 180 and r["True"][1] < 10, r
    assert r["pickled"] == ROWS


def test_populate_is_a_bool():
    with pytest.raises(TypeError, match="populate"):
        DatasetStore(max_action_dim=4, populate="yes")


def test_the_arrow_owner_outlives_the_python_objects():
    table = pa.table({"action": pa.array(np.arange(5000) % 3),
                      "reward": pa.array(np.linspace(0, 1, 5000, dtype=np.float32)),
                      "done": pa.array(np.zeros(5000, dtype=np.int64))})
    s = DatasetStore(max_action_dim=3)
    s.from_dataset(table)
    del table
    gc.collect()
    assert s[[4999]]["action"].tolist() == [4999 % 3]
    out = s.to_dataset()  # shares the same buffers
    del s
    gc.collect()
    assert out[4999]["action"] == 4999 % 3


def test_a_datasets_dataset_is_not_copied():
    ds = datasets.Dataset.from_dict({"action": list(range(1000)), "reward": [0.0] * 1000,
                                     "done": [0] * 1000})
    s = DatasetStore(max_action_dim=3)
    s.from_dataset(ds)
    back = s.to_dataset()
    src_buf = ds.data.table.column("action").chunk(0).buffers()[1]
    our_buf = back.data.table.column("action").chunk(0).buffers()[1]
    assert src_buf.address == our_buf.address


def test_a_batch_outlives_store_and_batchifier():
    s = DatasetStore(max_action_dim=3)
    s.append_columns({"action": np.arange(100) % 3, "reward": np.zeros(100, np.float32),
                      "done": np.zeros(100, np.int64)})
    b = PrefetchBatchifier(s, 10, 4, sampling="sequential")
    batch = b.next_batch()
    b.close()
    del b, s
    gc.collect()
    assert batch["action"][1].tolist() == [(10 + k) % 3 for k in range(10)]
