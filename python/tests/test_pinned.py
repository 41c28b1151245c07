"""pin_memory=True from Python: without CUDA a warning and ordinary memory; with a CUDA runtime
(here a fake libcudart whose cudaHostAlloc is malloc, since this machine has no GPU) batches are
allocated through cudaHostAlloc and still arrive as ordinary torch tensors with the right values."""

import os
import subprocess
import sys
import textwrap

import pytest

FAKE_CUDART = r"""
#include <stdlib.h>
static int allocs = 0;
int cudaHostAlloc(void** p, size_t n, unsigned int flags) { (void)flags; *p = aligned_alloc(4096, ((n ? n : 1) + 4095) / 4096 * 4096); allocs++; return *p ? 0 : 2; }
int cudaFreeHost(void* p) { free(p); return 0; }
int cudaGetDeviceCount(int* n) { *n = 1; return 0; }
int fake_cudart_allocs(void) { return allocs; }
"""

CHILD = """
import ctypes, numpy as np
import mouse_data
s = mouse_data.DatasetStore(max_action_dim=2)
s.append_columns({"action": np.arange(1000) % 2, "reward": np.ones(1000, np.float32),
                  "done": np.zeros(1000, np.int64)})
b = mouse_data.PrefetchBatchifier(s, 8, 4, sampling="sequential", pin_memory=True)
batch = b.next_batch()
print("pinned", b.pinned)
print("values", batch["action"][1].tolist() == [(8 + k) % 2 for k in range(8)])
b.close()
"""


def run(env):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD)], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120)


def test_without_cuda_pin_memory_warns_and_uses_ordinary_memory(tmp_path):
    out = run({"LD_LIBRARY_PATH": str(tmp_path)})  # no libcudart anywhere we point at
    if "pinned True" in out.stdout:
        pytest.skip("a CUDA runtime and device are present")
    assert out.returncode == 0, out.stderr
    assert "pinned False" in out.stdout and "values True" in out.stdout
    assert "pin_memory" in out.stderr  # said once, on stderr


def test_with_a_cuda_runtime_batches_come_from_cuda_host_alloc(tmp_path):
    src = tmp_path / "fake.c"
    src.write_text(FAKE_CUDART)
    lib = tmp_path / "libcudart.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    out = run({"LD_LIBRARY_PATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert "pinned True" in out.stdout and "values True" in out.stdout
