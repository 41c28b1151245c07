"""device="cuda" from Python. This machine has no GPU, so the CUDA path runs against a fake
libcudart (tests/fake_cudart, built here) whose "device memory" is host memory: the batches'
DLPack capsules are read back and compared with the same batches on the host. Without any
CUDA runtime, asking for a GPU is a clear error."""

import ctypes
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FAKE = Path(__file__).resolve().parents[2] / "tests" / "fake_cudart" / "fake_cudart.cpp"

CHILD = r"""
import ctypes, numpy as np, torch
import mouse_data
from mouse_data.errors import InvalidArgumentError, MissingDependencyError

class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]
class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]
class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]
get = ctypes.pythonapi.PyCapsule_GetPointer
get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]

s = mouse_data.DatasetStore(max_action_dim=2, max_obs_continuous_dim=3)
n = 2000
s.append_columns({"action": np.arange(n) % 2, "reward": np.arange(n, dtype=np.float32),
                  "done": (np.arange(n) % 50 == 49).astype(np.int64),
                  "obs_continuous": np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)})
kw = dict(sampling="random", seed=3, num_workers=2, format="torch")
cpu = mouse_data.PrefetchBatchifier(s, 8, 4, **kw)
gpu = mouse_data.PrefetchBatchifier(s, 8, 4, device="cuda:1", **kw)
print("device", gpu.device, gpu.pinned, cpu.device)
same = True
for _ in range(50):
    host = cpu._core.next_batch("numpy", 0)[1]
    size, caps = gpu._core.next_batch("numpy", 0)
    assert sorted(caps) == sorted(host), (sorted(caps), sorted(host))
    for name, cap in caps.items():
        t = DLTensor.from_address(get(cap, b"dltensor"))
        arr = host[name]
        shape = [t.shape[i] for i in range(t.ndim)]
        same &= (t.device.device_type, t.device.device_id) == (2, 1)  # kDLCUDA, cuda:1
        same &= shape == list(arr.shape) and t.dtype.bits == arr.dtype.itemsize * 8
        same &= ctypes.string_at(t.data, arr.nbytes) == arr.tobytes()
print("same", same)
try:
    gpu.next_batch()
    print("torch took it", torch.cuda.is_available())
except MissingDependencyError as e:
    print("no torch cuda", "torch.cuda.is_available() is False" in str(e))
gpu.close()
cpu.close()
for bad, word in [("cuda:7", "2 CUDA devices"), ("tpu", "tpu")]:
    try:
        mouse_data.PrefetchBatchifier(s, 8, 4, device=bad)
    except InvalidArgumentError as e:
        print("rejected", bad, word in str(e))
try:
    mouse_data.PrefetchBatchifier(s, 8, 4, device="cuda", format="numpy")
except InvalidArgumentError as e:
    print("numpy refused", "format='torch'" in str(e))
"""


def run(env, code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=180)


@pytest.fixture(scope="module")
def fake_cudart(tmp_path_factory):
    d = tmp_path_factory.mktemp("fake_cudart")
    subprocess.run(["c++", "-std=c++17", "-O1", "-shared", "-fPIC", "-o",
                    str(d / "libcudart.so"), str(FAKE)], check=True, timeout=300)
    return d


def test_device_batches_are_the_host_batches_in_gpu_memory(fake_cudart):
    out = run({"LD_LIBRARY_PATH": str(fake_cudart)}, CHILD)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "device cuda:1 True cpu" in lines, out.stdout
    assert "same True" in lines, out.stdout
    # No CUDA build of torch here: the conversion names what is missing; with one, it works.
    assert "no torch cuda True" in lines or "torch took it True" in lines, out.stdout
    assert "rejected cuda:7 True" in lines and "rejected tpu True" in lines, out.stdout
    assert "numpy refused True" in lines, out.stdout


def test_without_cuda_a_gpu_device_is_a_clear_error(tmp_path):
    code = """
    import numpy as np, mouse_data
    s = mouse_data.DatasetStore(max_action_dim=2)
    s.append_columns({"action": np.arange(100) % 2, "reward": np.ones(100, np.float32),
                      "done": np.zeros(100, np.int64)})
    try:
        mouse_data.PrefetchBatchifier(s, 4, 2, device="cuda")
        print("made")
    except ValueError as e:
        print("error", e)
    b = mouse_data.PrefetchBatchifier(s, 4, 2, device="cpu")
    print("cpu", b.device, tuple(b.next_batch()["reward"].shape))
    """
    out = run({"LD_LIBRARY_PATH": str(tmp_path)}, code)
    assert out.returncode == 0, out.stderr
    if "made" in out.stdout:
        pytest.skip("a CUDA runtime and device are present")
    # No libcudart at all, or one (e.g. from a CUDA build of torch) that finds no device.
    assert ('device "cuda" was asked for, but libcudart could not be loaded' in out.stdout
            or 'device "cuda" was asked for, but no CUDA device' in out.stdout), out.stdout
    assert "cpu cpu (2, 4)" in out.stdout


def test_device_arguments_are_checked(tmp_path):
    import mouse_data
    import numpy as np
    import torch

    s = mouse_data.DatasetStore(max_action_dim=2)
    s.append_columns({"action": np.arange(100) % 2, "reward": np.ones(100, np.float32),
                      "done": np.zeros(100, np.int64)})
    for device in ("cpu", torch.device("cpu"), None):
        with mouse_data.PrefetchBatchifier(s, 4, 2, device=device) as b:
            assert b.device == "cpu"
    with pytest.raises(TypeError, match="device"):
        mouse_data.PrefetchBatchifier(s, 4, 2, device=1.5)
    with pytest.raises(TypeError, match="device"):
        mouse_data.PrefetchBatchifier(s, 4, 2, device=True)
    with pytest.raises(ValueError, match="device"):
        mouse_data.PrefetchBatchifier(s, 4, 2, device=-1)
    with pytest.raises(ValueError, match="device"):
        mouse_data.PrefetchBatchifier(s, 4, 2, device=torch.device("meta"))
