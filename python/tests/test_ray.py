"""SPEC §9 on a local Ray cluster (loopback only): collectors feed one learner's store while it
samples; every step lands exactly once, episodes stay whole and contiguous, through a collector
killed and restarted by Ray and a learner killed and restarted from its last save.

One cluster for the module; every wait is bounded."""

import functools
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
gym = pytest.importorskip("gymnasium")

import mouse_data as md  # noqa: E402
from mouse_data.ray import CollectorError, IngestError, StoreIngest  # noqa: E402

import ray_streams  # noqa: E402

HERE = Path(__file__).resolve().parent
CARTPOLE_STEPS = 40  # time limit, so that episodes end by truncation too


@pytest.fixture(scope="module")
def cluster():
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # Workers import the tests' helper modules (env and policy functions, streams).
    path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), path) if p)
    info = ray.init(num_cpus=6, include_dashboard=False, _node_ip_address="127.0.0.1",
                    configure_logging=False, log_to_driver=False)
    yield info
    ray.shutdown()
    os.environ["PYTHONPATH"] = path


def cartpole_vec():
    return gym.vector.SyncVectorEnv(
        [lambda: gym.make("CartPole-v1", max_episode_steps=CARTPOLE_STEPS) for _ in range(2)])


def frozenlake(tag):
    """FrozenLake whose observation is [state, tag]: the tag tells the sub-envs' rows apart."""
    env = gym.make("FrozenLake-v1", max_episode_steps=30)
    space = gym.spaces.Box(0, 1000, (2,), np.float32)
    return gym.wrappers.TransformObservation(
        env, lambda s: np.array([s, tag], dtype=np.float32), space)


def frozenlake_vec(c):
    return gym.vector.SyncVectorEnv([functools.partial(frozenlake, 10 * c + i) for i in range(2)])


def cartpole_policy(obs, weights):
    """Deterministic in the observation (and the installed weights)."""
    w = np.array([0.0, 0.0, 1.0, 0.3]) if weights is None else np.asarray(weights)
    return (np.asarray(obs) @ w > 0).astype(np.int64)


def frozenlake_policy(obs, weights):
    return (np.asarray(obs)[:, 0].astype(np.int64) * 5 + 1) % 4


def expected_streams(make, policy, seed, steps, n=2):
    """The rows each sub-env of a collector writes, recomputed with single gymnasium envs:
    a reset row (action 0, reward 0, done 0) and then one row per step; the step after an
    episode end is the next reset row (gymnasium vector envs reset at the next step)."""
    streams = []
    for i in range(n):
        env = make(i)
        obs, _ = env.reset(seed=seed + i)
        rows = [(obs, 0, 0.0, 0)]
        ended = False
        for _ in range(steps):
            if ended:
                obs, _ = env.reset()
                rows.append((obs, 0, 0.0, 0))
                ended = False
                continue
            action = int(policy(np.asarray(obs)[None], None)[0])
            obs, reward, terminated, truncated, _ = env.step(action)
            done = 1 if terminated else 2 if truncated else 0
            rows.append((obs, action, float(reward), done))
            ended = done != 0
        streams.append([key(*r) for r in rows])
    return streams


def key(obs, action, reward, done):
    return (tuple(np.asarray(obs, dtype=np.float32).reshape(-1).tolist()), int(action),
            float(reward), int(done))


def store_rows(store):
    ds = store.to_dataset()
    cols = ds.to_dict() if hasattr(ds, "to_dict") else ds.to_pydict()
    return [key(o, a, r, d) for o, a, r, d in
            zip(cols["observation"], cols["action"], cols["reward"], cols["done"])]


def check_exactly_once(rows, streams):
    """Every stream's rows appear once, in order, each episode contiguous (a run of one stream
    from a reset row through its end, or to the stream's end); nothing else is in `rows`."""
    cursor = [0] * len(streams)
    current = None
    for p, row in enumerate(rows):
        if current is None:
            found = [s for s, rs in enumerate(streams) if cursor[s] < len(rs) and rs[cursor[s]] == row]
            assert len(found) == 1, f"row {p} {row} starts no pending episode (or several)"
            current = found[0]
        assert streams[current][cursor[current]] == row, \
            f"row {p}: episode of stream {current} broken at its step {cursor[current]}"
        cursor[current] += 1
        if row[3] != 0 or cursor[current] == len(streams[current]):
            current = None
    assert cursor == [len(s) for s in streams], "steps missing from the store"


