"""Remote sources (SPEC §8): Hub layouts read from S3 (SeaweedFS on loopback), the Hugging Face
Hub's URL forms (nginx behind ``HF_ENDPOINT``) and plain HTTP (nginx), against a local copy of
the same layout.

The data: CartPole, 8 Parquet shards of 3,000 rows (conftest.py). Windows of S=20 steps divide a
shard, so one ``sequential`` epoch is exactly the 1,200 windows starting at multiples of 20,
whichever way a shard's windows are aligned.

The servers are session fixtures; a missing ``weed`` or nginx fails these tests (it does not skip
them). Assumptions about the options not yet in SPEC §8 are stated where they are used:
``retry_max_seconds=`` (the bound on retrying, in seconds) and the ``cache_stats()`` keys.
"""

import gc
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import mouse_data as md
from remote_servers import (REMOTE_BUCKET, REMOTE_PREFIX, ROWS_PER_SHARD, SECRET_KEY, SHARDS,
                            make_hub_layout, mouse_data_cli, shard_files)

pytestmark = pytest.mark.remote

S, B = 20, 10
N = ROWS_PER_SHARD * SHARDS
URL = f"s3://{REMOTE_BUCKET}/{REMOTE_PREFIX}"
WORKER = Path(__file__).with_name("remote_worker.py")
STATS_KEYS = {"bytes_fetched", "shards_fetched", "cache_hits", "evictions", "stalls",
              "cache_bytes", "cache_bytes_peak", "cache_limit"}


def new_store():
    return md.DatasetStore(2, 4, format="numpy")


@pytest.fixture(scope="module")
def local(hub_layout):
    store = new_store()
    store.from_dataset(str(hub_layout))
    assert len(store) == N
    return store


def remote(url=URL, **kw):
    store = new_store()
    store.from_dataset(url, **kw)
    return store


def assert_windows_equal(batch, local, s=S):
    """Each window of the batch is local rows [start, start + s), inside one shard."""
    assert batch.starts, "an empty batch"
    for k, start in enumerate(batch.starts):
        assert start // ROWS_PER_SHARD == (start + s - 1) // ROWS_PER_SHARD, \
            f"window at {start} crosses a shard boundary"
        rows = local[np.arange(start, start + s)]
        for key in rows.keys():
            np.testing.assert_array_equal(np.asarray(batch.data[key][k]), np.asarray(rows[key]),
                                          err_msg=f"window at {start}, column {key}")


def assert_rows_equal(store, local, indices):
    got, want = store[indices], local[indices]
    assert set(got.keys()) == set(want.keys())
    for key in want.keys():
        np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(want[key]), err_msg=key)


def shard_bytes(layout):
    return [f.stat().st_size for f in shard_files(layout)]


def upload_copy(s3, layout, prefix):
    """A copy of the layout at s3://mouse-data/<prefix> (removing what was there)."""
    s3.delete_prefix(REMOTE_BUCKET, prefix)
    s3.upload_dir(layout, REMOTE_BUCKET, prefix)
    return f"s3://{REMOTE_BUCKET}/{prefix}"


# --- opening, rows and windows -------------------------------------------------------------------


def test_len_is_known_at_open_before_any_shard_is_fetched(s3, local, hub_layout, tmp_path):
    store = remote(cache_dir=tmp_path / "cache")
    assert len(store) == N
    stats = store.cache_stats()
    assert STATS_KEYS <= set(stats), f"cache_stats() lacks {STATS_KEYS - set(stats)}"
    assert stats["shards_fetched"] == 0
    assert stats["cache_bytes"] == 0
    # Footers only: far less than one shard.
    assert stats["bytes_fetched"] < min(shard_bytes(hub_layout))
    assert_rows_equal(store, local, [0, 1, N - 1, ROWS_PER_SHARD - 1, ROWS_PER_SHARD])
    assert store.cache_stats()["shards_fetched"] == 3  # shards 0, 1 and 7


