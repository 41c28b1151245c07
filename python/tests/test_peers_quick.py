"""bench/peers/run.py --quick: the peer benchmark harness runs end to end on small data, every peer
(mouse-core 0.3.0, TorchRL, datasets, NumPy memmaps + DataLoader, mouse_data, memcpy, the C++
batch_bench) produces [32, 64] batches, and each peer's first window holds the same rows as
mouse_data's at its starts. A check of the harness, not a timing."""

import json
import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("torchrl", reason="bench/peers/requirements.txt is not installed")
pytest.importorskip("matplotlib", reason="bench/peers/requirements.txt is not installed")
pytest.importorskip("mouse_data")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _build_dir():
    tool = shutil.which("mouse-data")
    if tool is None:
        pytest.skip("the mouse-data CLI is not on PATH (build/release/tools)")
    build = os.path.dirname(os.path.dirname(os.path.realpath(tool)))
    if not os.path.exists(os.path.join(build, "bench", "batch_bench")):
        pytest.skip(f"{build}/bench/batch_bench is not built")
    return build


def test_quick_run_every_peer_gives_our_windows(tmp_path):
    build = _build_dir()
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "peers", "run.py"), "--quick", "--build", build,
         "--out", str(tmp_path / "out"), "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-6000:]
    report = json.loads((tmp_path / "out" / "results.json").read_text())
    assert report["problems"] == []
    seen = {(r["peer"], r["dataset"]) for r in report["results"]}
    for peer in ("mouse_data", "mouse-core", "torchrl", "datasets", "numpy", "memcpy"):
        assert (peer, "cartpole-1m") in seen, peer
    for peer in ("mouse_data", "mouse-core", "torchrl", "datasets", "numpy"):
        assert (peer, "frozenlake-64px") in seen and (peer, "frames-84px") in seen, peer
    for r in report["results"]:
        assert r["variants"], (r["peer"], r["dataset"])
        if r["peer"] != "memcpy":
            assert "check" in r, (r["peer"], r["dataset"])
    assert "BM_Batchifier/mode:0/workers:2/episode:0/real_time" in report["cxx"]["results"]
    assert (tmp_path / "out" / "peers.png").stat().st_size > 10_000
    assert "Random windows" in (tmp_path / "out" / "results.md").read_text()
