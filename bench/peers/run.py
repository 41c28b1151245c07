#!/usr/bin/env python3
"""mouse_data beside its peers, in one run, on the same data: B=32 windows of S=64 consecutive
steps at random starts, 0 and 2 workers, from mouse-core 0.3.0's PrefetchBatchifier, TorchRL
(ReplayBuffer over LazyMemmapStorage + SliceSampler / SliceSamplerWithoutReplacement), plain
`datasets` (with_format("torch")), a torch DataLoader over NumPy memmaps of the columns,
mouse_data from Python, the C++ batch_bench and a memcpy of the same bytes.

    python bench/peers/run.py [--quick] [--build build/release] [--out DIR]

Builds the datasets once (CartPole-like 1M, 10M and 100M steps and FrozenLake 8x8 with 64x64x3 PNG
frames, 200k steps, with `mouse-data generate`; an 84x84x3 PNG set with `datasets`), then runs
each peer on each dataset in a process of its own (its open time and peak RSS are its own) and
checks that every peer's batches are [B, S] and that its first window holds the dataset's rows
at its starts (the same starts as ours where the peer takes starts). Writes results.md,
results.json and peers.png to --out (default: bench/peers for the full run, a temporary
directory for --quick). --quick uses small datasets and a few batches: a correctness check of
the harness and the peers, not a timing; it exits 1 when a check fails.
The Python packages are pinned in bench/peers/requirements.txt.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import peers  # noqa: E402

B, S = peers.B, peers.S


# ------------------------------------------------------------------------------------------
# child process: one peer on one dataset


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


PEER_IMPORTS = {
    "mouse_data": ["torch", "tensordict", "mouse_data"],
    "mouse-core": ["torch", "tensordict", "datasets"],
    "datasets": ["torch", "datasets"],
    "numpy": ["torch", "torch.utils.data"],
    "torchrl": ["torch", "tensordict", "torchrl.data"],
    "memcpy": [],
}


def child_main(jobs: list[str]) -> None:
    """Runs PEER=SPEC jobs in turn (one per process in the full run), writing SPEC.result.json
    for each."""
    pairs = [j.split("=", 1) for j in jobs]
    t0 = time.perf_counter()
    for peer_name, _ in pairs:
        for mod in PEER_IMPORTS[peer_name]:
            __import__(mod)
        if peer_name == "mouse-core":
            peers.import_mouse_core()
    threads = int(os.environ.get("MOUSE_PEERS_TORCH_THREADS", "1"))
    if "torch" in sys.modules and threads > 0:
        sys.modules["torch"].set_num_threads(threads)
    import_s = time.perf_counter() - t0
    for peer_name, spec_path in pairs:
        run_peer(peer_name, spec_path, import_s)


def run_peer(peer_name: str, spec_path: str, import_s: float) -> None:
    with open(spec_path) as f:
        raw = json.load(f)
    row_bytes = raw.pop("row_bytes", 0)
    spec = peers.Spec(**raw)
    res: dict = {"peer": peer_name, "dataset": spec.name, "import_s": import_s,
                 "rss_after_import_mb": _status_mb("VmRSS"), "load_start": os.getloadavg()[0]}
    peer = peers.Memcpy(spec, row_bytes) if peer_name == "memcpy" else peers.PEERS[peer_name](spec)
    shutil.rmtree(spec.scratch, ignore_errors=True)
    t0 = time.perf_counter()
    peer.open()
    res["open_s"] = time.perf_counter() - t0
    res["rss_after_open_mb"] = _status_mb("VmRSS")
    check = peer.check()
    if check is not None:
        starts, window = check
        res["check"] = {"starts": starts, "file": spec_path + ".window.npz"}
        np.savez(res["check"]["file"], **{k: np.asarray(v) for k, v in window.items()})
    res["variants"] = []
    for label, workers, build in peer.variants():
        t0 = time.perf_counter()
        next_batch, close = build()
        first = next_batch()
        v = {"label": label, "workers": workers, "first_batch_s": time.perf_counter() - t0,
             "shapes": peers.batch_shapes(first), "nbytes": peers.batch_nbytes(first)}
        del first
        n, t0 = 0, time.perf_counter()
        while n < spec.min_batches or (time.perf_counter() - t0 < spec.min_time and n < spec.max_batches):
            next_batch()
            n += 1
        v["batches"] = n
        v["s_per_batch"] = (time.perf_counter() - t0) / n
        close()
        res["variants"].append(v)
        print(f"  {peer_name:>10} {spec.name:<14} {label:<44} {v['s_per_batch'] * 1e6:12.1f} us/batch",
              file=sys.stderr, flush=True)
    if peer_name == "torchrl":
        res["sampler_cost"] = peer.sampler_cost(20 if spec.quick else 200)
    res["peak_rss_mb"] = _status_mb("VmHWM")
    res["workers_peak_rss_mb"] = max(peers.WORKER_PEAK_MB, default=0.0)
    peers.WORKER_PEAK_MB.clear()
    del peer
    shutil.rmtree(spec.scratch, ignore_errors=True)
    res["load_end"] = os.getloadavg()[0]
    # A file, not stdout: some peers log to stdout.
    with open(spec_path + ".result.json", "w") as f:
        json.dump(res, f)


# ------------------------------------------------------------------------------------------
# parent: data, processes, checks, report


@dataclasses.dataclass
class DataSet:
    name: str
    kind: str            # "cartpole", "frozenlake" or "frames84"
    rows: int
    path: str = ""
    npy_dir: str = ""
    columns: list = dataclasses.field(default_factory=list)
    image_shape: list | None = None
    build_s: float = 0.0
    npy_s: float = 0.0


def sizes(quick: bool, with_100m: bool) -> list[DataSet]:
    if quick:
        return [DataSet("cartpole-1m", "cartpole", 20_000), DataSet("cartpole-10m", "cartpole", 60_000),
                DataSet("frozenlake-64px", "frozenlake", 3_000), DataSet("frames-84px", "frames84", 2_500)]
    out = [DataSet("cartpole-1m", "cartpole", 1_000_000), DataSet("cartpole-10m", "cartpole", 10_000_000)]
    if with_100m:
        out.append(DataSet("cartpole-100m", "cartpole", 100_000_000))
    return out + [DataSet("frozenlake-64px", "frozenlake", 200_000), DataSet("frames-84px", "frames84", 20_000)]


def build_frames84(path: str, rows: int) -> None:
    """84x84x3 frames (a moving gradient with noise, about as compressible as an Atari frame) as an
    Image feature (PNG), with action / reward / done / episode_step, written by datasets."""
    import datasets

    datasets.disable_progress_bars()

    def gen():
        rng = np.random.default_rng(5)
        x = np.arange(84)[None, :, None]
        for r in range(rows):
            frame = ((x + r) // 2 + rng.integers(0, 8, (84, 84, 3))).astype(np.uint8)
            yield {"observation_image": frame, "action": r % 4, "reward": float(r % 7 == 0),
                   "done": int(r % 500 == 499), "episode_step": r % 500}

    feats = datasets.Features({"observation_image": datasets.Image(), "action": datasets.Value("int64"),
                               "reward": datasets.Value("float32"), "done": datasets.Value("int64"),
                               "episode_step": datasets.Value("int64")})
    datasets.Dataset.from_generator(gen, features=feats, cache_dir=path + ".cache").save_to_disk(path)
    shutil.rmtree(path + ".cache", ignore_errors=True)


def write_npy(d: DataSet, ref_store) -> None:
    """One .npy per column: numeric columns straight from the mapped Arrow buffers, images decoded
    once to uint8 H x W x C (by mouse_data, whose PNG pixels equal Pillow's for RGB)."""
    import datasets
    import pyarrow as pa

    ds = datasets.load_from_disk(d.path)
    table = ds.data.table
    os.makedirs(d.npy_dir, exist_ok=True)
    d.columns = []
    for name in table.column_names:
        if name not in peers.COLUMN_KEYS:
            continue
        col = table.column(name)
        if name == "observation_image":
            h, w, c = d.image_shape
            out = np.lib.format.open_memmap(os.path.join(d.npy_dir, name + ".npy"), "w+", np.uint8,
                                            (d.rows, h, w, c))
            for a in range(0, d.rows, 4096):
                b = min(d.rows, a + 4096)
                out[a:b] = ref_store[np.arange(a, b)]["obs_image"].reshape(b - a, h, w, c)
            out.flush()
        else:
            chunks = [c.flatten() if pa.types.is_fixed_size_list(c.type) or pa.types.is_list(c.type) else c
                      for c in col.chunks]
            flat = np.concatenate([np.asarray(c) for c in chunks])
            width = flat.size // d.rows
            arr = flat.reshape(d.rows, width) if width > 1 or flat.size != d.rows else flat
            np.save(os.path.join(d.npy_dir, name + ".npy"), arr)
        d.columns.append(name)


def reference_store(d: DataSet):
    import mouse_data

    pixels = int(np.prod(d.image_shape)) if d.image_shape else 0
    store = mouse_data.DatasetStore(max_action_dim=spec_action_dim(d), max_obs_continuous_dim=obs_dim(d),
                                    max_obs_discrete_dim=64 if d.kind == "frozenlake" else 0,
                                    max_obs_image_pixels=pixels, obs_image_dtype="uint8",
                                    format="numpy")
    store.from_dataset(d.path)
    return store


def spec_action_dim(d: DataSet) -> int:
    return 2 if d.kind == "cartpole" else 4


def obs_dim(d: DataSet) -> int:
    return 4 if d.kind == "cartpole" else 0


def build_data(data_dir: str, tools: str, sets: list[DataSet]) -> None:
    for d in sets:
        d.path = os.path.join(data_dir, d.name)
        d.npy_dir = d.path + ".npy"
        t0 = time.perf_counter()
        if not os.path.isdir(d.path):
            if d.kind == "cartpole":
                cmd = [tools, "generate", "cartpole", d.path, "--steps", str(d.rows)]
            elif d.kind == "frozenlake":
                cmd = [tools, "generate", "frozenlake-8x8", d.path, "--steps", str(d.rows), "--images"]
            else:
                cmd = None
                build_frames84(d.path, d.rows)
            if cmd:
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        d.build_s = time.perf_counter() - t0
        d.image_shape = {"frozenlake": [64, 64, 3], "frames84": [84, 84, 3]}.get(d.kind)
        t0 = time.perf_counter()
        marker = os.path.join(d.npy_dir, ".complete")
        if os.path.exists(marker):  # kept from an earlier run in the same --data-dir
            with open(marker) as f:
                d.columns = json.load(f)
        else:
            write_npy(d, reference_store(d))
            with open(marker, "w") as f:
                json.dump(d.columns, f)
        d.npy_s = time.perf_counter() - t0
        print(f"data {d.name}: {d.rows} rows, generated in {d.build_s:.1f} s, npy columns in "
              f"{d.npy_s:.1f} s", file=sys.stderr, flush=True)


def frame_cache_dir() -> str:
    """Where mouse_data keeps decoded frames by default (MOUSE_DATA_CACHE, else
    XDG_CACHE_HOME/mouse-data, else ~/.cache/mouse-data; its "frames" folder)."""
    root = os.environ.get("MOUSE_DATA_CACHE")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "mouse-data")
    return os.path.join(root, "frames")


