"""The augmentation configs (construction, the seed's defaults, validation, YAML / dict loading)
and TokenAugmenter (snapshots, each augmentation's formula, masks, errors, seeding)."""

import dataclasses

import numpy as np
import pytest
import torch
from tensordict import TensorDict

from mouse_data import (
    AugmentMaskProbConfig,
    AugmentScalarSpec,
    AugmentSnapshot,
    AugmentTokensConfig,
    TokenAugmenter,
)

A, D = 5, 4  # max_num_actions, max_num_obs_discrete
B, S = 3, 4
SCALAR_FIELDS = ("scale_reward", "shift_reward", "scale_obs", "shift_obs", "scale_obs_image",
                 "shift_obs_image")
MASK_FIELDS = ("action", "reward", "done", "obs_continuous", "obs_discrete", "obs_image", "time")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOUSE_DATA_CACHE", str(tmp_path / "mouse-data-cache"))


def make_batch(b=B, s=S, obs_discrete_vector=False):
    """A [b, s] batch with every field; values chosen so each position is recognisable."""
    n = b * s
    pos = torch.arange(n).reshape(b, s)
    return TensorDict({
        "action": pos % A,
        "reward": (pos.to(torch.float32) * 0.25 - 1.0),
        "done": pos % 3,
        "xformed_reward": pos.to(torch.float32),
        "time": pos + 10,
        "q_star": torch.arange(n * A, dtype=torch.float32).reshape(b, s, A),
        "obs_continuous": torch.stack([pos.double() * 0.5, -pos.double(), pos.double() + 0.125],
                                      dim=-1),
        "obs_discrete": (torch.stack([pos % D, (pos + 1) % D], dim=-1) if obs_discrete_vector
                         else (pos + 2) % D),
        "obs_image": (torch.stack([pos * 7, pos * 31, 255 - pos], dim=-1) % 256).to(torch.int64),
    }, batch_size=[b, s])


def cfg(**kw):
    return AugmentTokensConfig(**kw)


def aug(config, seed=7, **kw):
    return TokenAugmenter(config, A, D, "cpu", seed=seed, **kw)


def fixed(v):
    """A spec that always yields v (uniform with low == high)."""
    return AugmentScalarSpec(v, low=v, high=v)


def clone(td):
    return td.clone()


def assert_td_equal(a, b, skip=()):
    assert set(a.keys()) == set(b.keys())
    for k in a.keys():
        if k in skip:
            continue
        assert a[k].dtype == b[k].dtype, k
        assert torch.equal(a[k], b[k]), k


def is_perm_rows(t, n):
    return all(sorted(row) == list(range(n)) for row in t.tolist())


# --- configs -------------------------------------------------------------------------------------

def test_scalar_spec_keywords_and_defaults():
    s = AugmentScalarSpec(mean=1.5, std=0.25)
    assert (s.mean, s.std, s.low, s.high) == (1.5, 0.25, None, None)
    s = AugmentScalarSpec(mean=0.0, low=0.5, high=2.0)
    assert (s.std, s.low, s.high) == (0.0, 0.5, 2.0)
    assert AugmentScalarSpec(2.0) == AugmentScalarSpec(mean=2.0, std=0.0, low=None, high=None)
    with pytest.raises(TypeError):
        AugmentScalarSpec()  # mean is required, as in the seed


@pytest.mark.parametrize("kw", [dict(low=0.5), dict(high=0.5), dict(low=None, high=1.0)])
def test_scalar_spec_low_and_high_go_together(kw):
    with pytest.raises(ValueError, match="low"):
        AugmentScalarSpec(1.0, **kw)


def test_mask_prob_defaults_and_keywords():
    m = AugmentMaskProbConfig()
    assert [getattr(m, f) for f in MASK_FIELDS] == [0.0] * 7
    assert not m.any_positive()
    m = AugmentMaskProbConfig(obs_image=0.25, time=1.0)
    assert (m.obs_image, m.time, m.action) == (0.25, 1.0, 0.0)
    assert m.any_positive()
    assert [f.name for f in dataclasses.fields(AugmentMaskProbConfig)] == list(MASK_FIELDS)


