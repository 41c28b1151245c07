"""Run by test_distributed.py under ``torchrun --nproc_per_node=2`` (gloo, CPU): each rank builds
a batchifier with rank and world size taken from torch.distributed, and the ranks' windows are
collected with all_gather_object and written as JSON for the test to check.

Usage: torchrun_worker.py PHASE DATASET_DIR OUT_DIR, PHASE one of epoch, save, resume."""

import json
import sys
from pathlib import Path

import torch.distributed as dist

from mouse_data import DatasetStore, PrefetchBatchifier

S, B = 8, 4


def gather(value):
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, value)
    return out


def main() -> None:
    phase, data, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    store = DatasetStore(max_action_dim=3, max_obs_continuous_dim=2, format="numpy")
    store.from_dataset(data)

    if phase == "epoch":
        seq = PrefetchBatchifier(store, S, B, sampling="sequential", num_workers=2)
        assert (seq.rank, seq.world_size) == (rank, dist.get_world_size())
        starts = []
        for _ in range(seq.total_batches):
            batch = seq.next()
            # Each window's rewards are its rows: the batch holds what the starts say.
            for k, start in enumerate(batch.starts):
                assert batch.data["reward"][k].tolist() == [float(start + j) for j in range(S)]
            starts += batch.starts
        next_epoch = seq.next().epoch
        seq.close()
        rand = [PrefetchBatchifier(store, S, B, seed=7, num_workers=w).next().starts for w in (0, 2)]
        result = {"epoch": gather(starts), "batches": gather(seq.total_batches),
                  "next_epoch": gather(next_epoch), "random": gather(rand)}
    elif phase == "save":
        # sampling "batch" without a seed: rank 0's seed is broadcast so the ranks share the
        # permutation; the state is taken mid-epoch.
        bat = PrefetchBatchifier(store, S, B, sampling="batch", num_workers=1)
        for _ in range(3):
            bat.next()
        state = bat.state()
        expected = [bat.next().starts for _ in range(bat.total_batches + 2)]
        (out / f"state-{rank}.json").write_text(json.dumps(state))
        result = {"seed": gather(bat.seed), "expected": gather(expected)}
    else:  # resume
        state = json.loads((out / f"state-{rank}.json").read_text())
        bat = PrefetchBatchifier(store, S, B, sampling="batch", num_workers=2)
        bat.restore(state)
        got = [bat.next().starts for _ in range(bat.total_batches + 2)]
        result = {"got": gather(got)}
    if rank == 0:
        (out / f"{phase}.json").write_text(json.dumps(result))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
