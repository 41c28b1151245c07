"""Output formats: torch TensorDicts when torch and tensordict are importable, else NumPy dicts."""

from __future__ import annotations

from typing import Any

_TORCH: bool | None = None


def torch_available() -> bool:
    """Whether torch and tensordict can be imported (checked once)."""
    global _TORCH
    if _TORCH is None:
        try:
            import tensordict  # noqa: F401
            import torch  # noqa: F401

            _TORCH = True
        except ImportError:
            _TORCH = False
    return _TORCH


def resolve_format(format: str | None) -> str:
    """'auto' / None -> 'torch' when available else 'numpy'; 'torch' / 'numpy' checked."""
    if format is None or format == "auto":
        return "torch" if torch_available() else "numpy"
    if format == "torch":
        if not torch_available():
            raise ImportError("format='torch' needs torch and tensordict (pip install torch tensordict)")
        return "torch"
    if format == "numpy":
        return "numpy"
    raise ValueError(f"format must be 'auto', 'torch' or 'numpy', got {format!r}")


def wrap(result: tuple[list[int], dict[str, Any]], format: str, device: Any = None) -> Any:
    """A (batch_size, {name: array}) pair from the core as the user's type."""
    batch_size, tensors = result
    if format == "numpy":
        return tensors
    from tensordict import TensorDict

    td = TensorDict(tensors, batch_size=batch_size)
    if device is not None and str(device) != "cpu":
        td = td.to(device)
    return td
