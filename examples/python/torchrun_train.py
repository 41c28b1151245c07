"""Data-parallel training on mouse_data windows: every rank samples its own share of the steps.

Launch on one machine with two CPU processes (gloo):

    mouse-data generate cartpole /tmp/cartpole --steps 100000
    torchrun --nproc_per_node=2 examples/python/torchrun_train.py /tmp/cartpole

The PrefetchBatchifier takes its rank and world size from torch.distributed, so the ranks read
disjoint windows of each epoch (``sampling="batch"``: one shared permutation, dealt round-robin)
and every rank runs the same number of steps. A toy policy (a GRU over the observations,
predicting the logged action) is trained with DistributedDataParallel; each rank saves its own
batchifier state next to the model checkpoint, and a second launch with ``--resume`` continues
exactly where the first stopped.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from mouse_data import DatasetStore, PrefetchBatchifier


class Policy(nn.Module):
    """obs [B, S, D] -> action logits [B, S, A]."""

    def __init__(self, obs_dim: int, actions: int, hidden: int = 64) -> None:
        super().__init__()
        self.rnn = nn.GRU(obs_dim, hidden, batch_first=True)
        self.head = nn.Linear(hidden, actions)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(obs)
        return self.head(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", help="a dataset directory (save_to_disk or Hub layout)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: none)")
    p.add_argument("--sequence-length", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--checkpoint", default="checkpoints", help="directory for model and states")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(args.seed)

    store = DatasetStore(max_action_dim=2, max_obs_continuous_dim=4)
    store.from_dataset(args.data)
    batches = PrefetchBatchifier(store, args.sequence_length, args.batch_size, sampling="batch",
                                 num_workers=2, seed=args.seed)
    model = DistributedDataParallel(Policy(4, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    ckpt = Path(args.checkpoint)
    if args.resume:
        model.module.load_state_dict(torch.load(ckpt / "model.pt"))
        opt.load_state_dict(torch.load(ckpt / "optimizer.pt"))
        batches.restore(json.loads((ckpt / f"batchifier-rank{rank}.json").read_text()))

    # Every rank has the same number of batches per epoch, so they stay in step in DDP's
    # gradient all-reduce.
    total = batches.total_batches * args.epochs
    if args.max_steps:
        total = min(total, args.max_steps)
    for steps in range(1, total + 1):
        sb = batches.next()
        logits = model(sb.data["obs_continuous"].float())
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), sb.data["action"].flatten())
        opt.zero_grad()
        loss.backward()  # DDP averages the gradients over the ranks
        opt.step()
        if rank == 0 and steps % 20 == 0:
            print(f"epoch {sb.epoch} batch {sb.number}: loss {loss.item():.4f}", flush=True)
    state = batches.state()  # after the last batch trained on
    ckpt.mkdir(parents=True, exist_ok=True)
    (ckpt / f"batchifier-rank{rank}.json").write_text(json.dumps(state))
    if rank == 0:
        torch.save(model.module.state_dict(), ckpt / "model.pt")
        torch.save(opt.state_dict(), ckpt / "optimizer.pt")
        print(f"{world} ranks x {total} steps of [{args.batch_size}, {args.sequence_length}] "
              f"windows; checkpoint in {ckpt}", flush=True)
    batches.close()
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
