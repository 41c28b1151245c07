"""Markdown tables and the plot of a bench/peers/run.py report (results.json)."""

from __future__ import annotations

import math

PEER_LABEL = {
    "mouse_data": "mouse_data (Python)",
    "mouse-core": "mouse-core 0.3.0 PrefetchBatchifier",
    "torchrl": "TorchRL ReplayBuffer(LazyMemmapStorage)",
    "datasets": "datasets with_format(\"torch\")",
    "numpy": "NumPy memmaps + torch DataLoader",
    "memcpy": "memcpy of the batch bytes (NumPy)",
}


def _result(report, peer, dataset):
    for r in report["results"]:
        if r["peer"] == peer and r["dataset"] == dataset:
            return r
    return None


def _variant(res, label):
    if res is None:
        return None
    for v in res["variants"]:
        if v["label"] == label:
            return v
    return None


def _us(v):
    return f"{v['s_per_batch'] * 1e6:,.0f}" if v else "—"


def _ms(x):
    return f"{x * 1e3:,.1f}" if x is not None else "—"


def _ratio(v, ref):
    if not v or not ref:
        return "—"
    r = v["s_per_batch"] / ref["s_per_batch"]
    return f"{r:,.0f}×" if r >= 10 else f"{r:.2f}×"


def _rss(res):
    if res is None:
        return "—"
    own = res["peak_rss_mb"]
    workers = res.get("workers_peak_rss_mb", 0)
    return f"{own:,.0f}" + (f" (+{workers:,.0f} per worker)" if workers > 1 else "")


# Rows of the main table: (peer, label at 0 workers, label at 2 workers, what is shown).
CARTPOLE_ROWS = [
    ("mouse_data", "random, 0 workers", "random, 2 workers", "C++ worker threads"),
    ("mouse-core", "random, 0 workers", "random, 2 workers", "Python threads"),
    ("torchrl", "SliceSampler, 0 workers", "SliceSampler, 2 workers", "`prefetch=2` threads"),
    ("datasets", "batched __getitem__, 0 workers", "batched __getitem__, 2 workers",
     "one batched `ds[rows]`; DataLoader processes"),
    ("datasets", "B slices, 0 workers", "B slices, 2 workers", "B slices `ds[s:s+64]`"),
    ("numpy", "random, 0 workers", "random, 2 workers", "DataLoader processes"),
    ("memcpy", "random, 0 workers", None, "the floor"),
]


def headline(report):
    """(mouse-core / mouse_data at 2 workers, smallest other-peer ratio at 2 workers, its peer)."""
    ds = "cartpole-1m"
    ours = _variant(_result(report, "mouse_data", ds), "random, 2 workers")
    if ours is None:
        return None
    core = _variant(_result(report, "mouse-core", ds), "random, 2 workers")
    best = None
    for peer, _, l2, _ in CARTPOLE_ROWS:
        if peer in ("mouse_data", "mouse-core", "memcpy"):
            continue
        v = _variant(_result(report, peer, ds), l2)
        if v and (best is None or v["s_per_batch"] < best[0]):
            best = (v["s_per_batch"], f"{PEER_LABEL[peer]} ({l2})")
    any_best = None
    for peer, l0, l2, _ in CARTPOLE_ROWS:
        if peer in ("mouse_data", "mouse-core", "memcpy"):
            continue
        for label in (l0, l2):
            v = _variant(_result(report, peer, ds), label)
            if v and (any_best is None or v["s_per_batch"] < any_best[0]):
                any_best = (v["s_per_batch"], f"{PEER_LABEL[peer]} ({label})")
    return (core["s_per_batch"] / ours["s_per_batch"] if core else math.nan,
            best[0] / ours["s_per_batch"] if best else math.nan, best[1] if best else "",
            any_best[0] / ours["s_per_batch"] if any_best else math.nan,
            any_best[1] if any_best else "")


