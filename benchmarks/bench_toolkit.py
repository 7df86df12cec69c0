"""Numbers for benchmarks/RESULTS.md: reconstruction vs Kymatio's example, FSDD
accuracy (Scattering1D and JTFS features), filter bank validation summaries.

    .venv/bin/python benchmarks/bench_toolkit.py [--skip-digits] [--skip-jtfs] > out.json

Kymatio's example loop also runs with Kymatio itself when ``.venv-kymatio`` (any installed
Kymatio version) exists beside ``.venv``; its coefficients may be scaled differently (Kymatio
0.3.0 averages periodised filters, main sums them), so compare relative losses
``||S x - S y|| / ||S x||`` across versions, absolute ones within one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KYMATIO_SNIPPET = r"""
import importlib.util, json, sys, time, torch
torch.set_num_threads(2)
def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec); sys.modules[name] = mod
    spec.loader.exec_module(mod); return mod
root = sys.argv[1]
recon = load("recon", root + "/scatviz/demos/reconstruction.py")
sg = load("sg", root + "/engine/signals.py")
import kymatio
from kymatio.torch import Scattering1D
x = torch.from_numpy(sg.blips(2**13))
S = Scattering1D(6, 2**13, 16)
t = time.perf_counter()
r = recon.kymatio_example_descent(S, x)
n = float(torch.norm(S(x)))
print(json.dumps(dict(version=kymatio.__version__, final=r.final_loss, norm_Sx=n,
                      relative=r.final_loss / n, seconds=time.perf_counter() - t)))
"""


def reconstruction(jtfs: bool) -> dict:
    from scatviz.demos import reconstruction as rc

    out = {}
    x, S = rc.example_setup()
    norm = float(torch.norm(S(x)))
    t = time.perf_counter()
    ex = rc.kymatio_example_descent(S, x)
    out["example_loop_this_engine"] = dict(final=ex.final_loss, relative=ex.final_loss / norm,
                                           seconds=time.perf_counter() - t)
    t = time.perf_counter()
    ad = rc.reconstruct(x, S, n_iterations=200, lr=0.1)
    first_below = next((k for k, h in enumerate(ad.history) if h <= ex.final_loss), None)
    out["adam_this_engine"] = dict(final=ad.final_loss, relative=ad.final_loss / norm,
                                   seconds=time.perf_counter() - t,
                                   first_iteration_below_example=first_below)
    out["norm_Sx_this_engine"] = norm
    kenv = ROOT / ".venv-kymatio" / "bin" / "python"
    if kenv.exists():
        res = subprocess.run([str(kenv), "-c", KYMATIO_SNIPPET, str(ROOT)], capture_output=True,
                             text=True)
        out["example_loop_kymatio"] = (json.loads(res.stdout.strip().splitlines()[-1])
                                       if res.returncode == 0 else res.stderr[-2000:])
    if jtfs:
        xj, JT = rc.example_setup(jtfs=True)
        JT.out_type = "pairs"
        t = time.perf_counter()
        rj = rc.reconstruct(xj, JT, n_iterations=200, lr=0.1)
        with torch.no_grad():
            nj = float(torch.cat([v.reshape(-1) for v in JT(xj).values()]).norm())
        with torch.no_grad():
            Sy = S(torch.from_numpy(rj.y))
        out["adam_jtfs"] = dict(final=rj.final_loss, relative=rj.final_loss / nj,
                                seconds=time.perf_counter() - t,
                                scattering_loss_of_jtfs_reconstruction=float(
                                    torch.norm(S(x) - Sy)))
    return out


def digits(jtfs: bool) -> dict:
    from scatviz.demos.digits import run_digits

    names = ("scattering", "jtfs") if jtfs else ("scattering",)
    r = run_digits(transforms=names, progress=False)
    return {n: dict(accuracy=r.accuracy[n], correct=int(round(r.accuracy[n] * r.n_test)),
                    n_test=r.n_test, n_features=r.n_features[n], seconds=r.seconds[n],
                    confusion=r.confusion[n].tolist()) for n in names}


def validation() -> dict:
    from scatviz.report import validate_designs

    out = {}
    for J, Q, N in ((6, 16, 8192), (8, 12, 8192)):
        for design, rep in validate_designs(J, Q, N):
            if isinstance(rep, str):
                continue
            out[f"J={J},Q={Q},N={N},{design}"] = {
                f"{f.family}.{f.check}": [f.severity, f.value, f.filters[:8]]
                for f in rep.findings}
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--skip-digits", action="store_true")
    p.add_argument("--skip-jtfs", action="store_true")
    p.add_argument("--skip-reconstruction", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(2)
    res = {"torch_threads": torch.get_num_threads()}
    res["validation"] = validation()
    if not args.skip_reconstruction:
        res["reconstruction"] = reconstruction(not args.skip_jtfs)
    if not args.skip_digits:
        res["digits"] = digits(not args.skip_jtfs)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