def test_tokens_config_defaults_are_the_seeds():
    c = AugmentTokensConfig()
    assert [f.name for f in dataclasses.fields(AugmentTokensConfig)] == [
        "enabled", "permute_tokens", "scale_reward", "shift_reward", "scale_obs", "shift_obs",
        "scale_obs_image", "shift_obs_image", "permute_obs_discrete", "permute_action",
        "permute_done", "mask_prob"]
    assert c.enabled is True
    assert c.permute_tokens is False
    assert c.scale_reward == AugmentScalarSpec(1.0, 0.0)
    assert c.shift_reward == AugmentScalarSpec(0.0, 0.0)
    assert c.scale_obs == AugmentScalarSpec(1.0, 0.0)
    assert c.shift_obs == AugmentScalarSpec(0.0, 0.0)
    assert c.scale_obs_image == AugmentScalarSpec(1.0, 0.0)
    assert c.shift_obs_image == AugmentScalarSpec(0.0, 0.0)
    assert c.permute_obs_discrete is False
    assert c.permute_action is False
    assert c.permute_done is False
    assert c.mask_prob == AugmentMaskProbConfig()
    assert not c.any_enabled()
    assert not c.permute_action_enabled()


def test_tokens_config_keywords_and_any_enabled():
    c = cfg(permute_action="target", permute_done=True, shift_obs=AugmentScalarSpec(0.0, 0.5),
            mask_prob=AugmentMaskProbConfig(done=0.5))
    assert c.permute_action == "target" and c.permute_action_enabled()
    assert c.shift_obs.std == 0.5 and c.mask_prob.done == 0.5
    assert c.any_enabled()
    assert not cfg(enabled=False, permute_done=True).any_enabled()
    assert cfg(scale_reward=fixed(2.0)).any_enabled()
    assert not cfg(scale_reward=fixed(1.0), shift_obs=fixed(0.0)).any_enabled()  # identities
    assert cfg(scale_obs=AugmentScalarSpec(1.0, low=1.0, high=1.5)).any_enabled()
    assert cfg(mask_prob=AugmentMaskProbConfig(time=0.1)).any_enabled()


@pytest.mark.parametrize("value", ["off", "false"])
def test_permute_action_off_spellings_are_not_enabled(value):
    c = cfg(permute_action=value)
    assert not c.permute_action_enabled()
    assert not c.any_enabled()


def test_configs_are_frozen():
    for obj, name in ((AugmentScalarSpec(1.0), "mean"), (AugmentMaskProbConfig(), "action"),
                      (AugmentTokensConfig(), "enabled")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, 0.5)
    c = AugmentTokensConfig()
    assert hash(AugmentScalarSpec(1.0)) == hash(AugmentScalarSpec(1.0))
    d = dataclasses.replace(c, permute_done=True)
    assert d.permute_done and not c.permute_done


@pytest.mark.parametrize("kw,word", [
    (dict(permute_action="sideways"), "permute_action"),
    (dict(permute_action=True), "permute_action"),
    (dict(permute_action=None), "permute_action"),
    (dict(mask_prob=AugmentMaskProbConfig(action=1.5)), "action"),
    (dict(mask_prob=AugmentMaskProbConfig(time=-0.1)), "time"),
    (dict(scale_reward=AugmentScalarSpec(1.0, -0.5)), "scale_reward"),
])
def test_tokens_config_validation_names_the_field(kw, word):
    with pytest.raises(ValueError, match=word):
        AugmentTokensConfig(**kw)