def markdown(report) -> str:
    m, ver = report["machine"], report["versions"]
    lines = []
    add = lines.append
    rows = {d["name"]: d["rows"] for d in report["datasets"]}
    add(f"B = {report['B']}, S = {report['S']}; {report['date']}; "
        f"{'**--quick run: sizes and batch counts too small for timing**; ' if report['quick'] else ''}"
        f"whole run {report['wall_s'] / 60:.1f} min.")
    add("")
    add(f"Machine: {m['cpu']}, {m['nproc']} cores, {m['mem_gib']} GiB, {m['os']}, Python {m['python']}. "
        f"Load average (1/5/15 min) at the start {'/'.join(f'{x:.2f}' for x in report['load_start'])}, "
        f"at the end {'/'.join(f'{x:.2f}' for x in report['load_end'])}.")
    add("")
    add("Versions: " + ", ".join(f"{k} {v}" for k, v in ver.items()) + ".")
    add("")
    def made(d):
        if d["build_s"] < 0.1 and d["npy_s"] < 0.1:
            return "kept from an earlier run"
        return f"generated in {d['build_s']:.1f} s, NumPy columns in {d['npy_s']:.1f} s"

    add("Data: " + "; ".join(f"{d['name']} {d['rows']:,} rows ({made(d)})" for d in report["datasets"])
        + ". Before each peer's process starts, its files are read once (warm page cache).")
    if report.get("torch_threads") is not None:
        add("")
        add(f"torch intra-op threads per peer process: {report['torch_threads'] or 'torch default'}.")
    add("")

    ds = "cartpole-1m"
    ours0 = _variant(_result(report, "mouse_data", ds), "random, 0 workers")
    ours2 = _variant(_result(report, "mouse_data", ds), "random, 2 workers")
    add(f"### Random windows, CartPole-like, {rows.get(ds, 0):,} steps")
    add("")
    add("µs per batch (wall, the trainer's view); × = time / mouse_data's time at the same worker "
        "count (above 1: slower than mouse_data). Open: from the path to a ready sampler; first "
        "batch: building the loader with 2 workers plus its first batch. Peak RSS: the peer's "
        "process (its DataLoader workers separately).")
    add("")
    add("| peer | how | 0 workers | × | 2 workers | × | batch MB | open ms | first batch ms | peak RSS MB | load |")
    add("|---|---|---|---|---|---|---|---|---|---|---|")
    for peer, l0, l2, how in CARTPOLE_ROWS:
        res = _result(report, peer, ds)
        if res is None:
            continue
        v0, v2 = _variant(res, l0), _variant(res, l2) if l2 else None
        mb = (v0 or v2)["nbytes"] / 1e6 if (v0 or v2) else 0
        add(f"| {PEER_LABEL[peer]} | {how} | {_us(v0)} | {_ratio(v0, ours0)} | {_us(v2)} | "
            f"{_ratio(v2, ours2)} | {mb:.2f} | {_ms(res['open_s'])} | "
            f"{_ms(v2['first_batch_s']) if v2 else '—'} | {_rss(res)} | {res['load_start']:.1f} |")
    cxx = report.get("cxx", {}).get("results", {})
    if cxx:
        c0 = cxx.get("BM_Batchifier/mode:0/workers:0/episode:0/real_time")
        c2 = cxx.get("BM_Batchifier/mode:0/workers:2/episode:0/real_time")
        mc = cxx.get("BM_MemcpyBaseline/real_time")
        r = lambda t, v: f"{t / v['s_per_batch']:.2f}×" if (t and v) else "—"  # noqa: E731
        add(f"| C++ `batch_bench` | its own 1M-step CartPole-like set, same columns | "
            f"{c0 * 1e6:,.0f} | {r(c0, ours0)} | {c2 * 1e6:,.0f} | {r(c2, ours2)} | | | | | |")
        if mc:
            add(f"| C++ memcpy of the batch bytes | `BM_MemcpyBaseline` | {mc * 1e6:,.0f} | {r(mc, ours0)} "
                f"| | | | | | | |")
    add("")

    h = headline(report)
    if h:
        add(f"**mouse_data at 2 workers: {h[0]:,.0f}× faster than mouse-core 0.3.0 (goal ≥ 100×), "
            f"{h[1]:.1f}× faster than the fastest other peer at 2 workers, {h[2]} (goal ≥ 10×).** "
            f"Against the fastest other configuration at any worker count, {h[4]}: {h[3]:.1f}×.")
        add("")

    # epochs
    add("### Epochs of non-overlapping windows (without replacement)")
    add("")
    add("| peer | 0 workers | 2 workers |")
    add("|---|---|---|")
    for peer, label in (("mouse_data", "batch (epochs)"), ("torchrl", "SliceSamplerWithoutReplacement")):
        res = _result(report, peer, ds)
        add(f"| {PEER_LABEL[peer]} `{label}` | {_us(_variant(res, label + ', 0 workers'))} | "
            f"{_us(_variant(res, label + ', 2 workers'))} |")
    add("")

    # scaling
    add("### Cost per batch against the number of rows (0 workers, µs)")
    add("")
    names = [n for n in ("cartpole-1m", "cartpole-10m", "cartpole-100m") if n in rows]
    add("| | " + " | ".join(f"{rows[n]:,} rows" for n in names) + " |")
    add("|---|" + "---|" * len(names))
    add("| mouse_data `next_batch` | " + " | ".join(
        _us(_variant(_result(report, "mouse_data", n), "random, 0 workers")) for n in names) + " |")
    add("| mouse_data `next_batch`, `populate=True` | " + " | ".join(
        _us(_variant(_result(report, "mouse_data", n), "random, populate, 0 workers"))
        for n in names) + " |")
    add("| memcpy of the batch bytes (the floor at that size) | " + " | ".join(
        _us(_variant(_result(report, "memcpy", n), "random, 0 workers")) for n in names) + " |")
    add("| TorchRL `rb.sample()` (SliceSampler, ends given) | " + " | ".join(
        _us(_variant(_result(report, "torchrl", n), "SliceSampler, 0 workers")) for n in names) + " |")
    for key, what in (("cached", "the sampler alone, ends given (cached)"),
                      ("end_key, no cache", "the sampler alone, `end_key` read every call (its default)")):
        cells = []
        for n in names:
            r = _result(report, "torchrl", n)
            cells.append(f"{r['sampler_cost'][key] * 1e6:,.0f}" if r and "sampler_cost" in r else "—")
        add(f"| TorchRL {what} | " + " | ".join(cells) + " |")
    add("| mouse_data open ms / peak RSS MB | " + " | ".join(
        (lambda r: f"{_ms(r['open_s'])} / {r['peak_rss_mb']:,.0f}" if r else "—")(_result(report, "mouse_data", n))
        for n in names) + " |")
    add("| TorchRL open (fill the memmap) ms / peak RSS MB | " + " | ".join(
        (lambda r: f"{_ms(r['open_s'])} / {r['peak_rss_mb']:,.0f}" if r else "—")(_result(report, "torchrl", n))
        for n in names) + " |")
    add("")

    # images
    for ds, title in (("frozenlake-64px", "FrozenLake 8x8, 64×64×3 PNG frames"),
                      ("frames-84px", "84×84×3 PNG frames")):
        if ds not in rows:
            continue
        ours2 = _variant(_result(report, "mouse_data", ds), "random, 2 workers")
        ours0 = _variant(_result(report, "mouse_data", ds), "random, 0 workers")
        add(f"### Images: {title}, {rows[ds]:,} steps (ms per batch)")
        add("")
        add("| peer | frames | 0 workers | × | 2 workers | × | batch MB | open ms | peak RSS MB |")
        add("|---|---|---|---|---|---|---|---|---|")
        img_rows = [("mouse_data", "random", "frame cache (the default: decoded once), uint8"),
                    ("mouse_data", "random, int64 images", "frame cache, int64 (the default dtype)"),
                    ("mouse_data", "random, no frame cache", "decoded per batch (image_cache=False), uint8"),
                    ("mouse-core", "random", "decoded per batch, int64"),
                    ("datasets", "batched __getitem__", "decoded per batch (Pillow), uint8"),
                    ("datasets", "B slices", "decoded per batch (Pillow), uint8"),
                    ("torchrl", "SliceSampler", "pre-decoded uint8 in the memmap"),
                    ("numpy", "random", "pre-decoded uint8 in the memmap")]
        for peer, label, frames in img_rows:
            res = _result(report, peer, ds)
            if res is None:
                continue
            v0, v2 = _variant(res, label + ", 0 workers"), _variant(res, label + ", 2 workers")
            ms = lambda v: f"{v['s_per_batch'] * 1e3:,.1f}" if v else "—"  # noqa: E731
            mb = (v0 or v2)["nbytes"] / 1e6 if (v0 or v2) else 0
            add(f"| {PEER_LABEL[peer]} {'' if label == 'random' else '(' + label + ')'} | {frames} | "
                f"{ms(v0)} | {_ratio(v0, ours0)} | {ms(v2)} | {_ratio(v2, ours2)} | {mb:,.1f} | "
                f"{_ms(res['open_s'])} | {_rss(res)} |")
        add("")

    if report["problems"]:
        add("Checks that failed:")
        add("")
        for p in report["problems"]:
            add(f"- {p}")
    else:
        add("Checks: every peer's batches were [32, 64, ...], and each peer's first window equals "
            "mouse_data's rows at its starts (the same starts as ours for datasets and the NumPy "
            "memmaps, mouse-core's own seeded starts, the indices TorchRL returned).")
    add("")
    return "\n".join(lines)


