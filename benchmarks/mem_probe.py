"""Build time, resident memory after building, forward time and peak memory of
Scattering1D(J=12, Q=12) at one length, batch 1, 2 threads, no gradient (issue 15's probe).

Usage: ``OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/mem_probe.py N`` (one process per N;
memory is the resident set above the process's size after import).
"""

from __future__ import annotations

import sys
import time

import torch
from _proc import status

from engine import Scattering1D


def rss_mib(key: str = "VmRSS") -> float:
    """The process's resident set now (``VmRSS``) or its peak (``VmHWM``), MiB."""
    return status(key) / 2**20


def main(N: int) -> None:
    torch.set_num_threads(2)
    r0 = rss_mib()
    t = time.perf_counter()
    S = Scattering1D(J=12, shape=N, Q=12)
    build = time.perf_counter() - t
    r1 = rss_mib()
    buffers = sum(b.numel() * b.element_size() for b in S.buffers()) / 2**20
    x = torch.randn(1, N)
    with torch.no_grad():
        S(x)                                   # warm-up
        t = time.perf_counter()
        y = S(x)
        forward = time.perf_counter() - t
    peak = rss_mib("VmHWM")      # not ru_maxrss: exec keeps the parent's (bench_jtfs.py)
    print(f"N={N} build {build:.2f}s rss after build +{r1 - r0:.0f}MiB buffers {buffers:.0f}MiB "
          f"fwd {forward:.3f}s peak {peak - r0:.0f}MiB out {tuple(y.shape)} Np={S.N_padded}")


if __name__ == "__main__":
    main(int(sys.argv[1]))