def test_from_dict_yaml_shapes():
    c = AugmentTokensConfig.from_dict({
        "scale_reward": {"low": 0.5, "high": 2.0},
        "shift_obs": {"mean": 0.0, "std": 0.1},
        "scale_obs": 1.5,
        "permute_action": "both",
        "permute_done": True,
        "mask_prob": {"action": 0.1, "time": 0.2},
    })
    assert isinstance(c, AugmentTokensConfig)
    assert (c.scale_reward.low, c.scale_reward.high) == (0.5, 2.0)
    assert (c.shift_obs.mean, c.shift_obs.std) == (0.0, 0.1)
    assert (c.scale_obs.mean, c.scale_obs.std, c.scale_obs.low) == (1.5, 0.0, None)
    assert c.permute_action == "both" and c.permute_done is True
    assert c.mask_prob == AugmentMaskProbConfig(action=0.1, time=0.2)
    # untouched fields keep their defaults
    assert c.scale_obs_image == AugmentScalarSpec(1.0, 0.0) and c.enabled is True
    assert AugmentTokensConfig.from_dict({}) == AugmentTokensConfig()


def test_from_dict_of_asdict_round_trips():
    """dataclasses.asdict spells unset low / high as None (YAML null): that means "not set"."""
    for c in (AugmentTokensConfig(),
              AugmentTokensConfig(scale_reward=AugmentScalarSpec(1.0, low=0.5, high=2.0),
                                  shift_obs=AugmentScalarSpec(0.0, 0.1), permute_action="both",
                                  mask_prob=AugmentMaskProbConfig(action=0.1))):
        assert AugmentTokensConfig.from_dict(dataclasses.asdict(c)) == c
    assert AugmentTokensConfig.from_yaml("scale_obs: {mean: 2.0, low: null, high: null}\n") \
        .scale_obs == AugmentScalarSpec(2.0)


@pytest.mark.parametrize("data,word", [
    ({"scale_rewards": 1.0}, "scale_rewards"),
    ({"mask_prob": {"actions": 0.1}}, "actions"),
    ({"scale_reward": {"mean": 1.0, "sdt": 0.1}}, "sdt"),
])
def test_from_dict_unknown_key_names_it(data, word):
    with pytest.raises(ValueError, match=word):
        AugmentTokensConfig.from_dict(data)


def test_from_dict_invalid_values():
    with pytest.raises(ValueError, match="permute_action"):
        AugmentTokensConfig.from_dict({"permute_action": "sometimes"})
    with pytest.raises(ValueError, match="low"):
        AugmentTokensConfig.from_dict({"scale_reward": {"low": 1.0}})
    with pytest.raises(ValueError, match="obs_image"):
        AugmentTokensConfig.from_dict({"mask_prob": {"obs_image": 2.0}})


YAML = """\
enabled: true
permute_action: input
permute_obs_discrete: true
scale_reward:
  low: 0.8
  high: 1.25
shift_obs_image: {mean: 0.0, std: 2.0}
mask_prob:
  obs_continuous: 0.3
"""


def test_from_yaml_file_and_text(tmp_path):
    path = tmp_path / "aug.yaml"
    path.write_text(YAML)
    for source in (path, str(path), YAML):
        c = AugmentTokensConfig.from_yaml(source)
        assert c.permute_action == "input"
        assert c.permute_obs_discrete is True
        assert (c.scale_reward.low, c.scale_reward.high) == (0.8, 1.25)
        assert (c.shift_obs_image.mean, c.shift_obs_image.std) == (0.0, 2.0)
        assert c.mask_prob == AugmentMaskProbConfig(obs_continuous=0.3)
        assert c.permute_done is False and c.scale_obs == AugmentScalarSpec(1.0, 0.0)
    assert AugmentTokensConfig.from_yaml("permute_action: false\n").permute_action is False
    assert AugmentTokensConfig.from_yaml("enabled: false\n").enabled is False


def test_from_yaml_unknown_key_names_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("permute_done: true\nmask_prob:\n  reward: 0.1\n  rewards: 0.2\n")
    with pytest.raises(ValueError, match="rewards") as info:
        AugmentTokensConfig.from_yaml(path)
    assert "bad.yaml" in str(info.value)
    with pytest.raises(ValueError, match="permute_dones"):
        AugmentTokensConfig.from_yaml("permute_dones: true\n")