def test_windows_from_s3_equal_the_local_copys(s3, local, tmp_path):
    store = remote(cache_dir=tmp_path / "cache")
    runs = []
    for workers in (0, 2):  # the schedule, not timing, decides the batches
        b = md.PrefetchBatchifier(store, S, B, seed=11, num_workers=workers)
        batches = [b.next() for _ in range(6)]
        b.close()
        for batch in batches:
            assert_windows_equal(batch, local)
        runs.append([batch.starts for batch in batches])
    assert runs[0] == runs[1]


def test_bytes_fetched_stay_within_a_tenth_of_the_shards_used(s3, hub_layout, tmp_path):
    sizes = shard_bytes(hub_layout)
    store = remote(cache_dir=tmp_path / "cache")
    at_open = store.cache_stats()["bytes_fetched"]
    store[[5, 2 * ROWS_PER_SHARD + 7, 2 * ROWS_PER_SHARD + 8]]  # shards 0 and 2
    stats = store.cache_stats()
    assert stats["shards_fetched"] == 2
    assert stats["bytes_fetched"] - at_open <= 1.1 * (sizes[0] + sizes[2])
    # A whole sequential epoch: every shard once, footers included.
    b = md.PrefetchBatchifier(store, S, B, sampling="sequential", seed=0)
    for _ in range(b.total_batches):
        b.next()
    b.close()
    assert store.cache_stats()["bytes_fetched"] <= 1.1 * sum(sizes)