def sample_while(ingest, store, steps, timeout):
    """Samples windows (boundaries="episode") until `steps` are applied; checks every window
    stays in one episode: a done != 0 only at its last real step."""
    ingest.wait(100, timeout=timeout)
    batcher = md.PrefetchBatchifier(store, 16, 8, num_workers=1, seed=0, format="numpy",
                                    boundaries="episode")
    batches = 0
    deadline = time.monotonic() + timeout
    try:
        while ingest.stats()["steps_applied"] < steps:
            assert time.monotonic() < deadline, ingest.stats()
            b = batcher.next().data
            done, mask = np.asarray(b["done"]), np.asarray(b["mask"])
            for w in range(done.shape[0]):
                real = int(mask[w].sum())
                assert not np.any(done[w, :real - 1] != 0), "a window crosses an episode end"
            batches += 1
            if ingest.errors():
                ingest.wait(steps, timeout=1)  # raises the collector's error
    finally:
        batcher.close()
    return batches


def test_four_collectors_exactly_once_while_sampling(cluster, caplog):
    caplog.set_level(logging.INFO, logger="mouse_data.ray")
    store = md.DatasetStore(max_action_dim=2, max_obs_continuous_dim=4)
    ingest = StoreIngest(store, block_steps=16, max_inflight_blocks=4, log_every=0.5)
    steps = 150
    actors = []
    try:
        actors = [ingest.collector(f"cp{c}", cartpole_vec, cartpole_policy, seed=10 * c)
                  for c in range(4)]
        ray.get(actors[0].set_weights.remote([0.0, 0.1, 1.0, 0.5]), timeout=60)
        ray.get(actors[0].set_weights.remote(None), timeout=60)  # back to the default
        runs = [a.collect.remote(steps) for a in actors]
        total = 4 * 2 * (steps + 1)
        # Before close, each sub-env may keep back an unfinished episode and a parcel.
        batches = sample_while(ingest, store, total - 8 * (CARTPOLE_STEPS + 1 + 16), 120)
        ray.get(runs, timeout=120)
        ray.get([a.close.remote() for a in actors], timeout=60)
        assert ingest.wait(total, timeout=60) == total
        assert batches > 0
        stats = ingest.stats()
        assert stats["steps_held"] == 0 and stats["refused"] == 0
        assert sorted(stats["collectors"]) == sorted(f"cp{c}/{i}" for c in range(4) for i in range(2))
        assert all(c["lag_blocks"] == 0 for c in stats["collectors"].values())
        streams = [s for c in range(4) for s in
                   expected_streams(
                       lambda i: gym.make("CartPole-v1", max_episode_steps=CARTPOLE_STEPS),
                       cartpole_policy, 10 * c, steps)]
        check_exactly_once(store_rows(store), streams)
    finally:
        for a in actors:
            ray.kill(a, no_restart=True)
        ingest.close()
    assert "steps/s in" in caplog.text


def test_killed_collector_restarts_without_loss_or_duplicates(cluster):
    store = md.DatasetStore(max_action_dim=4, max_obs_continuous_dim=2)
    ingest = StoreIngest(store, block_steps=8, max_inflight_blocks=2, log_every=0)
    steps = 400
    actors = []
    try:
        actors = [ingest.collector(f"fl{c}", functools.partial(frozenlake_vec, c),
                                   frozenlake_policy, seed=c)
                  for c in range(2)]
        runs = [a.collect.remote(steps) for a in actors]
        deadline = time.monotonic() + 60
        while ingest.stats()["collectors"].get("fl0/0", {}).get("applied", -1) < 5:
            assert time.monotonic() < deadline, ingest.stats()
            time.sleep(0.05)
        ray.kill(actors[0], no_restart=False)
        ray.get(runs, timeout=120)  # the killed actor's call is retried after its restart
        ray.get([a.close.remote() for a in actors], timeout=60)
        total = 2 * 2 * (steps + 1)
        assert ingest.wait(total, timeout=60) == total
        stats = ingest.stats()
        assert stats["collectors"]["fl0/0"]["runs"] == 2
        assert stats["collectors"]["fl1/0"]["runs"] == 1
        assert stats["steps_held"] == 0
        streams = [s for c in range(2) for s in
                   expected_streams(
                       lambda i, c=c: frozenlake(10 * c + i), frozenlake_policy, c, steps)]
        check_exactly_once(store_rows(store), streams)
    finally:
        for a in actors:
            ray.kill(a, no_restart=True)
        ingest.close()


