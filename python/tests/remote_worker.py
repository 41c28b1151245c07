"""Run by test_remote.py in other processes over a remote store (SPEC §8).

- ``epoch URL LOCAL_LAYOUT CACHE_LIMIT OUT`` under ``torchrun --nproc_per_node=2`` (gloo, CPU):
  each rank runs one ``sequential`` epoch over its shards with a cache of CACHE_LIMIT bytes in
  its own cache directory, checks every window against the local copy's rows, and writes its
  starts and ``cache_stats()`` to ``OUT/rank-<r>.json``.
- ``resume URL STATE_JSON N OUT_JSON``: a fresh process restores a batchifier state and writes
  the starts of the next N batches.
"""

import json
import sys
from pathlib import Path

import numpy as np

from mouse_data import DatasetStore, PrefetchBatchifier

S, B = 20, 10
MAX_ACTION_DIM, OBS_DIM = 2, 4


def new_store():
    return DatasetStore(MAX_ACTION_DIM, OBS_DIM, format="numpy")


def check_windows(batch, local, s):
    for k, start in enumerate(batch.starts):
        rows = local[np.arange(start, start + s)]
        for key in rows.keys():
            np.testing.assert_array_equal(np.asarray(batch.data[key][k]), np.asarray(rows[key]),
                                          err_msg=f"window at {start}, column {key}")


def epoch(url, layout, cache_limit, out):
    import torch.distributed as dist

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    store = new_store()
    store.from_dataset(url, cache_dir=str(out / f"cache-{rank}"), cache_limit=cache_limit,
                       prefetch_shards=1)
    local = new_store()
    local.from_dataset(layout)
    b = PrefetchBatchifier(store, S, B, sampling="sequential", num_workers=2, seed=0)
    starts = []
    for _ in range(b.total_batches):
        batch = b.next()
        check_windows(batch, local, S)
        starts += [int(x) for x in batch.starts]
    stats = store.cache_stats()
    result = {"rank": rank, "world_size": dist.get_world_size(), "starts": starts,
              "batches": b.total_batches, "stats": stats}
    b.close()
    (out / f"rank-{rank}.json").write_text(json.dumps(result))
    dist.barrier()
    dist.destroy_process_group()


def resume(url, state_file, n, out_file):
    store = new_store()
    store.from_dataset(url)
    b = PrefetchBatchifier(store, S, B, sampling="batch", num_workers=2, seed=3)
    b.restore(json.loads(Path(state_file).read_text()))
    got = [[int(x) for x in b.next().starts] for _ in range(n)]
    b.close()
    Path(out_file).write_text(json.dumps(got))


if __name__ == "__main__":
    phase, args = sys.argv[1], sys.argv[2:]
    if phase == "epoch":
        epoch(args[0], args[1], int(args[2]), Path(args[3]))
    elif phase == "resume":
        resume(args[0], args[1], int(args[2]), args[3])
    else:
        raise SystemExit(f"unknown phase {phase!r}")