def test_a_sequential_epoch_over_two_ranks_visits_every_window_once_within_the_cache_limit(
        s3, hub_layout, tmp_path):
    # "A quarter of the dataset": the cache holds a shard fetched and decoded, so the dataset's
    # size here is its Parquet bytes plus its decoded (Arrow) bytes; a quarter of that holds two
    # of the eight shards -- each rank's four shards cannot all stay.
    table = pq.read_table(shard_files(hub_layout))
    limit = (sum(shard_bytes(hub_layout)) + table.nbytes) // 4
    env = dict(os.environ, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(WORKER), "epoch", URL, str(hub_layout), str(limit), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    ranks = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    starts = [r["starts"] for r in ranks]
    assert ranks[0]["batches"] == ranks[1]["batches"]
    assert sorted(starts[0] + starts[1]) == list(range(0, N, S))  # every window exactly once
    shards = [{s // ROWS_PER_SHARD for s in st} for st in starts]
    assert not shards[0] & shards[1] and len(shards[0]) == len(shards[1]) == SHARDS // 2
    for r in ranks:
        stats = r["stats"]
        assert stats["cache_limit"] == limit
        assert stats["cache_bytes_peak"] <= limit, stats
        assert stats["evictions"] > 0, stats
        # Its four shards, plus what the workers, already making the next epoch's first batches
        # (the ring runs ahead of the epoch's end), may have fetched of it: that epoch's first
        # shard and the one prefetch (1 shard) plans after it.
        assert SHARDS // 2 <= stats["shards_fetched"] <= SHARDS // 2 + 2, stats


# --- faults --------------------------------------------------------------------------------------


def test_a_server_restarted_mid_epoch_is_ridden_out(s3, local, tmp_path):
    store = remote(cache_dir=tmp_path / "cache", prefetch_shards=1)
    b = md.PrefetchBatchifier(store, S, B, sampling="sequential", seed=0, num_workers=1)
    total = b.total_batches
    seen = []
    for _ in range(3):
        seen += b.next().starts
    assert store.cache_stats()["shards_fetched"] < SHARDS
    outage = threading.Thread(target=s3.restart, kwargs={"down_for": 3.0})
    outage.start()
    try:
        for _ in range(total - 3):
            batch = b.next()
            assert_windows_equal(batch, local)
            seen += batch.starts
    finally:
        outage.join(timeout=90)
        b.close()
    assert not outage.is_alive()
    assert sorted(seen) == list(range(0, N, S))
    assert store.cache_stats()["shards_fetched"] == SHARDS


def test_a_server_down_for_good_is_an_io_error_naming_the_url(s3, tmp_path):
    # Assumption: the retry bound is the from_dataset option retry_max_seconds (total seconds of
    # retrying a request); SPEC §8 asks for the bound to be an option.
    store = remote(cache_dir=tmp_path / "cache", retry_max_seconds=5)
    s3.stop()
    t0 = time.monotonic()
    with pytest.raises(md.IoError) as e:
        store[[ROWS_PER_SHARD * 4]]
    elapsed = time.monotonic() - t0
    message = str(e.value)
    assert "train-00004-of-00008.parquet" in message
    assert REMOTE_BUCKET in message
    assert SECRET_KEY not in message
    assert elapsed < 5 + 15, f"gave up after {elapsed:.1f} s"


def test_closing_a_store_whose_server_is_gone_does_not_wait_out_the_retries(s3, tmp_path):
    # The default retry budget is 90 s; a store dropped while its prefetcher retries against a
    # stopped server must let go at once.
    store = remote(cache_dir=tmp_path / "cache")
    s3.stop()
    # The worker starts on batch 0 at once and waits for its shard, which the fetcher retries.
    loader = md.PrefetchBatchifier(store, S, 4, sampling="sequential", num_workers=1)
    time.sleep(1.0)
    t0 = time.monotonic()
    loader.close()
    del loader, store
    gc.collect()
    elapsed = time.monotonic() - t0
    assert elapsed < 5, f"closing took {elapsed:.1f} s"


def test_an_unknown_prefix_fails_fast_without_retrying(s3, tmp_path):
    t0 = time.monotonic()
    with pytest.raises(md.Error, match="no-such-prefix"):
        remote(f"s3://{REMOTE_BUCKET}/no-such-prefix", cache_dir=tmp_path / "cache")
    assert time.monotonic() - t0 < 10


def test_a_changed_object_is_fetched_again_by_a_fresh_store(s3, hub_layout, tmp_path):
    url = upload_copy(s3, hub_layout, "changing")
    cache = tmp_path / "cache"
    first = remote(url, cache_dir=cache)
    old = np.asarray(first[[0, ROWS_PER_SHARD]]["reward"]).copy()
    del first
    # Shard 0 again, rewards + 1000 (same rows, other bytes, other ETag).
    path = shard_files(hub_layout)[0]
    table = pq.read_table(path)
    reward = table.column("reward")
    changed = table.set_column(table.schema.get_field_index("reward"), table.schema.field("reward"),
                               pc.add(reward, pa.scalar(1000.0, reward.type)))
    changed_file = tmp_path / path.name
    pq.write_table(changed, changed_file)
    s3.client().upload_file(str(changed_file), REMOTE_BUCKET, f"changing/data/{path.name}")
    second = remote(url, cache_dir=cache)
    new = np.asarray(second[[0, ROWS_PER_SHARD]]["reward"])
    assert new[0] == old[0] + 1000  # the changed shard: fetched again, never the stale copy
    assert new[1] == old[1]  # shard 1 unchanged: from the cache
    stats = second.cache_stats()
    assert stats["shards_fetched"] == 1 and stats["cache_hits"] >= 1, stats


@pytest.mark.parametrize("damage", ["truncated", "not parquet"])
def test_a_corrupt_object_is_a_format_error_naming_the_url(s3, hub_layout, tmp_path, damage):
    prefix = "corrupt-" + damage.replace(" ", "-")
    url = upload_copy(s3, hub_layout, prefix)
    name = shard_files(hub_layout)[2].name
    data = shard_files(hub_layout)[2].read_bytes()
    body = data[: len(data) // 2] if damage == "truncated" else bytes(len(data))
    s3.put(REMOTE_BUCKET, f"{prefix}/data/{name}", body)
    with pytest.raises(md.FormatError, match=re.escape(name)):
        store = remote(url, cache_dir=tmp_path / "cache", retry_max_seconds=5)
        store[[2 * ROWS_PER_SHARD]]  # in case the footer is read lazily


def test_a_shard_larger_than_the_cache_limit_is_an_error_at_open(s3, hub_layout, tmp_path):
    largest = max(shard_bytes(hub_layout))
    with pytest.raises(md.Error) as e:
        remote(cache_dir=tmp_path / "cache", cache_limit=10_000)
    message = str(e.value)
    # Both sizes, in bytes (the shard's Parquet object and the limit).
    assert "10000" in message.replace(",", "").replace("_", ""), message
    assert any(str(n) in message.replace(",", "") for n in shard_bytes(hub_layout)), \
        f"no shard size (largest {largest}) in: {message}"


def test_a_remote_save_to_disk_layout_is_an_error_telling_to_convert(s3, tmp_path):
    disk = tmp_path / "disk"
    subprocess.run([mouse_data_cli(), "generate", "cartpole", str(disk), "--steps", "500"],
                   check=True, capture_output=True, timeout=60)
    url = upload_copy(s3, disk, "save-to-disk")
    with pytest.raises(md.Error, match=r"mouse-data convert --to hub"):
        remote(url, cache_dir=tmp_path / "cache")


# --- checkpoints ---------------------------------------------------------------------------------


def test_state_taken_mid_epoch_restores_in_a_fresh_process(s3, tmp_path):
    store = remote(cache_dir=tmp_path / "cache")
    b = md.PrefetchBatchifier(store, S, B, sampling="batch", num_workers=2, seed=3)
    for _ in range(5):
        b.next()
    state = b.state()
    n = b.total_batches  # past the end of the epoch, into the next
    expected = [list(b.next().starts) for _ in range(n)]
    b.close()
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state))
    out = tmp_path / "resumed.json"
    env = dict(os.environ, MOUSE_DATA_CACHE=str(tmp_path / "fresh-cache"))
    proc = subprocess.run([sys.executable, str(WORKER), "resume", URL, str(state_file), str(n),
                           str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(out.read_text()) == expected


# --- the Hub and plain HTTP ----------------------------------------------------------------------


def test_hf_url_through_hf_endpoint(nginx, local, tmp_path):
    store = remote(nginx.urls["hf"], cache_dir=tmp_path / "cache")
    assert len(store) == N
    assert store.cache_stats()["shards_fetched"] == 0
    b = md.PrefetchBatchifier(store, S, B, seed=5)
    for _ in range(3):
        assert_windows_equal(b.next(), local)
    b.close()
    assert_rows_equal(store, local, [0, N - 1])
    log = (nginx.root / "access.log").read_text()
    assert "/api/datasets/mouse/cartpole/tree/main" in log
    assert "hf_mouse_test_token_do_not_log" not in log  # the token travels in a header only


def test_hf_url_with_a_revision(nginx, hub_layout, local, tmp_path):
    url = nginx.add_hub(hub_layout, "mouse/cartpole-rev", revision="v1")
    assert url == "hf://datasets/mouse/cartpole-rev@v1"
    store = remote(url, cache_dir=tmp_path / "cache")
    assert len(store) == N
    assert_rows_equal(store, local, [3, ROWS_PER_SHARD * 5 + 1])


def test_plain_http_layout(nginx, local, tmp_path):
    store = remote(nginx.urls["plain"], cache_dir=tmp_path / "cache")
    assert len(store) == N
    assert store.cache_stats()["shards_fetched"] == 0
    b = md.PrefetchBatchifier(store, S, B, sampling="sequential", seed=0)
    seen = []
    for _ in range(b.total_batches):
        batch = b.next()
        assert_windows_equal(batch, local)
        seen += batch.starts
    b.close()
    assert sorted(seen) == list(range(0, N, S))


def test_plain_http_readme_with_a_glob_is_an_error(nginx, hub_layout, tmp_path):
    url = nginx.add_plain(hub_layout, "globbed")  # README data_files: data/train-*
    with pytest.raises(md.Error, match=re.escape("data/train-*")):
        remote(url, cache_dir=tmp_path / "cache")


def test_a_layout_rewritten_elsewhere_reads_the_same(tmp_path):
    """The fixture's layout itself: equal shards, one row group each (no server needed)."""
    layout = make_hub_layout(tmp_path / "small", 500, 3, seed=1)
    files = shard_files(layout)
    assert [pq.ParquetFile(f).metadata.num_rows for f in files] == [500] * 3
    assert "configs:" in (layout / "README.md").read_text()