def test_from_yaml_invalid_yaml_is_value_error():
    with pytest.raises(ValueError):
        AugmentTokensConfig.from_yaml("permute_action: [both\n")


# --- TokenAugmenter: nothing enabled ------------------------------------------------------------

@pytest.mark.parametrize("config", [
    AugmentTokensConfig(),
    AugmentTokensConfig(enabled=False, permute_action="both", permute_done=True,
                        mask_prob=AugmentMaskProbConfig(action=1.0)),
    AugmentTokensConfig(permute_tokens=True),
    AugmentTokensConfig(scale_reward=fixed(1.0), shift_reward=fixed(0.0)),
])
def test_nothing_enabled_returns_the_input_itself(config):
    a = aug(config)
    batch = make_batch()
    a.update_augmentations(batch)
    assert a.snapshot is None
    assert a(batch) is batch
    plain = {k: v.numpy() for k, v in batch.items()}
    assert a(plain) is plain


def test_constructor_checks_the_config_type():
    with pytest.raises(TypeError):
        TokenAugmenter({"permute_done": True}, A, D, "cpu")


# --- snapshots -----------------------------------------------------------------------------------

def test_snapshot_fields_and_ranges():
    c = cfg(permute_action="both", permute_done=True, permute_obs_discrete=True,
            scale_reward=AugmentScalarSpec(1.0, low=0.5, high=2.0),
            shift_reward=AugmentScalarSpec(0.0, low=3.0, high=-3.0),  # swapped
            scale_obs=AugmentScalarSpec(1.0, 0.1), shift_obs=fixed(0.25),
            scale_obs_image=AugmentScalarSpec(1.0, low=0.9, high=1.1),
            shift_obs_image=AugmentScalarSpec(5.0, 0.0))
    a = aug(c)
    assert a.snapshot is None
    a.update_augmentations(make_batch())
    snap = a.snapshot
    assert isinstance(snap, AugmentSnapshot)
    assert snap.batch_size == B
    assert str(snap.device) == "cpu"
    assert snap.perm_action.shape == (B, A) and snap.perm_action.dtype == torch.int64
    assert snap.perm_done.shape == (B, 3) and snap.perm_done.dtype == torch.int64
    assert snap.perm_obs_discrete.shape == (B, D)
    assert is_perm_rows(snap.perm_action, A)
    assert is_perm_rows(snap.perm_done, 3)
    assert is_perm_rows(snap.perm_obs_discrete, D)
    assert 0.5 <= snap.r_scale < 2.0
    assert -3.0 <= snap.r_shift < 3.0
    assert isinstance(snap.o_scale, float) and snap.o_scale != 1.0
    assert snap.o_shift == 0.25
    assert 0.9 <= snap.im_scale < 1.1
    assert snap.im_shift == 5.0
    a.clear_augmentations()
    assert a.snapshot is None


def test_inactive_members_are_none():
    a = aug(cfg(permute_done=True))
    a.update_augmentations(make_batch())
    snap = a.snapshot
    assert snap.perm_action is None and snap.perm_obs_discrete is None
    assert (snap.r_scale, snap.r_shift, snap.o_scale, snap.o_shift, snap.im_scale,
            snap.im_shift) == (None,) * 6


FULL = dict(permute_action="both", permute_done=True, permute_obs_discrete=True,
            scale_reward=AugmentScalarSpec(1.0, low=0.5, high=2.0),
            shift_obs=AugmentScalarSpec(0.0, 1.0),
            mask_prob=AugmentMaskProbConfig(reward=0.5, time=0.5))


def snapshots(a, n):
    out = []
    for _ in range(n):
        a.update_augmentations(make_batch())
        s = a.snapshot
        out.append((s.perm_action.tolist(), s.perm_done.tolist(), s.perm_obs_discrete.tolist(),
                    s.r_scale, s.o_shift))
    return out


