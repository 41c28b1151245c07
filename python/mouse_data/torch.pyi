from collections.abc import Mapping
from typing import Any

import torch
from tensordict import TensorDict

__all__ = ["document_mask", "sdpa_mask", "unpack", "varlen_args"]

def sdpa_mask(
    batch: TensorDict | Mapping[str, Any] | torch.Tensor,
    *,
    causal: bool = True,
    four_d: bool = False,
    device: str | torch.device | None = None,
) -> torch.Tensor: ...
def document_mask(
    batch: TensorDict | Mapping[str, Any] | torch.Tensor,
    *,
    causal: bool = True,
    block_size: int = 128,
    device: str | torch.device | None = None,
) -> Any: ...
def varlen_args(batch: TensorDict | Mapping[str, Any]) -> tuple[torch.Tensor, int]: ...
def unpack(
    batch: TensorDict | Mapping[str, Any],
    sequence_length: int | None = None,
    *,
    fill: Mapping[str, Any] | None = None,
) -> TensorDict: ...