def warm_page_cache(paths: list[str]) -> float:
    """Reads every file under `paths` once, so that each peer starts with its files in the page
    cache (as after a first epoch) whatever ran before it; returns the seconds it took."""
    t0 = time.perf_counter()
    buf = bytearray(1 << 22)
    for top in paths:
        for root, _, files in os.walk(top):
            for name in files:
                with open(os.path.join(root, name), "rb", buffering=0) as f:
                    while f.readinto(buf):
                        pass
    return time.perf_counter() - t0


def run_child(args: list[str], result_paths: list[str], env: dict,
              timeout: float) -> tuple[list[dict] | None, float, str]:
    """Runs a child, returns (its results, its peak RSS in MB from wait4, what went wrong)."""
    with tempfile.TemporaryFile("w+") as out:
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                os.wait4(p.pid, 0)
                return None, 0.0, "timeout"
            time.sleep(0.05)
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        log = out.read()
    progress = [ln for ln in log.splitlines() if ln.startswith("  ")]
    if progress:
        print("\n".join(progress), file=sys.stderr, flush=True)
    if code != 0:
        return None, ru.ru_maxrss / 1024, f"exit {code}: {log[-3000:]}"
    results = []
    for path in result_paths:
        with open(path) as f:
            results.append(json.load(f))
    return results, ru.ru_maxrss / 1024, ""


