"""Attention masks and layout helpers for packed batches (``layout="packed"``).

A packed batch holds ``B`` windows of different lengths one after another in a flat stream of
``N`` rows: every column is ``[N, ...]``, ``sequence_id`` (int64 ``[N]``) says which window a row
belongs to (``-1`` on the padding rows that ``max_tokens`` adds), ``position`` (int64 ``[N]``) is
the row's step within its window (``-1`` on padding), ``cu_seqlens`` (int32 ``[B+1]``) and
``lengths`` (int64 ``[B]``) give the window boundaries. A model attends within a window only:

- :func:`document_mask` builds a FlexAttention ``BlockMask`` (torch >= 2.5);
- :func:`sdpa_mask` builds the same mask as a boolean tensor for
  ``torch.nn.functional.scaled_dot_product_attention`` (any torch);
- :func:`varlen_args` gives ``(cu_seqlens, max_seqlen)`` for FlashAttention's varlen kernels;
- :func:`unpack` turns a packed batch back into ``[B, S]`` windows with a ``mask``, for code that
  needs rectangles.

Masks are causal within a window by default (``causal=True``): row ``i`` attends to the rows of
its own window at the same or an earlier position. ``causal=False`` lets every row see its whole
window. Padding rows attend to nothing and no row attends to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch as _torch

__all__ = ["document_mask", "sdpa_mask", "unpack", "varlen_args"]

# Keys of a packed batch that describe the layout rather than hold step data.
_LAYOUT_KEYS = ("sequence_id", "position", "cu_seqlens", "lengths")


def _column(batch: Any, key: str, fn: str) -> _torch.Tensor:
    """``batch[key]`` as a torch tensor, with an error naming the function when it is missing."""
    try:
        value = batch[key]
    except (KeyError, TypeError):
        value = None
    if value is None:
        raise KeyError(f"{fn}: the batch has no {key!r}; pass a packed batch "
                       "(PrefetchBatchifier(..., layout=\"packed\"))")
    return value if isinstance(value, _torch.Tensor) else _torch.as_tensor(value)


def _sequence_ids(batch: Any, fn: str) -> _torch.Tensor:
    if isinstance(batch, _torch.Tensor):
        sid = batch
    else:
        sid = _column(batch, "sequence_id", fn)
    if sid.dim() != 1:
        raise ValueError(f"{fn}: sequence_id must be one-dimensional [N], got shape "
                         f"{tuple(sid.shape)}")
    return sid.to(_torch.int64)


def _check_causal(causal: Any, fn: str) -> bool:
    if not isinstance(causal, bool):
        raise TypeError(f"{fn}: causal must be a bool, got {type(causal).__name__}")
    return causal


def sdpa_mask(batch: Any, *, causal: bool = True, four_d: bool = False,
              device: Any = None) -> _torch.Tensor:
    """The document mask of a packed batch as a boolean ``[N, N]`` tensor (``True`` = attend).

    ``batch`` is a packed batch (or its ``sequence_id`` tensor). Entry ``[q, k]`` is True when
    rows ``q`` and ``k`` belong to the same window (``sequence_id`` equal and not ``-1``) and,
    with ``causal=True`` (the default), ``k <= q``. ``four_d=True`` returns ``[1, 1, N, N]``.
    Pass it as ``attn_mask`` to ``scaled_dot_product_attention``; a padding row has no True
    entry, which SDPA (torch >= 2.5) turns into an output of zeros. Memory is ``N * N`` bytes:
    prefer :func:`document_mask` for long streams.
    """
    causal = _check_causal(causal, "sdpa_mask")
    sid = _sequence_ids(batch, "sdpa_mask")
    if device is not None:
        sid = sid.to(device)
    same = (sid[:, None] == sid[None, :]) & (sid[:, None] >= 0)
    if causal:
        n = sid.shape[0]
        same &= _torch.ones(n, n, dtype=_torch.bool, device=sid.device).tril_()
    return same[None, None] if four_d else same


def document_mask(batch: Any, *, causal: bool = True, block_size: int = 128,
                  device: Any = None) -> Any:
    """A FlexAttention ``BlockMask`` that keeps attention inside each window of a packed batch.

    Built with ``torch.nn.attention.flex_attention.create_block_mask`` (torch >= 2.5) for one
    batch row and all heads (``B=None, H=None``) over ``Q_LEN = KV_LEN = N``. Query ``q`` may
    attend to key ``k`` when both rows have the same ``sequence_id`` (padding rows, ``-1``,
    attend to nothing) and, with ``causal=True`` (the default), ``k <= q``; windows are
    contiguous in the stream, so this is causal order within each window. ``block_size`` is
    FlexAttention's tile size; ``device`` defaults to the device of ``sequence_id``. Use it as
    ``flex_attention(q, k, v, block_mask=document_mask(batch))`` with ``q, k, v`` of shape
    ``[1, H, N, D]``. ImportError (naming the torch version) when FlexAttention is missing.
    """
    causal = _check_causal(causal, "document_mask")
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"document_mask: block_size must be a positive int, got {block_size!r}")
    try:
        from torch.nn.attention.flex_attention import create_block_mask
    except ImportError as exc:  # torch < 2.5
        raise ImportError("document_mask needs torch.nn.attention.flex_attention (torch >= 2.5); "
                          f"this is torch {_torch.__version__}: use sdpa_mask instead") from exc
    sid = _sequence_ids(batch, "document_mask")
    if device is not None:
        sid = sid.to(device)
    n = int(sid.shape[0])
    if n == 0:
        raise ValueError("document_mask: the batch has no rows")

    if causal:
        def mask_mod(b: Any, h: Any, q: Any, kv: Any) -> Any:
            return (sid[q] == sid[kv]) & (sid[q] >= 0) & (kv <= q)
    else:
        def mask_mod(b: Any, h: Any, q: Any, kv: Any) -> Any:
            return (sid[q] == sid[kv]) & (sid[q] >= 0)

    return create_block_mask(mask_mod, B=None, H=None, Q_LEN=n, KV_LEN=n,
                             device=str(sid.device), BLOCK_SIZE=block_size)


def varlen_args(batch: Any) -> tuple[_torch.Tensor, int]:
    """``(cu_seqlens, max_seqlen)`` of a packed batch, the arguments FlashAttention's varlen
    kernels (``flash_attn_varlen_func``) take for both queries and keys. ``cu_seqlens`` is the
    batch's int32 ``[B+1]`` tensor; ``max_seqlen`` the longest window (0 when empty)."""
    cu = _column(batch, "cu_seqlens", "varlen_args").to(_torch.int32)
    lengths = cu[1:] - cu[:-1]
    return cu, int(lengths.max().item()) if lengths.numel() else 0


