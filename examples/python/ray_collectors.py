"""Four collectors (Ray actors over vector envs) feed one learner's store while it samples:
the README's "Many collectors on Ray" example. Run: PYTHONPATH=build/release/python python
examples/python/ray_collectors.py"""
import gymnasium as gym, numpy as np, ray
from mouse_data import DatasetStore, PrefetchBatchifier
from mouse_data.ray import StoreIngest

def make_env():  # each collector steps 2 CartPoles
    return gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")] * 2)

def policy(obs, weights):  # weights: the last set_weights value (None at first)
    w = np.array([0, 0, 1.0, 0.3]) if weights is None else weights
    return (obs @ w > 0).astype(np.int64)

ray.init(num_cpus=4, include_dashboard=False)
store = DatasetStore(max_action_dim=2, max_obs_continuous_dim=4)
ingest = StoreIngest(store, block_steps=256, flush_path="/tmp/online", flush_every=30)
collectors = [ingest.collector(f"cartpole-{i}", make_env, policy, seed=i) for i in range(4)]
runs = [c.collect.remote(2000) for c in collectors]      # 4 x 2 envs x 2000 steps
ingest.wait(steps=2000, timeout=120)                      # start learning once some landed
batches = PrefetchBatchifier(store, 64, 32, boundaries="episode", seed=0)
for step in range(200):
    batch = batches.next_batch()                          # ... train on it
    if step % 100 == 99:                                  # new weights for every collector
        ray.get([c.set_weights.remote(np.array([0, 0.1, 1.0, 0.5])) for c in collectors])
ray.get(runs); ray.get([c.close.remote() for c in collectors])
print(ingest.stats()["steps_applied"], "steps;", ingest.save("/tmp/online"), "saved")
batches.close(); ingest.close()