def cxx_bench(binary: str, quick: bool, env: dict) -> tuple[dict, float]:
    filt = "BM_Batchifier/mode:0/workers:[02]/episode:0/|BM_MemcpyBaseline"
    if not quick:
        filt += "|BM_ImageBatchifier/workers:[02]/"
    args = [binary, f"--benchmark_filter={filt}", "--benchmark_format=json",
            f"--benchmark_min_time={'0.05s' if quick else '2s'}"]
    with tempfile.TemporaryFile("w+") as out:
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        out.seek(0)
        text = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{binary} failed")
    unit = {"us": 1e-6, "ms": 1e-3, "ns": 1e-9}
    res = {b["name"]: b["real_time"] * unit[b["time_unit"]] for b in json.loads(text)["benchmarks"]}
    return res, ru.ru_maxrss / 1024


def compare_window(got: dict, ref: dict, exact_keys: bool) -> list[str]:
    """Problems found holding a peer's first window against mouse_data's rows at its start."""
    problems = []
    if exact_keys and set(got) != set(ref):
        problems.append(f"keys {sorted(got)} != ours {sorted(ref)}")
    common = [k for k in got if k in ref]
    if not common:
        problems.append(f"no key in common with ours ({sorted(got)})")
    for k in common:
        a, b = np.asarray(got[k]), np.asarray(ref[k])
        if a.shape != b.shape:
            problems.append(f"{k}: shape {list(a.shape)} != ours {list(b.shape)}")
        elif not np.array_equal(a.astype(np.float64), b.astype(np.float64)):
            problems.append(f"{k}: values differ from ours at {int((a != b).sum())} places")
    return problems