def _log_if_positive(ax, axis="x"):
    vals = []
    for artist in ax.patches:
        vals.append(artist.get_width() if axis == "x" else artist.get_height())
    for line in ax.lines:
        vals.extend(line.get_xdata() if axis == "x" else line.get_ydata())
    if any(v > 0 for v in vals if v == v):
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")


def plot(report, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 5.2), gridspec_kw={"width_ratios": [1.5, 1, 1]})
    ds = "cartpole-1m"
    ax = axes[0]
    labels, t0s, t2s = [], [], []
    for peer, l0, l2, how in CARTPOLE_ROWS:
        res = _result(report, peer, ds)
        if res is None:
            continue
        v0, v2 = _variant(res, l0), _variant(res, l2) if l2 else None
        name = PEER_LABEL[peer].replace(" PrefetchBatchifier", "").replace(" ReplayBuffer(LazyMemmapStorage)", "")
        if peer == "datasets":
            name += "\n(" + ("batched" if "batched" in l0 else "B slices") + ")"
        labels.append(name)
        t0s.append(v0["s_per_batch"] * 1e6 if v0 else math.nan)
        t2s.append(v2["s_per_batch"] * 1e6 if v2 else math.nan)
    y = range(len(labels))
    ax.barh([i - 0.2 for i in y], t0s, 0.4, label="0 workers", color="#8da0cb")
    ax.barh([i + 0.2 for i in y], t2s, 0.4, label="2 workers", color="#fc8d62")
    ax.set_yticks(list(y), labels, fontsize=8)
    ax.invert_yaxis()
    _log_if_positive(ax, "x")
    ax.set_xlabel("µs per [32, 64] batch (log; lower is better)")
    nrows = {d["name"]: d["rows"] for d in report["datasets"]}.get(ds, 0)
    ax.set_title(f"Random windows, CartPole-like, {nrows:,} steps")
    ax.legend(loc="lower right", fontsize=8)

    ax = axes[1]
    rows = {d["name"]: d["rows"] for d in report["datasets"]}
    names = [n for n in ("cartpole-1m", "cartpole-10m", "cartpole-100m") if n in rows]
    xs = [rows[n] for n in names]

    def series(peer, label=None, key=None):
        out = []
        for n in names:
            r = _result(report, peer, n)
            if r is None:
                out.append(math.nan)
            elif key:
                out.append(r.get("sampler_cost", {}).get(key, math.nan) * 1e6)
            else:
                v = _variant(r, label)
                out.append(v["s_per_batch"] * 1e6 if v else math.nan)
        return out

    ax.plot(xs, series("mouse_data", "random, 0 workers"), "o-", label="mouse_data next_batch")
    ax.plot(xs, series("mouse_data", "random, populate, 0 workers"), "o:",
            label="mouse_data, populate=True")
    ax.plot(xs, series("memcpy", "random, 0 workers"), "k.-", label="memcpy floor")
    ax.plot(xs, series("torchrl", "SliceSampler, 0 workers"), "s-", label="TorchRL rb.sample()")
    ax.plot(xs, series("torchrl", key="cached"), "^--", label="TorchRL sampler alone, ends given")
    ax.plot(xs, series("torchrl", key="end_key, no cache"), "v--", label="TorchRL sampler alone, end_key")
    _log_if_positive(ax, "x")
    _log_if_positive(ax, "y")
    ax.set_xlabel("rows in the dataset")
    ax.set_ylabel("µs per batch, 0 workers")
    ax.set_title("Cost per batch against size")
    ax.legend(fontsize=8)

    ax = axes[2]
    groups = [n for n in ("frozenlake-64px", "frames-84px") if n in rows]
    img_peers = [("mouse_data", "random, 2 workers", "mouse_data (uint8)"),
                 ("mouse-core", "random, 2 workers", "mouse-core 0.3.0"),
                 ("datasets", "batched __getitem__, 2 workers", "datasets"),
                 ("torchrl", "SliceSampler, 2 workers", "TorchRL (pre-decoded)"),
                 ("numpy", "random, 2 workers", "NumPy memmap (pre-decoded)")]
    width = 0.8 / len(img_peers)
    for j, (peer, label, name) in enumerate(img_peers):
        vals = []
        for g in groups:
            v = _variant(_result(report, peer, g), label)
            vals.append(v["s_per_batch"] * 1e3 if v else math.nan)
        ax.bar([i + (j - len(img_peers) / 2 + 0.5) * width for i in range(len(groups))], vals, width,
               label=name)
    ax.set_xticks(list(range(len(groups))), ["64×64×3 PNG", "84×84×3 PNG"][:len(groups)])
    _log_if_positive(ax, "y")
    ax.set_ylabel("ms per batch, 2 workers (log)")
    ax.set_title("Image windows (2 048 frames per batch)")
    ax.legend(fontsize=7, loc="upper left")
    load = report["load_start"][0]
    fig.suptitle(f"mouse-data beside its peers, B=32, S=64 — {report['machine']['nproc']} cores, "
                 f"load {load:.1f} at the start{' (QUICK run: not a timing)' if report['quick'] else ''}",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
