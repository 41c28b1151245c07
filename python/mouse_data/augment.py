"""Training-time augmentation of step batches: the seed's config dataclasses and TokenAugmenter,
computed by the C++ core from a counter-based generator (reproducible, thread-independent)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import _core
from ._args import Args
from ._output import resolve_format, wrap
from .errors import InvalidArgumentError, MissingKeyError, NotFoundError

PermuteAction = Literal[False, "input", "target", "both"]


@dataclass(frozen=True)
class AugmentScalarSpec:
    """Scalar augmentation: uniform on ``[low, high)`` per batch, or Gaussian ``mean + std * N(0,1)``.

    Set both ``low`` and ``high`` for the uniform form (swapped when low > high; low == high
    fixes the value), neither for the Gaussian one (std == 0 fixes it at ``mean``).
    """

    mean: float
    std: float = 0.0
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        a = Args("AugmentScalarSpec", AugmentScalarSpec)
        for name in ("mean", "std", "low", "high"):
            object.__setattr__(self, name, a.real(name, getattr(self, name),
                                                  none=name in ("low", "high")))
        if (self.low is None) != (self.high is None):
            raise InvalidArgumentError(
                "AugmentScalarSpec: set both low and high for uniform, or neither for Gaussian.")


@dataclass(frozen=True)
class AugmentMaskProbConfig:
    """Per-field probability in [0, 1] that a [b, s] position is masked: set to 0 (``time``: -1;
    vector fields: the whole vector), drawn afresh on every augmenter call."""

    action: float = 0.0
    reward: float = 0.0
    done: float = 0.0
    obs_continuous: float = 0.0
    obs_discrete: float = 0.0
    obs_image: float = 0.0
    time: float = 0.0

    def __post_init__(self) -> None:
        a = Args("AugmentMaskProbConfig", AugmentMaskProbConfig)
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, a.real(f.name, getattr(self, f.name)))

    def any_positive(self) -> bool:
        """Whether any probability is > 0."""
        return any(getattr(self, f.name) > 0.0 for f in dataclasses.fields(self))


def _spec(mean: float) -> Any:
    return field(default_factory=lambda: AugmentScalarSpec(mean, 0.0))


@dataclass(frozen=True)
class AugmentTokensConfig:
    """Which augmentations TokenAugmenter applies (the seed's defaults: everything off but the
    master switch ``enabled``). ``permute_tokens`` is accepted and ignored: a step stream has no
    token order. Invalid values raise ValueError naming the field."""

    enabled: bool = True
    permute_tokens: bool = False
    scale_reward: AugmentScalarSpec = _spec(1.0)
    shift_reward: AugmentScalarSpec = _spec(0.0)
    scale_obs: AugmentScalarSpec = _spec(1.0)
    shift_obs: AugmentScalarSpec = _spec(0.0)
    scale_obs_image: AugmentScalarSpec = _spec(1.0)
    shift_obs_image: AugmentScalarSpec = _spec(0.0)
    permute_obs_discrete: bool = False
    permute_action: PermuteAction = False
    permute_done: bool = False
    mask_prob: AugmentMaskProbConfig = field(default_factory=AugmentMaskProbConfig)

    def __post_init__(self) -> None:
        a = Args("AugmentTokensConfig", AugmentTokensConfig)
        for name in ("enabled", "permute_tokens", "permute_obs_discrete", "permute_done"):
            object.__setattr__(self, name, a.bool(name, getattr(self, name)))
        for name in ("scale_reward", "shift_reward", "scale_obs", "shift_obs", "scale_obs_image",
                     "shift_obs_image"):
            a.instance(name, getattr(self, name), AugmentScalarSpec, "an AugmentScalarSpec")
        a.instance("mask_prob", self.mask_prob, AugmentMaskProbConfig, "an AugmentMaskProbConfig")
        mode = self.permute_action
        if isinstance(mode, str) and mode.lower() in ("off", "false"):
            object.__setattr__(self, "permute_action", False)
        elif mode is not False and mode not in ("input", "target", "both"):
            raise InvalidArgumentError("AugmentTokensConfig.permute_action must be False or one of 'input', "
                             f"'target', 'both'; got {mode!r}")
        _core.validate_config(self)

    def permute_action_enabled(self) -> bool:
        """Whether actions are permuted."""
        return bool(self.permute_action)

    def any_enabled(self) -> bool:
        """Whether ``enabled`` and at least one augmentation would change a batch."""
        return _core.Augmenter(self, 1, 1, 0).enabled

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AugmentTokensConfig:
        """From a mapping in the YAML shapes (``scale_reward: {low: 0.5, high: 2.0}``,
        ``shift_obs: {mean: 0, std: 0.1}``, ``scale_obs: 1.5``, ``permute_action: both``,
        ``mask_prob: {action: 0.1}``); unknown keys are a ValueError naming them."""
        if not isinstance(data, dict):
            raise Args("AugmentTokensConfig.from_dict", AugmentTokensConfig.from_dict).type_error(
                "data", "a dict", data)
        return _from_core_dict(_core.config_from_yaml(json.dumps(_plain(data), allow_nan=False),
                                                      "<dict>"))

    @classmethod
    def from_yaml(cls, source: str | os.PathLike) -> AugmentTokensConfig:
        """From a YAML file, or YAML text. ``source`` is a path when it is an ``os.PathLike``,
        an existing file, or a str of one line (not a ``{...}`` / ``[...]`` flow) that ends in
        ``.yaml`` / ``.yml`` or has no ``:``; anything else is YAML text. A path that does not exist is a FileNotFoundError naming it. Errors name
        the file, line and key."""
        if isinstance(source, os.PathLike):
            text = os.fspath(source)
            is_path = True
        elif isinstance(source, str):
            text = source
            one_line = "\n" not in text and text.strip() != "" and text.lstrip()[0] not in "{["
            is_path = os.path.exists(text) or (one_line and (
                text.lower().endswith((".yaml", ".yml")) or ":" not in text))
        else:
            raise Args("AugmentTokensConfig.from_yaml", AugmentTokensConfig.from_yaml).type_error(
                "source", "a path or YAML text (str)", source)
        if not is_path:
            return _from_core_dict(_core.config_from_yaml(text, "<string>"))
        if not os.path.isfile(text):
            what = "is a directory, not a file" if os.path.isdir(text) else "file not found"
            raise NotFoundError(f"AugmentTokensConfig.from_yaml: {text}: {what}")
        return _from_core_dict(_core.config_from_yaml_file(text))


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        # None means "not set" (AugmentScalarSpec's low / high): leave the key out.
        return {k: _plain(v) for k, v in value.items() if v is not None}
    return value


def _from_core_dict(d: dict[str, Any]) -> AugmentTokensConfig:
    kw = dict(d)
    for name in ("scale_reward", "shift_reward", "scale_obs", "shift_obs", "scale_obs_image",
                 "shift_obs_image"):
        kw[name] = AugmentScalarSpec(**kw[name])
    kw["mask_prob"] = AugmentMaskProbConfig(**kw["mask_prob"])
    return AugmentTokensConfig(**kw)


@dataclass
class AugmentSnapshot:
    """Permutations and scalar draws for one batch, reused by every ``__call__`` until the next
    ``update_augmentations`` (field names as the original's). Permutations are int64 [B, n]
    and map a value v of row b to ``perm[b, v]``; a member is None when its augmentation is off."""

    batch_size: int
    device: Any
    perm_action: Any
    perm_done: Any
    r_scale: float | None
    r_shift: float | None
    o_scale: float | None
    o_shift: float | None
    im_scale: float | None
    im_shift: float | None
    perm_obs_discrete: Any


class TokenAugmenter:
    """Applies an AugmentTokensConfig to a step batch [B, S] (the seed's ``mouse.data.TokenAugmenter``).

    ``update_augmentations(batch)`` draws and keeps a snapshot; ``augmenter(batch)`` applies it
    (masks drawn afresh on each call) and returns a new TensorDict, or ``batch`` itself when
    nothing is enabled. Computation runs in C++ on the CPU without the GIL; results are moved to
    ``device``. Draws come from a counter-based generator seeded by ``seed``, else by
    ``generator.initial_seed()``, else 0, so they are reproducible but differ from torch's.
    """

    def __init__(
        self,
        augment: AugmentTokensConfig,
        max_num_actions: int,
        max_num_obs_discrete: int,
        device: Any = "cpu",
        generator: Any = None,
        *,
        seed: int | None = None,
        format: Literal["auto", "torch", "numpy"] = "auto",
    ) -> None:
        a = Args("TokenAugmenter", TokenAugmenter.__init__)
        a.instance("augment", augment, AugmentTokensConfig, "an AugmentTokensConfig")
        max_num_actions = a.int("max_num_actions", max_num_actions, minimum=0)
        max_num_obs_discrete = a.int("max_num_obs_discrete", max_num_obs_discrete, minimum=0)
        device = _check_device(a, device)
        if generator is not None and not callable(getattr(generator, "initial_seed", None)):
            raise a.type_error("generator", "a torch.Generator or None", generator)
        seed = a.seed("seed", seed)
        if seed is None:
            seed = a.seed("generator.initial_seed()", int(generator.initial_seed())) \
                if generator is not None else 0
        self._augment = augment
        self._core = _core.Augmenter(augment, max_num_actions, max_num_obs_discrete, seed)
        self._format = resolve_format(a.str("format", format))
        self.device = device

    @property
    def augment(self) -> AugmentTokensConfig:
        """The configuration."""
        return self._augment

    @property
    def seed(self) -> int:
        """The seed every draw derives from."""
        return self._core.seed

    @property
    def snapshot(self) -> AugmentSnapshot | None:
        """The kept snapshot, or None."""
        if not self._core.has_snapshot():
            return None
        d = self._core.snapshot(self._format)
        return AugmentSnapshot(device=self.device, **d)

    def set_snapshot(self, snapshot: AugmentSnapshot) -> None:
        """Impose a snapshot (e.g. saved from another run). ValueError when it does not match
        this augmenter's config and sizes."""
        Args("TokenAugmenter.set_snapshot", TokenAugmenter.set_snapshot).instance(
            "snapshot", snapshot, AugmentSnapshot, "an AugmentSnapshot")
        self._core.set_snapshot(snapshot)

    def clear_augmentations(self) -> None:
        """Drop the kept snapshot."""
        self._core.clear_augmentations()

    def update_augmentations(self, step_stream: Any) -> None:
        """Draw permutations and scalars for this batch's B and keep them."""
        _check_batch(Args("TokenAugmenter.update_augmentations",
                          TokenAugmenter.update_augmentations), step_stream)
        self._core.update_augmentations(_cpu(step_stream))

    def __call__(self, step_stream: Any) -> Any:
        """Augment a [B, S] batch (SPEC order: masks, action, done and obs_discrete
        permutations, scale then shift). ValueError without a snapshot, for another B, or for a
        value outside its permutation's range."""
        if not self._core.enabled:
            return step_stream
        _check_batch(Args("TokenAugmenter.__call__", TokenAugmenter.__call__), step_stream)
        return wrap(self._core.augment(_cpu(step_stream), self._format), self._format, self.device)


def _check_batch(a: Args, batch: Any) -> None:
    """A TensorDict [B, S], or a dict whose "action" array is [B, S]."""
    if hasattr(batch, "batch_size") and hasattr(batch, "keys"):
        return
    if not isinstance(batch, Mapping):
        raise a.type_error("step_stream", "a TensorDict [B, S] or a dict of arrays", batch)
    action = batch.get("action")
    if action is None or len(getattr(action, "shape", ())) < 2:
        raise MissingKeyError(f"{a.where}: a dict batch needs an \"action\" array [B, S] (its "
                              "shape gives B and S)")


def _check_device(a: Args, device: Any) -> Any:
    """A device torch understands ("cpu", "cuda", "cuda:1", a torch.device, an index); "cpu"
    (or None) without torch."""
    if device is None:
        return "cpu"
    if isinstance(device, bool) or not isinstance(device, (str, int)) and \
            type(device).__name__ != "device":
        raise a.type_error("device", "a torch device (a str such as 'cpu' or 'cuda:0', a "
                                     "torch.device or an index)", device)
    try:
        import torch
    except ImportError:
        if device != "cpu":
            raise a.value_error("device", "'cpu' without torch installed", device) from None
        return device
    try:
        torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise a.value_error("device", "a torch device such as 'cpu', 'cuda' or 'cuda:0'",
                            device) from None
    return device


def _cpu(batch: Any) -> Any:
    to = getattr(batch, "cpu", None)
    if to is not None and str(getattr(batch, "device", "cpu")) not in ("cpu", "None"):
        return to()
    return batch