def check_result(res: dict, d: DataSet, ref_store, check_starts: list[int]) -> list[str]:
    problems = []
    for v in res.get("variants", []):
        for k, shape in v["shapes"].items():
            short_ok = "WithoutReplacement" in v["label"] and 0 < shape[0] <= B and shape[1:2] == [S]
            if shape[:2] != [B, S] and not short_ok:
                problems.append(f"{v['label']}: {k} has shape {shape}, expected [{B}, {S}, ...]")
    chk = res.get("check")
    if chk is None:
        return problems
    starts = chk["starts"]
    if len(starts) != B:
        problems.append(f"{len(starts)} starts, expected {B}")
    if res["peer"] in ("datasets", "numpy", "mouse_data") and starts != check_starts:
        problems.append("starts differ from the ones given")
    with np.load(chk["file"]) as z:
        got = {k: z[k] for k in z.files}
    ref = {k: np.asarray(v) for k, v in ref_store[starts[0]:starts[0] + S].items()}
    problems += compare_window(got, ref, exact_keys=res["peer"] in ("mouse_data", "mouse-core"))
    return problems


def machine() -> dict:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gb = int(f.readline().split()[1]) / 2**20
    return {"cpu": cpu, "nproc": os.cpu_count(), "mem_gib": round(mem_gb, 1),
            "os": platform.platform(), "python": platform.python_version()}


