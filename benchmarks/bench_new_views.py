"""The cost of the collapsed cards' views when open: each view's ``_update`` alone, in-process,
on the bundled exponential chirp (N=8192 at 8 kHz, J=6, J_fr=3, F=1), for three new settings
(Q1 = 9, 10, 8) and then six settings seen before (the transforms and the views' own caches
warm).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/bench_new_views.py
"""

from __future__ import annotations

import time

import numpy as np

from scatviz.signals_io import load_asset
from scatviz.state import ScatState
from scatviz.views.base import ViewContext
from scatviz.views.energy_profile import EnergyProfileView
from scatviz.views.fb_heatmap import FilterBankHeatmapView
from scatviz.views.joint_wavelets import JointWaveletsView
from scatviz.views.scattering2 import Scattering2View


def main() -> None:
    st = ScatState.from_loaded(load_asset("chirp_exp"), J=6, Q1=8, J_fr=3, F=1)
    ctx = ViewContext(st.duration)
    # inactive: the state's watchers do not draw them; each is timed below, alone
    views = {c.__name__: c(st, context=ctx, active=False)
             for c in (JointWaveletsView, Scattering2View, FilterBankHeatmapView,
                       EnergyProfileView)}
    times: dict[str, list[float]] = {}
    for q in (9, 10, 8) * 3:
        st.Q1 = q
        res = st.result
        for name, v in views.items():
            v._jt, v._scat = None, None                  # forget what was drawn
            v._drawn = {} if isinstance(v, FilterBankHeatmapView) else None
            t0 = time.perf_counter()
            v._update(res)
            times.setdefault(name, []).append(time.perf_counter() - t0)
    for name, ts in times.items():
        print(f"{name}: new settings {np.round(ts[:3], 4).tolist()} s; seen before: median "
              f"{np.median(ts[3:]):.4f} s")


if __name__ == "__main__":
    main()
