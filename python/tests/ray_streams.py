"""Synthetic collector streams shared by test_ray.py and its learner process: collector c
writes STEPS steps whose observation is [c, i] (i = its step index) in episodes of
1 + (e * 7 + c) % 23 steps, so every step can be recognised in a store."""

import time

import numpy as np

STEPS = 600
BLOCK_STEPS = 8
CHUNK = 10


def episode_ends(c: int) -> np.ndarray:
    """done per step of collector c: 1 at the last step of each episode."""
    done = np.zeros(STEPS, dtype=np.int64)
    i, e = 0, 0
    while True:
        i += 1 + (e * 7 + c) % 23
        if i > STEPS:
            return done
        done[i - 1] = 1
        e += 1


def columns(c: int, lo: int, hi: int) -> dict:
    i = np.arange(lo, hi)
    return {"observation": np.stack([np.full(hi - lo, c, np.float32), i.astype(np.float32)], 1),
            "action": i % 2, "reward": np.full(hi - lo, 0.5), "done": episode_ends(c)[lo:hi]}


def blocks_of(c: int, steps: int) -> int:
    """Blocks a writer cuts from the first `steps` steps of collector c (whole blocks only)."""
    done = episode_ends(c)
    n, rows = 0, 0
    for i in range(steps):
        rows += 1
        if done[i] or rows == BLOCK_STEPS:
            n, rows = n + 1, 0
    return n


def write_stream(writer, c: int, pause: float) -> int:
    """Writes collector c's steps in chunks of CHUNK, pausing between chunks, then closes."""
    for lo in range(0, STEPS, CHUNK):
        writer.append_columns(columns(c, lo, min(lo + CHUNK, STEPS)))
        if pause:
            time.sleep(pause)
    writer.close()
    return STEPS
