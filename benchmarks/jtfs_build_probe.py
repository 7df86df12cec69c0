"""Where JTFS's memory goes at one length, build included: the build's peak, what the built
transform keeps (its buffers, the filter bank's cache, the float64 masters of its plans), then
the high-water mark after a first and a second forward call (batch 1, no gradient, 2 threads,
glibc's default allocator settings, as `bench_scaling.py` counts it: all above the baseline
after imports).

Usage: ``OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/jtfs_build_probe.py 20``
(log2 N; J=12 Q=16 J_fr=5 Q_fr=2 F=16; prints one JSON line; Linux only).
"""

from __future__ import annotations

import json
import sys
import time

import torch
from _proc import reset_peak, status

from engine.jtfs import TimeFrequencyScattering

PARAMS = dict(J=12, Q=16, J_fr=5, Q_fr=2, F=16)
MiB = 2**20


def main(log2_n: int) -> None:
    torch.set_num_threads(2)
    N = 2**log2_n
    base = status("VmRSS")
    reset_peak()
    t = time.perf_counter()
    S = TimeFrequencyScattering(shape=N, **PARAMS)
    build_s = time.perf_counter() - t
    build_peak, kept = status("VmHWM") - base, status("VmRSS") - base
    buffers = sum(b.numel() * b.element_size() for b in S.buffers())
    masters = sum(a.nbytes for a in S._masters.values())
    bank = sum(lv.val.nbytes + lv.idx.nbytes for f in (S.bank.phi, *S.bank.psi1, *S.bank.psi2)
               for lv in f.compact)
    x = torch.randn(1, N)
    with torch.no_grad():
        t = time.perf_counter()
        y = S(x)
        first_s, first_hwm = time.perf_counter() - t, status("VmHWM") - base
        del y
        t = time.perf_counter()
        y = S(x)
        second_s = time.perf_counter() - t
    print(json.dumps(dict(
        N=N, build_s=round(build_s, 2), build_peak_mib=round(build_peak / MiB),
        kept_after_build_mib=round(kept / MiB), buffers_mib=round(buffers / MiB),
        float64_masters_mib=round(masters / MiB), bank_mib=round(bank / MiB),
        first_s=round(first_s, 2), hwm_after_first_mib=round(first_hwm / MiB),
        second_s=round(second_s, 2), hwm_mib=round((status("VmHWM") - base) / MiB),
        out_shape=list(y.shape))))


if __name__ == "__main__":
    main(int(sys.argv[1]))