def test_same_seed_same_snapshots_and_masks():
    one, two, other = aug(cfg(**FULL), seed=11), aug(cfg(**FULL), seed=11), aug(cfg(**FULL), seed=12)
    assert one.seed == two.seed == 11
    s1, s2, s3 = snapshots(one, 4), snapshots(two, 4), snapshots(other, 4)
    assert s1 == s2
    assert s1 != s3
    assert len({str(s) for s in s1}) == 4  # every update draws afresh
    batch = make_batch()
    for a in (one, two):
        a.update_augmentations(batch)
    outs1 = [one(batch) for _ in range(3)]
    outs2 = [two(batch) for _ in range(3)]
    for x, y in zip(outs1, outs2):
        assert_td_equal(x, y)
    # masks are drawn afresh on every call
    assert any(not torch.equal(outs1[0]["time"], o["time"]) for o in outs1[1:])


def test_generator_seed_equals_seed_argument():
    g = torch.Generator().manual_seed(5)
    by_gen = TokenAugmenter(cfg(**FULL), A, D, torch.device("cpu"), generator=g)
    by_seed = TokenAugmenter(cfg(**FULL), A, D, "cpu", seed=5)
    assert by_gen.seed == 5
    assert snapshots(by_gen, 3) == snapshots(by_seed, 3)
    batch = make_batch()
    by_gen.update_augmentations(batch)
    by_seed.update_augmentations(batch)
    assert_td_equal(by_gen(batch), by_seed(batch))


def test_set_snapshot_imposes_permutations_and_scalars():
    c = cfg(permute_action="input", permute_done=True, scale_reward=AugmentScalarSpec(1.0, 0.3))
    a = aug(c)
    batch = make_batch()
    perm_a = torch.tensor([[4, 3, 2, 1, 0], [0, 1, 2, 3, 4], [1, 2, 3, 4, 0]])
    perm_d = torch.tensor([[0, 1, 2], [2, 0, 1], [1, 0, 2]])
    a.set_snapshot(AugmentSnapshot(batch_size=B, device="cpu", perm_action=perm_a,
                                   perm_done=perm_d, r_scale=3.0, r_shift=None, o_scale=None,
                                   o_shift=None, im_scale=None, im_shift=None,
                                   perm_obs_discrete=None))
    snap = a.snapshot
    assert snap.perm_action.tolist() == perm_a.tolist() and snap.r_scale == 3.0
    out = a(batch)
    assert out["action"].tolist() == [[perm_a[b, v].item() for v in row]
                                      for b, row in enumerate(batch["action"].tolist())]
    assert out["done"].tolist() == [[perm_d[b, v].item() for v in row]
                                    for b, row in enumerate(batch["done"].tolist())]
    assert torch.equal(out["reward"], batch["reward"] * torch.tensor(3.0))
    # a snapshot copied from another augmenter gives the same results there
    b2 = aug(c, seed=99)
    b2.set_snapshot(a.snapshot)
    assert_td_equal(b2(batch), out)


def test_set_snapshot_that_does_not_fit_is_value_error():
    a = aug(cfg(permute_action="both"))
    bad = AugmentSnapshot(batch_size=B, device="cpu", perm_action=torch.zeros(B, A + 1,
                                                                             dtype=torch.int64),
                          perm_done=None, r_scale=None, r_shift=None, o_scale=None, o_shift=None,
                          im_scale=None, im_shift=None, perm_obs_discrete=None)
    with pytest.raises(ValueError):
        a.set_snapshot(bad)
    missing = dataclasses.replace(bad, perm_action=None)
    with pytest.raises(ValueError):
        a.set_snapshot(missing)


