"""Real gymnasium loops appending exactly what ``reset`` / ``step`` return (SPEC §3, §4).

Each loop runs on top of a source loaded from a ``datasets.Dataset`` whose ``done`` is int64,
samples windows with a PrefetchBatchifier while it appends, and ends with
``to_dataset().save_to_disk()`` read back by ``datasets.load_from_disk`` value for value.

Alignment (SPEC §3): row t holds the observation at t and the action, reward and done that
produced it: done = 1 terminated, 2 truncated, 0 running. A reset observation was produced by
no action: its row has action 0, reward 0 and done 0. The loops append ``terminated`` itself
(a bool) as done unless the episode was truncated (then the int 2), so a column that starts
with bools gets ints later, on top of an int64 source column.
"""

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
datasets = pytest.importorskip("datasets")

import mouse_data as md  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover - torch is in the test requirements
    torch = None

OBS_DIM = 4
# Short time limits, so that episodes are truncated too (done 2 after bools).
CARTPOLE_STEPS = 40
FROZENLAKE_STEPS = 12


def new_store():
    return md.DatasetStore(4, OBS_DIM, 1, format="numpy")


def cartpole_source():
    """12 steps in the layout the loops append: observation float32[4], int64 done."""
    rng = np.random.default_rng(0)
    rows = {
        "observation": [rng.normal(size=OBS_DIM).astype(np.float32).tolist() for _ in range(12)],
        "action": [int(a) for a in rng.integers(0, 2, 12)],
        "reward": [1.0] * 12,
        "done": [0] * 11 + [1],
    }
    features = datasets.Features({
        "observation": datasets.List(datasets.Value("float32"), length=OBS_DIM),
        "action": datasets.Value("int64"),
        "reward": datasets.Value("float32"),
        "done": datasets.Value("int64"),
    })
    return datasets.Dataset.from_dict(rows, features=features)


def frozenlake_source():
    rows = {"observation_discrete": [0, 4, 8, 9, 13, 14, 15, 0, 1, 2],
            "action": [1, 1, 2, 1, 2, 2, 0, 2, 2, 1],
            "reward": [0.0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
            "done": [0, 0, 0, 0, 0, 0, 1, 0, 0, 0]}
    features = datasets.Features({
        "observation_discrete": datasets.Value("int64"),
        "action": datasets.Value("int64"),
        "reward": datasets.Value("float32"),
        "done": datasets.Value("int64"),
    })
    return datasets.Dataset.from_dict(rows, features=features)


def done_value(terminated, truncated):
    """What the loop appends as done: terminated itself (a bool: 1 / 0) or the int 2."""
    return 2 if truncated and not terminated else terminated


def as_action(a, step):
    """Actions as loops give them: NumPy ints, and now and then a 0-dim torch tensor."""
    if torch is not None and step % 3 == 0:
        return torch.tensor(int(a))
    return a


class Expected:
    """The rows a loop appended, as plain values, in store order (after the source)."""

    def __init__(self, source, obs_column):
        self.obs_column = obs_column
        self.rows = [dict(zip(source.column_names, values))
                     for values in zip(*(source[c] for c in source.column_names))]

    def add(self, obs, action, reward, done):
        o = np.asarray(obs).tolist()
        self.rows.append({self.obs_column: o, "action": int(action), "reward": float(reward),
                          "done": int(done)})

    def column(self, name):
        return [r[name] for r in self.rows]


def check_batch(sampled, expected, obs_key):
    """A sampled window holds exactly the rows it names (the store's consistent prefix)."""
    data = sampled.data
    seq = data["action"].shape[1]
    for b, start in enumerate(sampled.starts):
        rows = expected.rows[start:start + seq]
        assert data["action"][b].tolist() == [r["action"] for r in rows]
        assert data["done"][b].tolist() == [r["done"] for r in rows]
        np.testing.assert_array_equal(data["reward"][b], np.float32([r["reward"] for r in rows]))
        obs = data[obs_key][b]
        want = np.asarray([r[expected.obs_column] for r in rows])
        np.testing.assert_array_equal(obs.reshape(want.shape), want)


def check_round_trip(store, expected, tmp_path, obs_feature):
    """to_dataset -> save_to_disk -> datasets.load_from_disk: the source's types (int64 done
    although bools were appended; float32 reward and observations), every value as appended."""
    store.to_dataset().save_to_disk(str(tmp_path / "saved"))
    back = datasets.load_from_disk(str(tmp_path / "saved"))
    assert back.num_rows == len(expected.rows)
    assert back.features["done"] == datasets.Value("int64")
    assert back.features["action"] == datasets.Value("int64")
    assert back.features["reward"] == datasets.Value("float32")
    assert back.features[expected.obs_column] == obs_feature
    values = back.to_dict()
    assert values["done"] == expected.column("done")
    assert values["action"] == expected.column("action")
    np.testing.assert_array_equal(np.float32(values["reward"]), np.float32(expected.column("reward")))
    np.testing.assert_array_equal(
        np.asarray(values[expected.obs_column], dtype=np.float64),
        np.asarray(expected.column(expected.obs_column), dtype=np.float32).astype(np.float64))
    # And the reloaded dataset encodes as the store does.
    again = new_store()
    again.from_dataset(back)
    idx = np.arange(len(again))
    want = store[idx]
    got = again[idx]
    assert list(got) == list(want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "FrozenLake-v1"])
