"""mouse_data.torch: document masks for packed batches, and unpack back to [B, S] windows.

The model test runs one attention step (random weights, CPU) on a packed batch with the masks
built here and checks that every window's outputs equal what the same step gives on that window
alone. The batches are packed by hand (the layout of SPEC §5.1) and, where the engine has it, by
PrefetchBatchifier(layout="packed").
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tensordict")
from tensordict import TensorDict  # noqa: E402

import mouse_data  # noqa: E402
from mouse_data import torch as mdt  # noqa: E402

HAS_FLEX = True
try:
    from torch.nn.attention.flex_attention import flex_attention  # noqa: F401
except ImportError:  # pragma: no cover - torch < 2.5
    HAS_FLEX = False


def _engine_packs() -> bool:
    params = inspect.signature(mouse_data.PrefetchBatchifier.__init__).parameters
    return "layout" in params and "lengths" in params


def pack(windows: list[dict[str, torch.Tensor]], pad_to: int | None = None) -> TensorDict:
    """Windows (each a dict of [L, ...] tensors) as a packed batch, padded to pad_to rows."""
    lengths = [int(next(iter(w.values())).shape[0]) for w in windows]
    n = sum(lengths)
    total = n if pad_to is None else pad_to
    out: dict[str, torch.Tensor] = {}
    for key in windows[0]:
        flat = torch.cat([w[key] for w in windows])
        if total > n:
            pad = torch.zeros(total - n, *flat.shape[1:], dtype=flat.dtype)
            flat = torch.cat([flat, pad])
        out[key] = flat
    sid = torch.cat([torch.full((ln,), b, dtype=torch.int64) for b, ln in enumerate(lengths)])
    pos = torch.cat([torch.arange(ln, dtype=torch.int64) for ln in lengths])
    if total > n:
        sid = torch.cat([sid, torch.full((total - n,), -1, dtype=torch.int64)])
        pos = torch.cat([pos, torch.full((total - n,), -1, dtype=torch.int64)])
    out["sequence_id"] = sid
    out["position"] = pos
    out["lengths"] = torch.tensor(lengths, dtype=torch.int64)
    out["cu_seqlens"] = torch.tensor([0, *np.cumsum(lengths).tolist()], dtype=torch.int32)
    return TensorDict(out, batch_size=[])


class TinyAttention(torch.nn.Module):
    """One pre-norm attention block and an MLP, with a pluggable attention kernel."""

    def __init__(self, dim: int = 16, heads: int = 2, dtype: torch.dtype = torch.float64):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.heads = heads
        self.embed = torch.nn.Embedding(8, dim, dtype=dtype)
        self.qkv = torch.nn.Linear(dim, 3 * dim, dtype=dtype)
        self.proj = torch.nn.Linear(dim, dim, dtype=dtype)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(dim, 2 * dim, dtype=dtype),
                                       torch.nn.GELU(),
                                       torch.nn.Linear(2 * dim, dim, dtype=dtype))
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=dtype) * 0.3)

    def forward(self, action: torch.Tensor, reward: torch.Tensor, attend) -> torch.Tensor:
        # action, reward: [N]; returns [N, dim]
        x = self.embed(action) + reward[:, None].to(self.embed.weight.dtype)
        n, d = x.shape
        q, k, v = self.qkv(torch.nn.functional.layer_norm(x, (d,))).chunk(3, dim=-1)
        split = lambda t: t.view(n, self.heads, d // self.heads).transpose(0, 1)[None]
        y = attend(split(q), split(k), split(v))  # [1, H, N, dh]
        x = x + self.proj(y[0].transpose(0, 1).reshape(n, d))
        return x + self.mlp(x)


def _windows(lengths, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [{"action": torch.randint(0, 8, (ln,), generator=gen),
             "reward": torch.randn(ln, generator=gen, dtype=torch.float32)} for ln in lengths]


def _per_window(model, windows):
    causal = lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(
        q, k, v, is_causal=True)
    with torch.no_grad():
        return [model(w["action"], w["reward"], causal) for w in windows]


def _flex(q, k, v, block_mask):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return flex_attention(q, k, v, block_mask=block_mask)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("pad_to", [None, 40])
def test_flex_step_on_packed_batch_equals_windows_one_by_one(dtype, pad_to):
    if not HAS_FLEX:
        pytest.skip("torch has no FlexAttention")
    lengths = [5, 1, 9, 3, 12]
    windows = _windows(lengths)
    batch = pack(windows, pad_to)
    model = TinyAttention(dtype=dtype)
    mask = mdt.document_mask(batch)
    with torch.no_grad():
        out = model(batch["action"], batch["reward"], lambda q, k, v: _flex(q, k, v, mask))
    expected = _per_window(model, windows)
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    cu = batch["cu_seqlens"].tolist()
    for b, exp in enumerate(expected):
        torch.testing.assert_close(out[cu[b]:cu[b + 1]], exp, atol=tol, rtol=tol)
    if pad_to is not None:
        assert torch.isfinite(out).all()  # padding rows attend to nothing, without NaN


@pytest.mark.parametrize("pad_to", [None, 36])
def test_sdpa_fallback_step_equals_windows_one_by_one(pad_to):
    lengths = [4, 7, 1, 11]
    windows = _windows(lengths, seed=3)
    batch = pack(windows, pad_to)
    model = TinyAttention()
    mask = mdt.sdpa_mask(batch)
    with torch.no_grad():
        out = model(batch["action"], batch["reward"],
                    lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(
                        q, k, v, attn_mask=mask))
    expected = _per_window(model, windows)
    cu = batch["cu_seqlens"].tolist()
    for b, exp in enumerate(expected):
        torch.testing.assert_close(out[cu[b]:cu[b + 1]], exp, atol=1e-10, rtol=1e-10)


def test_a_wrong_mask_would_be_caught():
    # Attention across windows changes the outputs: the equality above is not vacuous.
    windows = _windows([6, 6], seed=5)
    batch = pack(windows)
    model = TinyAttention()
    plain_causal = torch.ones(12, 12, dtype=torch.bool).tril()
    with torch.no_grad():
        out = model(batch["action"], batch["reward"],
                    lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(
                        q, k, v, attn_mask=plain_causal))
    expected = _per_window(model, windows)
    torch.testing.assert_close(out[:6], expected[0])
    assert not torch.allclose(out[6:], expected[1])


def test_sdpa_mask_entries():
    batch = pack(_windows([2, 3]), pad_to=6)
    m = mdt.sdpa_mask(batch)
    assert m.dtype == torch.bool and m.shape == (6, 6)
    expected = torch.zeros(6, 6, dtype=torch.bool)
    expected[0, 0] = expected[1, 0] = expected[1, 1] = True
    for q in range(2, 5):
        for k in range(2, q + 1):
            expected[q, k] = True
    assert torch.equal(m, expected)
    full = mdt.sdpa_mask(batch, causal=False, four_d=True)
    assert full.shape == (1, 1, 6, 6)
    assert full[0, 0, 2, 4] and not full[0, 0, 1, 2] and not full[0, 0, 5].any()
    # the sequence_id tensor alone works too
    assert torch.equal(mdt.sdpa_mask(batch["sequence_id"]), m)


def test_document_mask_matches_sdpa_mask():
    if not HAS_FLEX:
        pytest.skip("torch has no FlexAttention")
    batch = pack(_windows([3, 130, 1, 20]), pad_to=160)
    for causal in (True, False):
        bm = mdt.document_mask(batch, causal=causal, block_size=64)
        dense = bm.to_dense()  # [1, 1, q_blocks, kv_blocks] of block flags
        m = mdt.sdpa_mask(batch, causal=causal)
        assert bm.shape[-2:] == (160, 160)
        # every block the dense mask touches is kept by the block mask
        blocks = m.view(160 // 32, 32, 160 // 32, 32).any(3).any(1)
        kept = dense[0, 0].bool().repeat_interleave(2, 0).repeat_interleave(2, 1)
        kept = kept[: blocks.shape[0], : blocks.shape[1]]
        assert bool((kept | ~blocks).all())


def test_unpack_gives_the_padded_windows():
    lengths = [3, 1, 4]
    windows = _windows(lengths, seed=9)
    for w, ln in zip(windows, lengths):
        w["q_star"] = torch.randn(ln, 4)
        w["time"] = torch.arange(ln, dtype=torch.int64) + 10
    batch = pack(windows, pad_to=10)
    out = mdt.unpack(batch)
    assert isinstance(out, TensorDict) and tuple(out.batch_size) == (3, 4)
    assert set(out.keys()) == {"action", "reward", "q_star", "time", "mask"}
    for b, (w, ln) in enumerate(zip(windows, lengths)):
        assert out["mask"][b].tolist() == [True] * ln + [False] * (4 - ln)
        for key in ("action", "reward", "q_star", "time"):
            torch.testing.assert_close(out[key][b, :ln], w[key])
        assert (out["action"][b, ln:] == 0).all()
        assert (out["reward"][b, ln:] == 0).all()
        assert (out["q_star"][b, ln:] == -math.inf).all()
        assert (out["time"][b, ln:] == -1).all()
    longer = mdt.unpack(batch, sequence_length=6, fill={"action": 7})
    assert tuple(longer.batch_size) == (3, 6)
    assert (longer["action"][0, 3:] == 7).all()
    with pytest.raises(ValueError, match="sequence_length"):
        mdt.unpack(batch, sequence_length=3)
    with pytest.raises(ValueError, match="sequence_length"):
        mdt.unpack(batch, sequence_length=0)


def test_varlen_args():
    batch = pack(_windows([2, 5, 1]))
    cu, longest = mdt.varlen_args(batch)
    assert cu.dtype == torch.int32 and cu.tolist() == [0, 2, 7, 8] and longest == 5


def test_errors_name_what_is_wrong():
    with pytest.raises(KeyError, match="sequence_id"):
        mdt.sdpa_mask({"action": torch.zeros(3)})
    with pytest.raises(TypeError, match="causal"):
        mdt.sdpa_mask(pack(_windows([2])), causal=1)
    with pytest.raises(TypeError):
        mdt.sdpa_mask(pack(_windows([2])), True)  # keyword-only
    with pytest.raises(ValueError, match="one-dimensional"):
        mdt.sdpa_mask(torch.zeros(2, 2, dtype=torch.int64))
    if HAS_FLEX:
        with pytest.raises(ValueError, match="block_size"):
            mdt.document_mask(pack(_windows([2])), block_size=0)
    with pytest.raises(KeyError, match="position"):
        mdt.unpack({"sequence_id": torch.zeros(2, dtype=torch.int64),
                    "lengths": torch.tensor([2])})


def _engine_store(n=60):
    store = mouse_data.DatasetStore()
    rng = np.random.default_rng(0)
    store.append_columns({"action": rng.integers(0, 8, n), "reward": rng.normal(size=n),
                          "done": np.zeros(n, dtype=np.int64)})
    return store


@pytest.mark.skipif(not _engine_packs(), reason="the engine has no packed layout yet")
@pytest.mark.parametrize("max_tokens", [None, 40])
def test_engine_packed_batch_through_flex_and_unpack(max_tokens):
    store = _engine_store()
    bf = mouse_data.PrefetchBatchifier(store, 12, 5, num_workers=0, seed=4, lengths="uniform",
                                       layout="packed", max_tokens=max_tokens)
    try:
        sampled = bf.next()
    finally:
        bf.close()
    batch = sampled.data
    if max_tokens is not None:
        assert batch["sequence_id"].shape == (max_tokens,)
    windows = [{"action": store[list(range(s, s + ln))]["action"],
                "reward": store[list(range(s, s + ln))]["reward"]}
               for s, ln in zip(sampled.starts, batch["lengths"].tolist()) if ln > 0]
    model = TinyAttention()
    if HAS_FLEX:
        mask = mdt.document_mask(batch)
        attend = lambda q, k, v: _flex(q, k, v, mask)
    else:  # pragma: no cover
        m = mdt.sdpa_mask(batch)
        attend = lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=m)
    with torch.no_grad():
        out = model(batch["action"], batch["reward"], attend)
    cu = batch["cu_seqlens"].tolist()
    for b, exp in enumerate(_per_window(model, windows)):
        torch.testing.assert_close(out[cu[b]:cu[b + 1]], exp, atol=1e-10, rtol=1e-10)
    assert torch.isfinite(out).all()
    rect = mdt.unpack(batch, sequence_length=12)
    for b, w in enumerate(windows):
        ln = w["action"].shape[0]
        assert torch.equal(rect["action"][b, :ln], w["action"])
        assert rect["mask"][b].sum().item() == ln


@pytest.mark.skipif(not _engine_packs(), reason="the engine has no packed layout yet")
def test_unpack_equals_the_engines_padded_layout():
    store = _engine_store(80)
    kw = dict(num_workers=0, seed=11, lengths="ragged", boundaries="none")
    packed = mouse_data.PrefetchBatchifier(store, 10, 6, layout="packed", **kw)
    padded = mouse_data.PrefetchBatchifier(store, 10, 6, layout="padded", **kw)
    try:
        for _ in range(3):
            a = packed.next_batch()
            b = padded.next_batch()
            rect = mdt.unpack(a, sequence_length=10)
            assert torch.equal(rect["mask"], b["mask"].bool())
            for key in ("action", "reward", "done"):
                assert torch.equal(rect[key], b[key]), key
    finally:
        packed.close()
        padded.close()