# --- each augmentation ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["input", "target", "both"])
def test_permute_action_modes(mode):
    a = aug(cfg(permute_action=mode))
    batch = make_batch()
    before = clone(batch)
    a.update_augmentations(batch)
    perm = a.snapshot.perm_action
    out = a(batch)
    assert out is not batch
    assert_td_equal(batch, before)  # the input never changes
    act, q = batch["action"], batch["q_star"]
    expected_action = torch.stack([perm[b][act[b]] for b in range(B)])
    if mode in ("input", "both"):
        assert torch.equal(out["action"], expected_action)
    else:
        assert torch.equal(out["action"], act)
    if mode in ("target", "both"):
        # column a of q_star moves to perm[b][a]: it follows its action
        for b in range(B):
            for s in range(S):
                for x in range(A):
                    assert out["q_star"][b, s, perm[b, x]] == q[b, s, x]
        # so the value of the taken action is unchanged under "both"
        if mode == "both":
            taken_before = torch.gather(q, 2, act.unsqueeze(-1))
            taken_after = torch.gather(out["q_star"], 2, out["action"].unsqueeze(-1))
            assert torch.equal(taken_before, taken_after)
    else:
        assert torch.equal(out["q_star"], q)
    assert_td_equal(out, batch, skip=("action", "q_star"))


def test_permute_done():
    a = aug(cfg(permute_done=True))
    batch = make_batch()
    a.update_augmentations(batch)
    perm = a.snapshot.perm_done
    out = a(batch)
    assert out["done"].tolist() == [[perm[b, v].item() for v in row]
                                    for b, row in enumerate(batch["done"].tolist())]
    assert_td_equal(out, batch, skip=("done",))


@pytest.mark.parametrize("vector", [False, True])
def test_permute_obs_discrete(vector):
    a = aug(cfg(permute_obs_discrete=True))
    batch = make_batch(obs_discrete_vector=vector)
    a.update_augmentations(batch)
    perm = a.snapshot.perm_obs_discrete
    out = a(batch)
    obs = batch["obs_discrete"]
    expected = torch.stack([perm[b][obs[b]] for b in range(B)])
    assert torch.equal(out["obs_discrete"], expected)
    assert_td_equal(out, batch, skip=("obs_discrete",))


def test_reward_and_obs_continuous_scale_then_shift_from_the_snapshot():
    c = cfg(scale_reward=AugmentScalarSpec(1.0, low=0.5, high=2.0),
            shift_reward=AugmentScalarSpec(0.0, 0.5),
            scale_obs=AugmentScalarSpec(1.0, low=-2.0, high=2.0),
            shift_obs=AugmentScalarSpec(0.0, low=-1.0, high=1.0))
    a = aug(c)
    batch = make_batch()
    a.update_augmentations(batch)
    snap = a.snapshot
    out = a(batch)
    assert out["reward"].dtype == torch.float32 and out["obs_continuous"].dtype == torch.float64
    r = batch["reward"].numpy()
    exp_r = (r * np.float32(snap.r_scale)).astype(np.float32) + np.float32(snap.r_shift)
    np.testing.assert_allclose(out["reward"].numpy(), exp_r, rtol=1e-6, atol=1e-6)
    o = batch["obs_continuous"].numpy()
    np.testing.assert_allclose(out["obs_continuous"].numpy(), o * snap.o_scale + snap.o_shift,
                               rtol=1e-12, atol=1e-12)
    assert_td_equal(out, batch, skip=("reward", "obs_continuous"))
    # the same snapshot, the same result
    assert_td_equal(a(batch), out)


def test_fixed_scalars_are_exact():
    c = cfg(scale_reward=fixed(2.0), shift_reward=fixed(-0.5), scale_obs=fixed(4.0),
            shift_obs=fixed(1.0))
    a = aug(c)
    batch = make_batch()
    a.update_augmentations(batch)
    assert (a.snapshot.r_scale, a.snapshot.r_shift) == (2.0, -0.5)
    out = a(batch)
    assert torch.equal(out["reward"], batch["reward"] * 2.0 - 0.5)
    assert torch.equal(out["obs_continuous"], batch["obs_continuous"] * 4.0 + 1.0)