def unpack(batch: Any, sequence_length: int | None = None, *, fill: Mapping[str, Any] | None = None
           ) -> Any:
    """Turn a packed batch back into rectangular windows: a TensorDict ``[B, S]`` with ``mask``.

    Every step column ``[N, ...]`` becomes ``[B, S, ...]``: row ``i`` goes to
    ``[sequence_id[i], position[i]]``; padding rows (``sequence_id == -1``) are dropped. ``S`` is
    ``sequence_length`` when given (ValueError if a window is longer), else the longest window.
    ``mask`` (bool ``[B, S]``) is True on real steps. Positions past a window's end hold the fill
    values of the padded layout: 0, ``q_star = -inf``, ``time = -1`` (``fill`` overrides them per
    key). ``sequence_id``, ``position``, ``cu_seqlens`` and ``lengths`` are not copied; ``B`` is
    the length of ``lengths`` (or of ``cu_seqlens`` minus one). Works on TensorDicts and on
    mappings of tensors or arrays.
    """
    sid = _sequence_ids(batch, "unpack")
    pos = _column(batch, "position", "unpack").to(_torch.int64)
    if pos.shape != sid.shape:
        raise ValueError(f"unpack: position has shape {tuple(pos.shape)}, sequence_id "
                         f"{tuple(sid.shape)}")
    try:
        lengths = _column(batch, "lengths", "unpack").to(_torch.int64)
    except KeyError:
        cu = _column(batch, "cu_seqlens", "unpack").to(_torch.int64)
        lengths = cu[1:] - cu[:-1]
    b = int(lengths.shape[0])
    longest = int(lengths.max().item()) if b else 0
    if sequence_length is None:
        s = longest
    else:
        if isinstance(sequence_length, bool) or not isinstance(sequence_length, int) \
                or sequence_length < 1:
            raise ValueError(f"unpack: sequence_length must be a positive int, got "
                             f"{sequence_length!r}")
        if longest > sequence_length:
            raise ValueError(f"unpack: sequence_length is {sequence_length} but a window has "
                             f"{longest} steps")
        s = sequence_length
    fills = {"q_star": float("-inf"), "time": -1}
    if fill is not None:
        fills.update(dict(fill))
    real = sid >= 0
    rows = sid[real]
    cols = pos[real]
    n = int(sid.shape[0])
    out: dict[str, _torch.Tensor] = {}
    keys = list(batch.keys())
    for key in keys:
        if key in _LAYOUT_KEYS:
            continue
        value = batch[key]
        if not isinstance(value, _torch.Tensor):
            value = _torch.as_tensor(value)
        if value.dim() == 0 or value.shape[0] != n:
            continue  # not a per-row column
        target = _torch.full((b, s, *value.shape[1:]), fills.get(key, 0), dtype=value.dtype,
                             device=value.device)
        target[rows.to(value.device), cols.to(value.device)] = value[real.to(value.device)]
        out[key] = target
    mask = _torch.zeros(b, s, dtype=_torch.bool, device=sid.device)
    mask[rows, cols] = True
    out["mask"] = mask
    try:
        from tensordict import TensorDict
    except ImportError:
        return out
    return TensorDict(out, batch_size=[b, s], device=None)