def test_writers_in_tasks_with_replay_and_duplicates(cluster):
    store = md.DatasetStore(max_action_dim=4, max_obs_continuous_dim=2)
    ingest = StoreIngest(store, block_steps=ray_streams.BLOCK_STEPS, log_every=0)
    write = ray.remote(ray_streams.write_stream)
    try:
        ray.get([write.remote(ingest.writer(f"s{c}"), c, 0) for c in range(2)], timeout=120)
        # A collector started again under the same id replays its steps: nothing lands twice.
        ray.get(write.remote(ingest.writer("s0"), 0, 0), timeout=120)
        assert ingest.wait(2 * ray_streams.STEPS, timeout=30) == 2 * ray_streams.STEPS
        stats = ingest.stats()
        assert stats["collectors"]["s0"]["runs"] == 2
        assert stats["steps_applied"] == 2 * ray_streams.STEPS
        rows = store.to_dataset().to_dict()
        obs = np.asarray(rows["observation"])
        for c in range(2):
            np.testing.assert_array_equal(obs[obs[:, 0] == c, 1], np.arange(ray_streams.STEPS))
    finally:
        ingest.close()


def test_parcels_ship_by_bytes_by_age_and_on_ship(cluster):
    """Finished blocks travel together: a parcel ships at parcel_bytes, when its oldest block
    waited parcel_seconds (on the next append), on ship(), and before a block of other columns
    (one Arrow stream per parcel); an unfinished episode only on flush."""
    store = md.DatasetStore(max_action_dim=4, max_obs_continuous_dim=2)
    for bad in ({"parcel_bytes": 0}, {"parcel_seconds": -1}, {"parcel_seconds": "1"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            StoreIngest(store, **bad)
    ingest = StoreIngest(store, block_steps=4, parcel_bytes=1 << 30, parcel_seconds=0.3,
                         log_every=0)

    def episode(n, lo=0):
        cols = ray_streams.columns(0, lo, lo + n)
        cols["done"] = np.zeros(n, dtype=np.int64)
        cols["done"][-1] = 1
        return cols

    try:
        w = ingest.writer("parcels")
        assert (w.parcel_bytes, w.parcel_seconds) == (1 << 30, 0.3)
        w.append_columns(episode(6))                 # blocks 0, 1: finished, kept in the parcel
        time.sleep(0.5)
        assert ingest.stats()["steps_applied"] == 0
        third = episode(3, 6)
        w.append_columns({k: v[:2] for k, v in third.items()})  # parcel older than 0.3 s: ships
        assert ingest.wait(6, timeout=30) == 6
        w.append_columns({k: v[2:] for k, v in third.items()})  # ends the episode: block 2
        w.ship()
        assert ingest.wait(9, timeout=30) == 9
        # A block with another column set starts a new parcel (the writer ships the old one).
        w.append_columns(episode(2, 9))
        extra = episode(2, 11) | {"q_star": np.zeros((2, 4), dtype=np.float32)}
        w.append_columns(extra)
        assert ingest.wait(11, timeout=30) == 11
        w.close()
        assert ingest.wait(13, timeout=30) == 13
        rows = store.to_dataset().to_dict()
        np.testing.assert_array_equal(np.asarray(rows["observation"])[:, 1], np.arange(13))
        assert ingest.stats()["collectors"]["parcels"]["applied"] == 4  # blocks 0..4

        # parcel_bytes binds: with 1-byte parcels every finished block ships at once.
        small = StoreIngest(md.DatasetStore(max_action_dim=4, max_obs_continuous_dim=2),
                            block_steps=4, parcel_bytes=1, parcel_seconds=60, log_every=0)
        try:
            ws = small.writer("small")
            ws.append_columns(episode(5))
            assert small.wait(5, timeout=30) == 5
            ws.close()
        finally:
            small.close()
    finally:
        ingest.close()


def test_refuses_blocks_past_max_buffer_steps(cluster):
    store = md.DatasetStore(max_action_dim=4, max_obs_continuous_dim=2)
    ingest = StoreIngest(store, block_steps=10, max_buffer_steps=30, max_inflight_blocks=1,
                         log_every=0)
    try:
        w = ingest.writer("long")

        @ray.remote
        def long_episode(w):
            cols = ray_streams.columns(0, 0, 100)
            cols["done"] = np.zeros(100, dtype=np.int64)  # one episode of 100+ steps
            try:
                w.append_columns(cols)
                w.flush()
            except IngestError as e:
                return str(e)
            return "no error"

        message = ray.get(long_episode.remote(w), timeout=60)
        assert "refused" in message and "max_buffer_steps is 30" in message
        with pytest.raises(CollectorError, match="'long'.*max_buffer_steps"):
            ingest.wait(1, timeout=30)
        stats = ingest.stats()
        assert stats["refused"] >= 1 and stats["steps_held"] <= 30 and len(store) == 0
    finally:
        ingest.close()


def test_errors_surface_with_the_collector_id(cluster):
    store = md.DatasetStore(max_action_dim=4, max_obs_continuous_dim=2)
    ingest = StoreIngest(store, block_steps=4, log_every=0)
    try:
        with pytest.raises(ValueError, match="non-empty str"):
            ingest.writer("")
        with pytest.raises(ValueError, match="non-empty str"):
            ingest.writer(3)
        with pytest.raises(TypeError, match="DatasetStore"):
            StoreIngest(object())
        with pytest.raises(ValueError, match="block_steps"):
            StoreIngest(store, block_steps=0)
        w = ingest.writer("local")
        with pytest.raises(ValueError, match="no 'done' column"):
            w.append_columns({"action": [1]})
        with pytest.raises(TypeError, match="column 'done' has dtype"):
            w.append_columns({"action": [1], "reward": [0.0], "done": ["yes"]})

        # A wrong column type reaches the learner's store: refused there, named by collector.
        @ray.remote
        def bad_types(w):
            w.append_columns({"action": np.array([0.5, 1.5]), "reward": [0.0, 0.0],
                              "done": [0, 1]})
            try:
                w.flush()
            except IngestError as e:
                return str(e)
            return "no error"

        assert "action" in ray.get(bad_types.remote(ingest.writer("typed")), timeout=60)
        with pytest.raises(CollectorError, match="'typed'.*action"):
            ingest.wait(1, timeout=30)

        # A collector that raises: the exception reaches the learner with its id.
        @ray.remote
        def raising(w):
            with w:
                w.append({"action": 0, "reward": 0.0, "done": 0})
                raise RuntimeError("the env broke")

        with pytest.raises(ray.exceptions.RayTaskError):
            ray.get(raising.remote(ingest.writer("raiser")), timeout=60)
        with pytest.raises(CollectorError, match="'raiser'.*the env broke"):
            ingest.wait(1, timeout=30)
    finally:
        ingest.close()
    with pytest.raises(IngestError, match="closed"):
        ingest.writer("late")
    with pytest.raises(IngestError, match="closed"):
        ingest.wait(1, timeout=1)


def test_learner_killed_restarts_from_its_last_save(cluster, tmp_path):
    path = tmp_path / "flushed"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ["PYTHONPATH"]]))
    proc = subprocess.Popen([sys.executable, str(HERE / "ray_learner.py"),
                             cluster.address_info["gcs_address"], str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        saved = 0
        while saved < 150:  # kill it mid-run, after a few saves
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the learner saved nothing"
            time.sleep(0.2)
            state = path / "mouse_ingest.json"
            if state.exists():
                try:
                    saved = json.loads(state.read_text())["steps"]
                except (ValueError, OSError):
                    pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    import datasets

    flushed = datasets.load_from_disk(str(path)).to_dict()
    applied = json.loads((path / "mouse_ingest.json").read_text())["applied"]
    obs = np.asarray(flushed["observation"])
    assert 0 < len(obs) < 2 * ray_streams.STEPS
    for c in range(2):
        mine = obs[obs[:, 0] == c, 1]
        # Exactly the steps of the blocks the save says were applied, each once, in order.
        np.testing.assert_array_equal(mine, np.arange(len(mine)))
        assert ray_streams.blocks_of(c, len(mine)) == applied[f"s{c}"] + 1

    # Restart: resume from the save, the collectors replay everything, nothing lands twice.
    store = md.DatasetStore(max_action_dim=4, max_obs_continuous_dim=2)
    ingest = StoreIngest.resume(store, path, block_steps=ray_streams.BLOCK_STEPS, log_every=0)
    try:
        assert len(store) == len(obs)
        write = ray.remote(ray_streams.write_stream)
        ray.get([write.remote(ingest.writer(f"s{c}"), c, 0) for c in range(2)], timeout=120)
        ingest.wait(2 * ray_streams.STEPS - len(obs), timeout=30)
        rows = np.asarray(store.to_dataset().to_dict()["observation"])
        for c in range(2):
            np.testing.assert_array_equal(rows[rows[:, 0] == c, 1], np.arange(ray_streams.STEPS))
        ingest.save(path)
        assert datasets.load_from_disk(str(path)).num_rows == 2 * ray_streams.STEPS
    finally:
        ingest.close()