def image_snapshot(scale, shift):
    return AugmentSnapshot(batch_size=1, device="cpu", perm_action=None, perm_done=None,
                           r_scale=None, r_shift=None, o_scale=None, o_shift=None,
                           im_scale=scale, im_shift=shift, perm_obs_discrete=None)


def image_batch(values):
    v = torch.tensor(values, dtype=torch.int64).reshape(1, 1, -1)
    return TensorDict({"action": torch.zeros(1, 1, dtype=torch.int64),
                       "reward": torch.zeros(1, 1), "done": torch.zeros(1, 1, dtype=torch.int64),
                       "obs_image": v}, batch_size=[1, 1])


def test_obs_image_rounds_and_clamps_after_each_step():
    c = cfg(scale_obs_image=AugmentScalarSpec(1.0, low=0.5, high=2.0),
            shift_obs_image=AugmentScalarSpec(0.0, low=-10.0, high=10.0))
    a = aug(c)
    values = [0, 1, 3, 5, 100, 200, 255]
    # scale 1.5 then shift -3: 1.5 -> 2 (half to even) -> 0 (clamped); 4.5 -> 4 -> 1;
    # 200 * 1.5 -> 255 (clamped) -> 252
    a.set_snapshot(image_snapshot(1.5, -3.0))
    out = a(image_batch(values))
    assert out["obs_image"].dtype == torch.int64
    assert out["obs_image"].flatten().tolist() == [0, 0, 1, 5, 147, 252, 252]
    # half-way values round to even; a negative scaled value clamps to 0 before the shift
    a.set_snapshot(image_snapshot(0.5, 2.5))
    assert a(image_batch(values))["obs_image"].flatten().tolist() == [2, 2, 4, 4, 52, 102, 130]
    a.set_snapshot(image_snapshot(-1.0, 7.0))
    assert a(image_batch(values))["obs_image"].flatten().tolist() == [7] * 7
    a.set_snapshot(image_snapshot(3.0, 300.0))
    assert a(image_batch(values))["obs_image"].flatten().tolist() == [255] * 7


def test_obs_image_uses_the_drawn_snapshot_scalars():
    c = cfg(scale_obs_image=AugmentScalarSpec(1.0, low=0.7, high=1.3),
            shift_obs_image=AugmentScalarSpec(0.0, low=-20.0, high=20.0))
    a = aug(c, seed=3)
    batch = make_batch()
    a.update_augmentations(batch)
    snap = a.snapshot
    out = a(batch)["obs_image"].numpy()
    x = batch["obs_image"].numpy().astype(np.float64)
    lo = np.clip(np.round(x * snap.im_scale), 0, 255)
    expected = np.clip(np.round(lo + snap.im_shift), 0, 255)
    # exact except possibly at half-way ties computed in float32
    assert np.abs(out - expected).max() <= 1
    assert (out == expected).mean() > 0.95
    assert out.min() >= 0 and out.max() <= 255


def test_mask_probability_one_fills_every_field():
    a = aug(cfg(mask_prob=AugmentMaskProbConfig(**{f: 1.0 for f in MASK_FIELDS})))
    for vector in (False, True):
        batch = make_batch(obs_discrete_vector=vector)
        a.update_augmentations(batch)
        out = a(batch)
        for k in ("action", "reward", "done", "obs_continuous", "obs_discrete", "obs_image"):
            assert (out[k] == 0).all(), k
            assert out[k].dtype == batch[k].dtype, k
        assert (out["time"] == -1).all()
        assert torch.equal(out["q_star"], batch["q_star"])  # never masked
        assert torch.equal(out["xformed_reward"], batch["xformed_reward"])
        assert (batch["time"] >= 10).all()  # the input is unchanged


def test_mask_then_permute_a_masked_action_becomes_perm_of_zero():
    a = aug(cfg(permute_action="input", mask_prob=AugmentMaskProbConfig(action=1.0)))
    batch = make_batch()
    a.update_augmentations(batch)
    perm = a.snapshot.perm_action
    out = a(batch)
    assert out["action"].tolist() == [[perm[b, 0].item()] * S for b in range(B)]