def test_single_env_loop_appends_what_step_returns(env_id, tmp_path):
    continuous = env_id == "CartPole-v1"
    source = cartpole_source() if continuous else frozenlake_source()
    obs_column = "observation" if continuous else "observation_discrete"
    obs_key = "obs_continuous" if continuous else "obs_discrete"
    store = new_store()
    store.from_dataset(source)
    expected = Expected(source, obs_column)
    env = gym.make(env_id, max_episode_steps=CARTPOLE_STEPS if continuous else FROZENLAKE_STEPS)
    env.action_space.seed(1)
    batcher = md.PrefetchBatchifier(store, 8, 4, num_workers=2, seed=3, format="numpy")
    steps = 3000 if continuous else 2500
    sampled = 0
    try:
        obs, _ = env.reset(seed=1)
        store.append({obs_column: obs, "action": 0, "reward": 0.0, "done": False})
        expected.add(obs, 0, 0.0, 0)
        episodes = 0
        for t in range(steps):
            action = env.action_space.sample()  # np.int64
            obs, reward, terminated, truncated, _ = env.step(action)
            store.append({obs_column: obs, "action": as_action(action, t), "reward": reward,
                          "done": done_value(terminated, truncated)})
            expected.add(obs, action, reward, done_value(terminated, truncated))
            if terminated or truncated:
                episodes += 1
                obs, _ = env.reset()
                store.append({obs_column: obs, "action": 0, "reward": 0.0, "done": False})
                expected.add(obs, 0, 0.0, 0)
            if t % 50 == 0:
                check_batch(batcher.next(), expected, obs_key)
                sampled += 1
    finally:
        batcher.close()
        env.close()
    assert episodes > 10 and sampled > 40
    assert len(store) == len(expected.rows)
    assert set(expected.column("done")) == {0, 1, 2}
    obs_feature = (datasets.List(datasets.Value("float32"), length=OBS_DIM) if continuous
                   else datasets.Value("int64"))
    check_round_trip(store, expected, tmp_path, obs_feature)


class EpisodeBuffer:
    """One vector sub-env's rows of the episode under way."""

    def __init__(self):
        self.obs, self.action, self.reward, self.done = [], [], [], []

    def add(self, obs, action, reward, done):
        self.obs.append(obs)
        self.action.append(action)
        self.reward.append(reward)
        self.done.append(done)

    def flush(self, store, expected, how):
        if not self.obs:
            return
        if how == "columns":
            # The bulk path: a done column of bools (a terminated episode) or ints (truncated).
            store.append_columns({"observation": np.stack(self.obs),
                                  "action": np.asarray(self.action, dtype=np.int64),
                                  "reward": np.asarray(self.reward),
                                  "done": np.asarray(self.done)})
        else:  # row by row: NumPy scalars and array rows straight from the vector env
            for o, a, r, d in zip(self.obs, self.action, self.reward, self.done):
                store.append({"observation": o, "action": a, "reward": r, "done": d})
        for o, a, r, d in zip(self.obs, self.action, self.reward, self.done):
            expected.add(o, a, r, d)
        self.__init__()


@pytest.mark.parametrize("how", ["columns", "rows"])
def test_vector_env_next_step_autoreset(how, tmp_path):
    n_envs = 4
    source = cartpole_source()
    store = new_store()
    store.from_dataset(source)
    expected = Expected(source, "observation")
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make("CartPole-v1", max_episode_steps=CARTPOLE_STEPS) for _ in range(n_envs)])
    assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    envs.action_space.seed(5)
    buffers = [EpisodeBuffer() for _ in range(n_envs)]
    batcher = md.PrefetchBatchifier(store, 8, 4, num_workers=1, seed=7, format="numpy")
    resets = 0
    try:
        obs, _ = envs.reset(seed=5)
        for i in range(n_envs):
            buffers[i].add(obs[i], 0, 0.0, False)
        autoreset = np.zeros(n_envs, dtype=bool)
        for t in range(700):
            actions = envs.action_space.sample()  # int64 [n_envs]
            obs, rewards, terminations, truncations, _ = envs.step(actions)
            for i in range(n_envs):
                if autoreset[i]:
                    # Next-step autoreset: this step ignored the action and reset env i; its
                    # observation starts an episode (reward 0, not done).
                    assert rewards[i] == 0 and not terminations[i] and not truncations[i]
                    buffers[i].add(obs[i], 0, rewards[i], terminations[i])
                    resets += 1
                    continue
                buffers[i].add(obs[i], actions[i], rewards[i],
                               done_value(terminations[i], truncations[i]))
                if terminations[i] or truncations[i]:
                    buffers[i].flush(store, expected, how)  # whole episodes stay contiguous
            autoreset = np.logical_or(terminations, truncations)
            if t % 25 == 0:
                check_batch(batcher.next(), expected, "obs_continuous")
        for b in buffers:
            b.flush(store, expected, how)
    finally:
        batcher.close()
        envs.close()
    assert resets > 20
    assert len(store) == len(expected.rows) > 2500
    assert set(expected.column("done")) == {0, 1, 2}
    check_round_trip(store, expected, tmp_path,
                     datasets.List(datasets.Value("float32"), length=OBS_DIM))
