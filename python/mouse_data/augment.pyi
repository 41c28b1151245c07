import os
from dataclasses import dataclass
from typing import Any, Literal

import torch
from tensordict import TensorDict

PermuteAction = Literal[False, "input", "target", "both"]

@dataclass(frozen=True)
class AugmentScalarSpec:
    mean: float
    std: float = 0.0
    low: float | None = None
    high: float | None = None

@dataclass(frozen=True)
class AugmentMaskProbConfig:
    action: float = 0.0
    reward: float = 0.0
    done: float = 0.0
    obs_continuous: float = 0.0
    obs_discrete: float = 0.0
    obs_image: float = 0.0
    time: float = 0.0
    def any_positive(self) -> bool: ...

@dataclass(frozen=True)
class AugmentTokensConfig:
    enabled: bool = True
    permute_tokens: bool = False
    scale_reward: AugmentScalarSpec = ...
    shift_reward: AugmentScalarSpec = ...
    scale_obs: AugmentScalarSpec = ...
    shift_obs: AugmentScalarSpec = ...
    scale_obs_image: AugmentScalarSpec = ...
    shift_obs_image: AugmentScalarSpec = ...
    permute_obs_discrete: bool = False
    permute_action: PermuteAction = False
    permute_done: bool = False
    mask_prob: AugmentMaskProbConfig = ...
    def permute_action_enabled(self) -> bool: ...
    def any_enabled(self) -> bool: ...
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AugmentTokensConfig: ...
    @classmethod
    def from_yaml(cls, source: str | os.PathLike[str]) -> AugmentTokensConfig: ...

@dataclass
class AugmentSnapshot:
    batch_size: int
    device: Any
    perm_action: torch.Tensor | None
    perm_done: torch.Tensor | None
    r_scale: float | None
    r_shift: float | None
    o_scale: float | None
    o_shift: float | None
    im_scale: float | None
    im_shift: float | None
    perm_obs_discrete: torch.Tensor | None

class TokenAugmenter:
    device: str | int | torch.device
    def __init__(
        self,
        augment: AugmentTokensConfig,
        max_num_actions: int,
        max_num_obs_discrete: int,
        device: str | int | torch.device = "cpu",
        generator: torch.Generator | None = None,
        *,
        seed: int | None = None,
        format: Literal["auto", "torch", "numpy"] = "auto",
    ) -> None: ...
    @property
    def augment(self) -> AugmentTokensConfig: ...
    @property
    def seed(self) -> int: ...
    @property
    def snapshot(self) -> AugmentSnapshot | None: ...
    def set_snapshot(self, snapshot: AugmentSnapshot) -> None: ...
    def clear_augmentations(self) -> None: ...
    def update_augmentations(self, step_stream: TensorDict) -> None: ...
    def __call__(self, step_stream: TensorDict) -> TensorDict: ...