def test_partial_mask_probability_masks_some_positions():
    a = aug(cfg(mask_prob=AugmentMaskProbConfig(reward=0.5)), seed=1)
    batch = make_batch(b=16, s=16)
    batch["reward"] += 100.0  # nothing is 0 before masking
    a.update_augmentations(batch)
    masked = (a(batch)["reward"] == 0).float().mean().item()
    assert 0.25 < masked < 0.75


def test_missing_fields_are_skipped():
    a = aug(cfg(permute_obs_discrete=True, scale_obs=fixed(2.0), scale_obs_image=fixed(2.0),
                mask_prob=AugmentMaskProbConfig(time=1.0, obs_image=1.0)))
    batch = TensorDict({"action": torch.zeros(B, S, dtype=torch.int64),
                        "reward": torch.ones(B, S), "done": torch.zeros(B, S, dtype=torch.int64)},
                       batch_size=[B, S])
    a.update_augmentations(batch)
    out = a(batch)
    assert set(out.keys()) == {"action", "reward", "done"}
    assert_td_equal(out, batch)


def test_numpy_dicts_in_numpy_out():
    a = aug(cfg(permute_done=True), format="numpy")
    batch = {k: v.numpy() for k, v in make_batch().items()}
    a.update_augmentations(batch)
    out = a(batch)
    assert type(out) is dict and isinstance(out["done"], np.ndarray)
    perm = np.asarray(a.snapshot.perm_done)
    np.testing.assert_array_equal(out["done"], np.stack([perm[b][batch["done"][b]]
                                                         for b in range(B)]))


# --- errors --------------------------------------------------------------------------------------

def test_call_without_a_snapshot_is_an_error():
    a = aug(cfg(permute_done=True))
    with pytest.raises(ValueError, match="update_augmentations"):
        a(make_batch())
    a.update_augmentations(make_batch())
    a.clear_augmentations()
    with pytest.raises(ValueError):
        a(make_batch())


def test_batch_of_another_b_is_value_error():
    a = aug(cfg(permute_action="both"))
    a.update_augmentations(make_batch(b=3))
    with pytest.raises(ValueError, match="3"):
        a(make_batch(b=2))
    a.update_augmentations(make_batch(b=2))
    a(make_batch(b=2))


@pytest.mark.parametrize("field,config,value", [
    ("action", dict(permute_action="input"), A),
    ("action", dict(permute_action="both"), -1),
    ("done", dict(permute_done=True), 3),
    ("obs_discrete", dict(permute_obs_discrete=True), D + 2),
])
def test_value_out_of_permutation_range_names_the_field(field, config, value):
    a = aug(cfg(**config))
    batch = make_batch()
    a.update_augmentations(batch)
    batch[field][1, 2] = value
    with pytest.raises(ValueError, match=field) as info:
        a(batch)
    assert str(value) in str(info.value)


def test_members_no_transform_changes_are_the_callers_own_tensors():
    """A reward-only scale copies the reward and gives back every other member as it was given
    (the same tensor, writable, no copy); the input never changes. A NumPy batch under the torch
    format gets copies of the unchanged members instead (no read-only aliases)."""
    a = aug(cfg(scale_reward=fixed(2.0)))
    batch = make_batch()
    before = batch.clone()
    a.update_augmentations(batch)
    out = a(batch)
    assert torch.equal(out["reward"], before["reward"] * 2.0)
    assert out["reward"].data_ptr() != batch["reward"].data_ptr()
    for key in ("action", "done", "obs_continuous", "q_star", "time"):
        assert out[key].data_ptr() == batch[key].data_ptr(), key
    assert_td_equal(batch, before)
    as_numpy = {k: v.numpy() for k, v in make_batch().items()}
    out = a(as_numpy)
    assert out["action"].data_ptr() != as_numpy["action"].ctypes.data
    assert np.array_equal(out["action"].numpy(), as_numpy["action"])
