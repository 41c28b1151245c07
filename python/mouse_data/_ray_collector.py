"""CollectorActor of mouse_data.ray (SPEC §9): a gymnasium vector env writing through one
StoreWriter stream per sub-env. Imported through mouse_data.ray."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import ray

from ._ray_writer import StoreWriter


class _Collector:
    """A gymnasium vector env stepping a policy and writing through one StoreWriter stream per
    sub-env (collector id ``f"{collector_id}/{i}"``), so each sub-env's episodes stay whole and
    contiguous. Rows follow SPEC §3's alignment: a reset row (observation, action 0, reward 0,
    done 0), then per step the next observation with the action, reward and done (1 terminated,
    2 truncated) that produced it."""

    def __init__(self, writer: StoreWriter, env_fn: Callable[[], Any],
                 policy_fn: Callable[[Any, Any], Any], steps_per_block: int | None = None,
                 seed: int | None = 0) -> None:
        self._env = env_fn()
        self._policy = policy_fn
        self._weights: Any = None
        n = int(self._env.num_envs)
        block = steps_per_block or writer.block_steps
        self._writers = [StoreWriter(writer._mailbox, f"{writer.collector_id}/{i}", block,
                                     writer.max_inflight_blocks, writer.timeout,
                                     writer.parcel_bytes, writer.parcel_seconds)
                         for i in range(n)]
        self._obs, _ = self._env.reset(seed=seed)
        self._reset_next = np.zeros(n, dtype=bool)  # this step's row is a reset row
        self.steps = 0

    def set_weights(self, weights: Any) -> None:
        """Install new policy weights: later actions are ``policy_fn(obs, weights)``."""
        self._weights = weights

    def _write(self, obs: Any, actions: Any, rewards: Any, done: Any) -> None:
        for i, w in enumerate(self._writers):
            w.append({"observation": np.asarray(obs[i]), "action": np.int64(actions[i]),
                      "reward": np.float64(rewards[i]), "done": np.int64(done[i])})

    def collect(self, steps: int) -> int:
        """Step the vector env ``steps`` times (``steps`` x num_envs rows, reset rows included)
        and write the rows; its finished episodes are shipped before it returns (an
        unfinished one waits for its end, or ``flush``); returns the steps taken so far. An exception is reported to the
        learner (with the sub-env's collector id) and raised."""
        n = len(self._writers)
        zeros = np.zeros(n, dtype=np.int64)
        try:
            for _ in range(steps):
                if self.steps == 0:
                    self._write(self._obs, zeros, np.zeros(n), zeros)
                actions = np.asarray(self._policy(self._obs, self._weights))
                obs, rewards, terminated, truncated, _ = self._env.step(actions)
                done = np.where(terminated, 1, np.where(truncated, 2, 0))
                # After an episode ends the next step resets that sub-env (gymnasium's
                # next-step autoreset): its row is a reset row.
                acts = np.where(self._reset_next, 0, actions)
                rews = np.where(self._reset_next, 0.0, rewards)
                self._write(obs, acts, rews, done)
                self._reset_next = done != 0
                self._obs = obs
                self.steps += 1
            for w in self._writers:
                w.ship()  # this call's finished episodes go now, not at the next call
        except Exception as e:
            for w in self._writers:
                try:
                    w.report_error(e)
                except Exception:  # noqa: BLE001
                    pass
            raise
        return self.steps

    def flush(self) -> None:
        """Ship every row written so far (trailing unfinished episodes included)."""
        for w in self._writers:
            w.flush()

    def close(self) -> None:
        """Flush and close the writers and the env."""
        for w in self._writers:
            w.close()
        self._env.close()


#: The Ray actor class of :class:`_Collector` (``CollectorActor.remote(writer, env_fn,
#: policy_fn, steps_per_block, seed)``, or ``StoreIngest.collector``).
CollectorActor = ray.remote(num_cpus=1)(_Collector)
