"""``Augmenter`` and ``SequenceAugmentModalitySpec`` of the 0.4 face.

The augmenter works on what the 0.4 ``DataLoader`` samples: a batch as a list of windows, each a
list of step dicts. Per window it draws one set of parameters per modality (a permutation, an
image scale and shift); per step and modality it draws whether to mask. Fields are named freely
(any row key), so it runs on the row dicts, in Python, not on the engine's encoded columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import InvalidArgumentError, WrongTypeError

__all__ = ["Augmenter", "SequenceAugmentModalitySpec"]

_TYPES = ("discrete", "linear", "image")


@dataclass(frozen=True)
class _Draw:
    """How one scalar (an image scale or shift) is drawn: uniform on ``[low, high)`` when both
    bounds are set (swapped when given high-first), else ``mean + std * N(0, 1)``."""

    mean: float
    std: float = 0.0
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        if (self.low is None) != (self.high is None):
            raise InvalidArgumentError("scale/shift: set both low and high, or neither")

    def _bounds(self) -> tuple[float, float] | None:
        if self.low is None or self.high is None:
            return None
        lo, hi = float(self.low), float(self.high)
        return (lo, hi) if lo <= hi else (hi, lo)

    def is_active(self, identity: float) -> bool:
        """False when every draw would be ``identity``."""
        bounds = self._bounds()
        if bounds is not None:
            return bounds[0] != bounds[1] or bounds[0] != identity
        return self.std != 0.0 or self.mean != identity

    def sample(self, rng: np.random.Generator) -> float:
        """One value; consumes randomness only when the value is not fixed."""
        bounds = self._bounds()
        if bounds is not None:
            return bounds[0] if bounds[0] == bounds[1] else float(rng.uniform(*bounds))
        return float(self.mean) if self.std == 0.0 else float(rng.normal(self.mean, self.std))


@dataclass(frozen=True)
class SequenceAugmentModalitySpec:
    """How to augment one or more row fields (``field``: a key or a list of keys).

    ``type`` is ``"discrete"`` (indices: ``permute`` with ``vocab_size``, masking), ``"linear"``
    (numbers mapped by the fixed affine map that sends ``scale_in_low -> scale_out_low`` and
    ``scale_in_high -> scale_out_high``) or ``"image"`` (pixels scaled then shifted by values
    drawn per window from ``scale_*`` / ``shift_*``, rounded and clamped to ``[0, 255]``).
    ``mask_prob`` masks each step's fields with that probability: the value becomes
    ``mask_value`` when given, else ``-1`` for ``step_index`` and zeros shaped like the value.
    With ``permute``, a scalar index ``a`` becomes ``perm[a]`` and a vector of ``vocab_size``
    per-index values is reordered so that each value follows its index. Inconsistent options
    raise ValueError naming the field.
    """

    type: Literal["discrete", "linear", "image"]
    field: str | Sequence[str]
    vocab_size: int | None = None
    mask_prob: float = 0.0
    scale_in_low: float | None = None
    scale_out_low: float | None = None
    scale_in_high: float | None = None
    scale_out_high: float | None = None
    scale_mean: float = 1.0
    scale_std: float = 0.0
    scale_low: float | None = None
    scale_high: float | None = None
    shift_mean: float = 0.0
    shift_std: float = 0.0
    shift_low: float | None = None
    shift_high: float | None = None
    permute: bool = False
    mask_value: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.type, str) or self.type.lower() not in _TYPES:
            raise InvalidArgumentError(
                f"SequenceAugmentModalitySpec: type of field {self.field!r} must be one of "
                f"{', '.join(_TYPES)}, got {self.type!r}")
        kind = self.type.lower()
        object.__setattr__(self, "type", kind)
        if not isinstance(self.field, str) and not (
                isinstance(self.field, Sequence) and self.field
                and all(isinstance(f, str) for f in self.field)):
            raise WrongTypeError("SequenceAugmentModalitySpec: field must be a str or a "
                                 f"non-empty list of str, got {self.field!r}")
        name = f"SequenceAugmentModalitySpec(field={self.field!r})"
        if not 0.0 <= float(self.mask_prob) <= 1.0:
            raise InvalidArgumentError(f"{name}: mask_prob must be in [0, 1], got "
                                       f"{self.mask_prob}")
        if self.vocab_size is not None and self.vocab_size <= 0:
            raise InvalidArgumentError(f"{name}: vocab_size must be positive, got "
                                       f"{self.vocab_size}")
        if self.permute:
            if kind != "discrete":
                raise InvalidArgumentError(f"{name}: permute=True needs type='discrete'")
            if self.vocab_size is None:
                raise InvalidArgumentError(f"{name}: permute=True needs a positive vocab_size")
        self.linear_transform()  # checks the endpoints
        self.scale_spec()
        self.shift_spec()
        direct = (self.scale_mean != 1.0 or self.scale_std != 0.0 or self.scale_low is not None
                  or self.scale_high is not None or self.shift_mean != 0.0
                  or self.shift_std != 0.0 or self.shift_low is not None
                  or self.shift_high is not None)
        if direct and kind == "linear":
            raise InvalidArgumentError(
                f"{name}: type='linear' is set by scale_in_low, scale_out_low, scale_in_high "
                "and scale_out_high, not scale_*/shift_*")
        if direct and kind == "discrete":
            raise InvalidArgumentError(
                f"{name}: scale_*/shift_* apply to type='image' only; a discrete field takes "
                "permute, mask_prob and mask_value")

    @property
    def fields(self) -> tuple[str, ...]:
        """The field names, as a tuple."""
        return (self.field,) if isinstance(self.field, str) else tuple(self.field)

    def scale_spec(self) -> _Draw:
        """How an image scale is drawn (per window)."""
        return _Draw(self.scale_mean, self.scale_std, self.scale_low, self.scale_high)

    def shift_spec(self) -> _Draw:
        """How an image shift is drawn (per window)."""
        return _Draw(self.shift_mean, self.shift_std, self.shift_low, self.shift_high)

    def linear_transform(self) -> tuple[float, float]:
        """``(scale, shift)`` of the linear map; ``(1.0, 0.0)`` when no endpoint is set."""
        ends = (self.scale_in_low, self.scale_out_low, self.scale_in_high, self.scale_out_high)
        if all(e is None for e in ends):
            return (1.0, 0.0)
        name = f"SequenceAugmentModalitySpec(field={self.field!r})"
        if self.type != "linear":
            raise InvalidArgumentError(f"{name}: scale_in_*/scale_out_* need type='linear'")
        if any(e is None for e in ends):
            raise InvalidArgumentError(f"{name}: set scale_in_low, scale_out_low, "
                                       "scale_in_high and scale_out_high together")
        in_lo, out_lo, in_hi, out_hi = (float(e) for e in ends)  # type: ignore[arg-type]
        if in_lo == in_hi:
            raise InvalidArgumentError(f"{name}: scale_in_low and scale_in_high must differ")
        scale = (out_hi - out_lo) / (in_hi - in_lo)
        return (scale, out_lo - in_lo * scale)

    def is_active(self) -> bool:
        """Whether this spec can change any value."""
        scale, shift = self.linear_transform()
        image = self.type == "image" and (self.scale_spec().is_active(1.0)
                                          or self.shift_spec().is_active(0.0))
        return bool(self.permute or self.mask_prob > 0.0 or scale != 1.0 or shift != 0.0
                    or image)


# Dataset columns (and encoded keys) -> TokenAugmenter keys, and those keys -> mask fields.
_TOKEN_KEYS = {
    "action": "action", "reward": "reward", "done": "done",
    "observation": "obs_continuous", "obs_continuous": "obs_continuous",
    "observation_discrete": "obs_discrete", "obs_discrete": "obs_discrete",
    "observation_image": "obs_image", "obs_image": "obs_image",
    "episode_step": "time", "time": "time",
    "metadata_q_star": "q_star", "q_star": "q_star",
}
_MASK_KEYS = {"action": "action", "reward": "reward", "done": "done",
              "obs_continuous": "obs_continuous", "obs_discrete": "obs_discrete",
              "obs_image": "obs_image", "time": "time"}


def _as_spec(spec: Any) -> SequenceAugmentModalitySpec:
    if isinstance(spec, SequenceAugmentModalitySpec):
        return spec
    if isinstance(spec, Mapping):
        return SequenceAugmentModalitySpec(**dict(spec))
    raise WrongTypeError("Augmenter: each modality must be a SequenceAugmentModalitySpec or a "
                         f"mapping of its fields, got {type(spec).__name__}")


class Augmenter:
    """Callable that augments a sampled batch (``list`` of windows, each a ``list`` of step
    dicts) and returns a new batch; the input is never modified.

    ``modalities``: specs (or mappings of their fields). ``enabled=False`` turns augmentation
    off. ``seed`` or ``generator`` (not both) seeds the NumPy RNG. ``keep_fields``: when given,
    every returned row keeps only these keys (applied after augmentation, also when disabled).
    With nothing to do (disabled or no active spec, and no ``keep_fields``) the input batch is
    returned as it is.
    """

    def __init__(
        self,
        *,
        modalities: Sequence[Mapping[str, Any] | SequenceAugmentModalitySpec],
        enabled: bool = True,
        seed: int | None = None,
        generator: np.random.Generator | None = None,
        keep_fields: Sequence[str] | None = None,
    ) -> None:
        if seed is not None and generator is not None:
            raise InvalidArgumentError("Augmenter: pass seed or generator, not both")
        if isinstance(modalities, (str, bytes, Mapping)) or not isinstance(modalities, Sequence):
            raise WrongTypeError("Augmenter: modalities must be a list of "
                                 f"SequenceAugmentModalitySpec or mappings, got {modalities!r}")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise WrongTypeError("Augmenter: generator must be a numpy.random.Generator, got "
                                 f"{type(generator).__name__}")
        self.enabled = bool(enabled)
        self.modalities: tuple[SequenceAugmentModalitySpec, ...] = tuple(
            _as_spec(m) for m in modalities)
        self.keep_fields: tuple[str, ...] | None = (
            None if keep_fields is None else tuple(keep_fields))
        self._rng = generator if generator is not None else np.random.default_rng(seed)

    def fork(self, *, seed: int | None = None,
             generator: np.random.Generator | None = None) -> Augmenter:
        """A copy with the same settings and its own RNG (from ``seed`` or ``generator``)."""
        return Augmenter(modalities=self.modalities, enabled=self.enabled, seed=seed,
                         generator=generator, keep_fields=self.keep_fields)

    def __call__(self, batch: list[list[dict]]) -> list[list[dict]]:
        """The augmented batch (new lists and dicts; values changed per the specs)."""
        active = self.enabled and any(m.is_active() for m in self.modalities)
        if not active and self.keep_fields is None:
            return batch
        if active:
            out = [self._window(window) for window in batch]
        else:
            out = [[dict(row) for row in window] for window in batch]
        if self.keep_fields is not None:
            keep = set(self.keep_fields)
            out = [[{k: v for k, v in row.items() if k in keep} for row in window]
                   for window in out]
        return out

    def to_token_augmenter(self, *, seed: int | None = None, device: Any = "cpu") -> Any:
        """The closest ``mouse_data.TokenAugmenter``, for batches of encoded columns
        (``DataLoader(packed=True)``, ``PrefetchBatchifier``). Fields are dataset columns (or
        their encoded keys): ``action``, ``reward``, ``done``, ``observation``
        (``obs_continuous``), ``observation_discrete`` (``obs_discrete``),
        ``observation_image`` (``obs_image``), ``episode_step`` (``time``) and
        ``metadata_q_star`` (``q_star``, which follows the action permutation).

        - ``discrete`` + ``permute``: ``action`` and/or ``q_star`` -> ``permute_action``
          (``"input"``, ``"target"``, ``"both"``; ``vocab_size`` is ``max_num_actions``),
          ``obs_discrete`` -> ``permute_obs_discrete`` (``max_num_obs_discrete``), ``done`` ->
          ``permute_done`` (``vocab_size`` 3);
        - ``mask_prob`` -> that field's ``AugmentMaskProbConfig`` entry (each field masked on
          its own, to 0 / ``time`` -1);
        - ``linear`` on ``reward`` / ``obs_continuous`` -> fixed ``scale_*`` and ``shift_*``;
        - ``image`` on ``obs_image`` -> ``scale_obs_image`` / ``shift_obs_image``, drawn once per
          batch (not per window).

        Anything else (another field, ``mask_value``, two specs for one setting) is a
        ValueError naming the field; ``keep_fields`` has no meaning for encoded columns and is
        ignored.
        """
        from ..augment import (AugmentMaskProbConfig, AugmentScalarSpec, AugmentTokensConfig,
                               TokenAugmenter)

        config: dict[str, Any] = {"enabled": self.enabled}
        masks: dict[str, float] = {}
        sizes = {"actions": 1, "obs_discrete": 0}

        def put(key: str, value: Any, field: str) -> None:
            if key in config:
                raise InvalidArgumentError(f"Augmenter.to_token_augmenter: two specs set {key} "
                                           f"(field {field!r})")
            config[key] = value

        for spec in self.modalities:
            keys = []
            for f in spec.fields:
                key = _TOKEN_KEYS.get(f)
                if key is None:
                    raise InvalidArgumentError(
                        f"Augmenter.to_token_augmenter: field {f!r} is not an encoded column "
                        f"(one of {', '.join(sorted(_TOKEN_KEYS))})")
                keys.append(key)
            if spec.mask_value is not None:
                raise InvalidArgumentError(f"Augmenter.to_token_augmenter: field {spec.field!r}: "
                                           "mask_value has no TokenAugmenter equivalent")
            if spec.permute:
                assert spec.vocab_size is not None
                if set(keys) <= {"action", "q_star"}:
                    mode = "both" if set(keys) == {"action", "q_star"} else \
                        ("input" if keys[0] == "action" else "target")
                    put("permute_action", mode, str(spec.field))
                    sizes["actions"] = spec.vocab_size
                elif keys == ["obs_discrete"]:
                    put("permute_obs_discrete", True, str(spec.field))
                    sizes["obs_discrete"] = spec.vocab_size
                elif keys == ["done"] and spec.vocab_size == 3:
                    put("permute_done", True, str(spec.field))
                else:
                    raise InvalidArgumentError(
                        f"Augmenter.to_token_augmenter: field {spec.field!r}: permute maps onto "
                        "action / metadata_q_star, observation_discrete, or done with vocab_size 3")
            if spec.mask_prob > 0.0:
                for f, key in zip(spec.fields, keys):
                    if key == "q_star":
                        raise InvalidArgumentError(f"Augmenter.to_token_augmenter: field {f!r} "
                                                   "cannot be masked")
                    masks[_MASK_KEYS[key]] = float(spec.mask_prob)
            scale, shift = spec.linear_transform()
            if spec.type == "linear" and (scale, shift) != (1.0, 0.0):
                for f, key in zip(spec.fields, keys):
                    name = {"reward": "reward", "obs_continuous": "obs"}.get(key)
                    if name is None:
                        raise InvalidArgumentError(f"Augmenter.to_token_augmenter: field {f!r}: "
                                                   "linear maps onto reward or observation")
                    put(f"scale_{name}", AugmentScalarSpec(scale), f)
                    put(f"shift_{name}", AugmentScalarSpec(shift), f)
            if spec.type == "image" and (spec.scale_spec().is_active(1.0)
                                         or spec.shift_spec().is_active(0.0)):
                if keys != ["obs_image"]:
                    raise InvalidArgumentError(f"Augmenter.to_token_augmenter: field "
                                               f"{spec.field!r}: image maps onto "
                                               "observation_image")
                put("scale_obs_image", AugmentScalarSpec(spec.scale_mean, spec.scale_std,
                                                         spec.scale_low, spec.scale_high),
                    "observation_image")
                put("shift_obs_image", AugmentScalarSpec(spec.shift_mean, spec.shift_std,
                                                         spec.shift_low, spec.shift_high),
                    "observation_image")
        config["mask_prob"] = AugmentMaskProbConfig(**masks)
        return TokenAugmenter(AugmentTokensConfig(**config), max_num_actions=sizes["actions"],
                              max_num_obs_discrete=sizes["obs_discrete"], device=device,
                              seed=seed)

    def __repr__(self) -> str:
        return (f"Augmenter(modalities={list(self.modalities)!r}, enabled={self.enabled}, "
                f"keep_fields={self.keep_fields!r})")

    # -- one window ---------------------------------------------------------------------------

    def _draw(self, spec: SequenceAugmentModalitySpec) -> tuple[np.ndarray | None, float, float]:
        """Per-window parameters of one spec: (permutation or None, scale, shift)."""
        perm = self._rng.permutation(spec.vocab_size) if spec.permute else None
        if spec.type == "linear":
            scale, shift = spec.linear_transform()
        else:
            s, t = spec.scale_spec(), spec.shift_spec()
            scale = s.sample(self._rng) if s.is_active(1.0) else 1.0
            shift = t.sample(self._rng) if t.is_active(0.0) else 0.0
        return perm, scale, shift

    def _window(self, window: list[dict]) -> list[dict]:
        rows = [dict(row) for row in window]
        draws = [self._draw(spec) for spec in self.modalities]
        for row in rows:
            for spec, (perm, scale, shift) in zip(self.modalities, draws):
                masked = spec.mask_prob > 0.0 and bool(self._rng.random() < spec.mask_prob)
                for name in spec.fields:
                    if name not in row:
                        continue
                    value = row[name]
                    if perm is not None:
                        value = _permute(spec, perm, value)
                    value = _scale_shift(spec, value, scale, shift)
                    if masked:
                        if spec.mask_value is not None:
                            value = _plain_copy(spec.mask_value)
                        elif name == "step_index":
                            value = -1
                        else:
                            value = _zeros_like(value)
                    row[name] = value
        return rows


def _permute(spec: SequenceAugmentModalitySpec, perm: np.ndarray, value: Any) -> Any:
    arr = np.asarray(value)
    n = len(perm)
    if arr.ndim > 0 and arr.shape[-1] == n:
        # per-index values: the value of index a moves to index perm[a]
        moved = np.empty_like(arr)
        moved[..., perm] = arr
        return moved.tolist() if moved.ndim else float(moved)
    if arr.ndim > 0:
        raise InvalidArgumentError(
            f"Augmenter: cannot permute {spec.field!r}: a vector of width {arr.shape[-1]}, "
            f"vocab_size is {n}")
    index = int(value)
    if not 0 <= index < n:
        raise InvalidArgumentError(f"Augmenter: cannot permute {spec.field!r} value {index}: "
                                   f"it must be in [0, {n})")
    return int(perm[index])


def _scale_shift(spec: SequenceAugmentModalitySpec, value: Any, scale: float,
                 shift: float) -> Any:
    if scale == 1.0 and shift == 0.0:
        return _plain_copy(value)
    arr = np.asarray(value)
    if spec.type == "image":
        pixels = np.clip(np.rint(arr.astype(np.float64) * scale + shift), 0, 255)
        pixels = pixels.astype(np.int64)
        return int(pixels) if pixels.ndim == 0 else pixels.tolist()
    if spec.type == "linear":
        if arr.ndim == 0:
            return float(arr) * scale + shift
        return (arr.astype(np.float64) * scale + shift).tolist()
    return value


def _plain_copy(value: Any) -> Any:
    """A copy with NumPy arrays as lists (mappings and lists copied recursively)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {k: _plain_copy(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        return [_plain_copy(v) for v in value]
    return value


def _zeros_like(value: Any) -> Any:
    """Zeros shaped like ``value``: 0.0 for a float, 0 otherwise, recursively."""
    if isinstance(value, np.ndarray):
        return np.zeros_like(value).tolist()
    if isinstance(value, Mapping):
        return {k: _zeros_like(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        return [_zeros_like(v) for v in value]
    return 0.0 if isinstance(value, float) else 0
