"""Peak working memory and time of one JTFS call (forward, or forward + backward), in this
process: build, a warm-up call on one signal, ``malloc_trim`` and a reset of the peak
(``/proc/self/clear_refs``), then the measured call. Peak = ``VmHWM`` after the call minus
``VmRSS`` before it (the input and the filters excluded, the output included); blocks of
1 MiB and more are mapped (``M_MMAP_THRESHOLD``), so that the resident set follows the live
tensors. The method of ``tests/engine/test_jtfs_cost.py``.

Usage: ``OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/jtfs_peak_probe.py N [B] [grad]``
(J=12 Q=16 J_fr=5 Q_fr=2 F=16; prints one JSON line; Linux with glibc only).
"""

from __future__ import annotations

import ctypes
import json
import sys
import time

import torch

from engine.jtfs import TimeFrequencyScattering

PARAMS = dict(J=12, Q=16, J_fr=5, Q_fr=2, F=16)


def status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def main(N: int, B: int = 1, grad: bool = False) -> None:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, 2**20)                                   # M_MMAP_THRESHOLD
    t0 = time.perf_counter()
    S = TimeFrequencyScattering(shape=N, **PARAMS)
    build = time.perf_counter() - t0
    x = torch.randn(B, N)
    with torch.no_grad():
        S(x[:1])
    libc.malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    r0 = status("VmRSS")
    t0 = time.perf_counter()
    if grad:
        xg = x.clone().requires_grad_(True)
        S(xg).sum().backward()
    else:
        with torch.no_grad():
            S(x)
    t = time.perf_counter() - t0
    print(json.dumps(dict(N=N, B=B, grad=grad, build_s=round(build, 2), seconds=round(t, 3),
                          peak_mib=round((status("VmHWM") - r0) / 2**20, 1))))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1,
         len(sys.argv) > 3 and sys.argv[3] == "grad")
