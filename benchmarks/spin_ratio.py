"""Do the spins tell a rising chirp from a falling one? scatviz's JTFS (both filter banks) and,
optionally, Kymatio main's, on the same signals.

The measure: the energy of the order-2 paths of spin +1 over that of spin -1, for
``linear_chirp(4096, 0.01, 0.45)`` and the same chirp reversed in time, with N=4096, J=6, Q=8,
J_fr=4, Q_fr=1, F=1. A transform whose spins separate directions gives a ratio far above 1 for
one and far below 1 for the other.

Usage (from the repository root)::

    .venv/bin/python benchmarks/spin_ratio.py [KYMATIO_SOURCE_TREE]

``KYMATIO_SOURCE_TREE`` is a checkout of Kymatio main (its folder holding ``kymatio/``); Kymatio
0.3 on PyPI has no JTFS. The figures are in the README ("What the swap changes in JTFS").
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from engine.jtfs import TimeFrequencyScattering
from engine.signals import linear_chirp

SETTING = dict(J=6, J_fr=4, Q=8, shape=4096, Q_fr=1, F=1)


def spin_ratios(paths, is_order2) -> np.ndarray:
    """``E(spin +1) / E(spin -1)`` per signal over Kymatio-style path dicts."""
    energy = {s: sum(p["coef"].double().pow(2).flatten(1).sum(1) for p in paths
                     if is_order2(p) and p["spin"] == s) for s in (1, -1)}
    return (energy[1] / energy[-1]).numpy()


def main() -> None:
    x = linear_chirp(4096, 0.01, 0.45).astype(np.float32)
    X = torch.from_numpy(np.stack([x, x[::-1].copy()]))
    with torch.no_grad():
        for fb in ("tight", "kymatio"):
            paths = TimeFrequencyScattering(**SETTING, filterbank=fb, out_type="list")(X)
            r = spin_ratios(paths, lambda p: p["order"] == 2)
            print(f"scatviz {fb:8s}: rising up/down = {r[0]:.3g}, falling up/down = {r[1]:.3g}")
        if len(sys.argv) > 1:
            sys.path.insert(0, sys.argv[1])
            from kymatio.torch import TimeFrequencyScattering as Kymatio

            paths = Kymatio(**SETTING, out_type="list")(X)
            r = spin_ratios(paths, lambda p: len(p["n"]) == 3)
            print(f"Kymatio main    : rising up/down = {r[0]:.3g}, falling up/down = {r[1]:.3g}")


if __name__ == "__main__":
    main()