def versions() -> dict:
    out = {}
    for pkg in ("torch", "tensordict", "torchrl", "datasets", "pyarrow", "numpy", "mouse-core",
                "matplotlib"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    try:
        out["mouse-data"] = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                                           capture_output=True, text=True).stdout.strip()
    except OSError:
        out["mouse-data"] = "?"
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small data, few batches: a check, not a timing")
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--out", help="where results.md / results.json / peers.png go")
    ap.add_argument("--data-dir", help="keep the generated datasets here (reused when present)")
    ap.add_argument("--only", help="comma-separated dataset names to run (e.g. frozenlake-64px); "
                    "the report then holds only those")
    ap.add_argument("--no-100m", action="store_true",
                    help="leave out the 100M-step CartPole set of the full run (4.7 GB, plus 4.8 GB "
                         "of NumPy columns and TorchRL's 4.8 GB memmap)")
    ap.add_argument("--torch-threads", type=int, default=1,
                    help="torch intra-op threads in each peer's process (0: torch's default, one per "
                         "core); 1 by default, so that 0 workers is one thread of work for every peer")
    ap.add_argument("--child", nargs="+", metavar="PEER=SPEC", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args.child)
        return 0

    t_start = time.perf_counter()
    build = os.path.abspath(args.build)
    tools = os.path.join(build, "tools", "mouse-data")
    cxx = os.path.join(build, "bench", "batch_bench")
    env = dict(os.environ)
    pydir = os.path.join(build, "python")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pydir, env.get("PYTHONPATH")) if p)
    env["MOUSE_PEERS_TORCH_THREADS"] = str(args.torch_threads)
    env["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
    sys.path.insert(0, pydir)
    out_dir = args.out or (tempfile.mkdtemp(prefix="mouse-peers-out-") if args.quick else HERE)
    os.makedirs(out_dir, exist_ok=True)
    own_data = args.data_dir is None
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="mouse-peers-data-")
    os.makedirs(data_dir, exist_ok=True)
    report = {"quick": args.quick, "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "machine": machine(), "versions": versions(), "load_start": os.getloadavg(),
              "B": B, "S": S, "torch_threads": args.torch_threads, "datasets": [], "results": [], "problems": []}
    try:
        sets = sizes(args.quick, not args.no_100m)
        if args.only:
            wanted = set(args.only.split(","))
            sets = [d for d in sets if d.name in wanted]
        build_data(data_dir, tools, sets)
        report["datasets"] = [dataclasses.asdict(d) for d in sets]
        check_starts: dict = {}
        plan = {"cartpole-1m": ["mouse_data", "mouse-core", "torchrl", "datasets", "numpy", "memcpy"],
                "cartpole-10m": ["mouse_data", "torchrl", "memcpy"],
                "cartpole-100m": ["mouse_data", "torchrl", "memcpy"],
                "frozenlake-64px": ["mouse_data", "mouse-core", "torchrl", "datasets", "numpy"],
                "frames-84px": ["mouse_data", "mouse-core", "torchrl", "datasets", "numpy"]}
        jobs = []  # (peer, dataset, spec path)
        refs = {}
        for d in sets:
            ref = refs[d.name] = reference_store(d)
            import mouse_data

            b = mouse_data.PrefetchBatchifier(ref, S, B, num_workers=0, seed=1, format="numpy")
            first = b.next()
            b.close()
            check_starts[d.name] = [int(s) for s in first.starts]
            row_bytes = sum(v.nbytes for v in first.data.values()) // (B * S)
            images = d.image_shape is not None
            spec = peers.Spec(
                name=d.name, path=d.path, rows=d.rows, columns=d.columns, npy_dir=d.npy_dir,
                scratch=os.path.join(data_dir, "scratch"), image_shape=d.image_shape,
                max_action_dim=spec_action_dim(d), obs_dim=obs_dim(d),
                check_starts=check_starts[d.name],
                min_time=0.0 if args.quick else (3.0 if images else 2.0),
                min_batches=1 if args.quick else 3, quick=args.quick)
            for name in plan[d.name]:
                spec_path = os.path.join(data_dir, f"spec-{d.name}-{name}.json")
                with open(spec_path, "w") as f:
                    json.dump({**dataclasses.asdict(spec), "row_bytes": row_bytes}, f)
                jobs.append((name, d, spec_path))
        if args.quick:  # one process: imports dominate the small runs
            groups = [("all peers", jobs)]
        else:
            groups = [(f"{name} on {d.name}", [(name, d, p)]) for name, d, p in jobs]
        for label, items in groups:
            warm = sorted({d.npy_dir if n in ("numpy", "torchrl") else d.path for n, d, _ in items})
            if any(n == "mouse_data" and d.image_shape for n, d, _ in items):
                # Its decoded-frame cache is part of its files: after the 100M-row sets it may
                # have left the page cache, and a first epoch would read it back from disk.
                warm.append(frame_cache_dir())
            warm_s = warm_page_cache(warm)
            res_list, rss, err = run_child(
                [sys.executable, __file__, "--child", *(f"{n}={p}" for n, _, p in items)],
                [p + ".result.json" for _, _, p in items], env, timeout=900)
            if res_list is None:
                report["problems"].append(f"{label}: {err}")
                continue
            for (name, d, _), res in zip(items, res_list):
                res["process_peak_rss_mb"] = rss
                res["warm_s"] = warm_s
                for p in check_result(res, d, refs[d.name], check_starts[d.name]):
                    report["problems"].append(f"{name} on {d.name}: {p}")
                report["results"].append(res)
        refs.clear()
        if os.path.exists(cxx):
            res, rss = cxx_bench(cxx, args.quick, env)
            report["cxx"] = {"results": res, "peak_rss_mb": rss}
        else:
            report["problems"].append(f"{cxx} not built")
    finally:
        if own_data:
            shutil.rmtree(data_dir, ignore_errors=True)
    report["load_end"] = os.getloadavg()
    report["wall_s"] = time.perf_counter() - t_start
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(report, f, indent=1)
    import report as rep

    md = rep.markdown(report)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(md)
    try:
        rep.plot(report, os.path.join(out_dir, "peers.png"))
    except ImportError as e:
        print(f"no plot: {e}", file=sys.stderr)
    print(md)
    print(f"wrote {out_dir}/results.md, results.json, peers.png in {report['wall_s']:.0f} s",
          file=sys.stderr)
    for p in report["problems"]:
        print("CHECK FAILED:", p, file=sys.stderr)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
