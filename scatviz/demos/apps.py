"""Command-line entry points of the three teaching demos, and their served pages.

Served, the demos are pages of the one app (``scatviz serve``: ``/why_jtfs``,
``/reconstruction``, ``/digits``; `page_class` gives each page's class, in
``scatviz.demos.ui_*``). Run as ``python apps/demo_reconstruction.py`` they compute in the
terminal with a progress bar and write a PNG (`main_reconstruction`, `main_digits`,
`main_why_jtfs`). The web stack is imported only by the pages.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import numpy as np

__all__ = ["page_class", "serve_page", "main_reconstruction", "main_digits",
           "main_why_jtfs"]

#: slug -> (module, class) of each demo's page.
PAGE_CLASSES = {"why_jtfs": ("scatviz.demos.ui_why_jtfs", "WhyJTFSPage"),
                "reconstruction": ("scatviz.demos.ui_reconstruction", "ReconstructionPage"),
                "digits": ("scatviz.demos.ui_digits", "DigitsPage")}


def page_class(slug: str):
    """The `scatviz.demos.ui_base.DemoPage` subclass of demo ``slug``."""
    if slug not in PAGE_CLASSES:
        raise ValueError(f"No demo page {slug!r}; the demos are {list(PAGE_CLASSES)}.")
    module, name = PAGE_CLASSES[slug]
    return getattr(importlib.import_module(module), name)


def serve_page(slug: str):
    """Serve demo ``slug`` in the current Panel document, themed by the URL
    (``?theme=dark``): what ``apps/<slug>.py`` does."""
    import panel as pn

    page = page_class(slug).from_query(pn.state.session_args)
    page.servable()
    return page


AUDIO_RATE = 8000    # Hz at which the reconstruction demo plays its (unitless) signal


# --------------------------------------------------------------------------------------------
# Reconstruction
# --------------------------------------------------------------------------------------------

def _recon_run(jtfs: bool, n_iterations: int, lr: float, callback=None, progress=False):
    from scatviz.demos.reconstruction import example_setup, reconstruct

    x, transform = example_setup(jtfs=jtfs)
    if jtfs:
        transform.out_type = "pairs"
    return x.numpy(), reconstruct(x, transform, n_iterations=n_iterations, lr=lr,
                                  callback=callback, progress=progress)


def main_reconstruction(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Reconstruct Kymatio's example signal from its "
                                            "scattering (or JTFS) coefficients.")
    p.add_argument("--iterations", type=int, default=200, help="Adam iterations (200)")
    p.add_argument("--lr", type=float, default=0.1, help="Adam learning rate (0.1)")
    p.add_argument("--jtfs", action="store_true", help="also reconstruct from JTFS")
    p.add_argument("-o", "--output", default="reconstruction.png", help="figure to write")
    p.add_argument("--wav", default=None, help="also write original and reconstruction "
                                               "to PREFIX_original.wav, PREFIX_<name>.wav")
    args = p.parse_args(argv)
    from scatviz.demos.reconstruction import reconstruction_figure
    results = {}
    for jtfs in ([False, True] if args.jtfs else [False]):
        name = "JTFS" if jtfs else "Scattering1D"
        x, res = _recon_run(jtfs, args.iterations, args.lr, progress=True)
        results[name] = res
        print(f"{name}: final loss {res.final_loss:.4g} after {len(res.history)} iterations")
    reconstruction_figure(x, results).savefig(args.output)
    print(f"wrote {args.output}")
    if args.wav:
        import soundfile as sf
        sf.write(f"{args.wav}_original.wav", x, AUDIO_RATE)
        for name, res in results.items():
            sf.write(f"{args.wav}_{name}.wav", res.y / max(1e-9, np.abs(res.y).max()),
                     AUDIO_RATE)
    return 0


# --------------------------------------------------------------------------------------------
# Spoken digits
# --------------------------------------------------------------------------------------------

def main_digits(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Classify the FSDD from log-scattering features.")
    p.add_argument("--path", default=None, help="FSDD folder (default: found or downloaded, "
                                                "see engine.datasets.fetch_fsdd)")
    p.add_argument("--jtfs", action="store_true", help="also JTFS features")
    p.add_argument("-o", "--output", default="digits_confusion.png", help="figure to write")
    args = p.parse_args(argv)
    from scatviz.demos.digits import confusion_figure, run_digits
    names = ("scattering", "jtfs") if args.jtfs else ("scattering",)
    res = run_digits(args.path, transforms=names, progress=True)
    for n in names:
        print(f"{n}: test accuracy {res.accuracy[n]:.4f} "
              f"({round(res.accuracy[n] * res.n_test)}/{res.n_test}), {res.n_features[n]} "
              f"features, {res.seconds[n]:.0f} s")
        print(res.confusion[n])
    confusion_figure(res, names[-1]).savefig(args.output)
    print(f"wrote {args.output}")
    return 0


# --------------------------------------------------------------------------------------------
# Why JTFS
# --------------------------------------------------------------------------------------------

def _why_markdown(res) -> str:
    rows = ["| pair | time scattering | JTFS (spinned) | JTFS (all) |", "|---|---|---|---|"]
    for name, d in res.distances.items():
        rows.append(f"| {name} | {d['time scattering']:.3g} | {d['JTFS (spinned pairs)']:.3g}"
                    f" | {d['JTFS (all)']:.3g} |")
    spins = ", ".join(f"{k}: up/down = {u / d:.3g}" if d > 0 else f"{k}: up only"
                      for k, (u, d) in res.spins.items())
    return "Relative distances (0: identical coefficients)\n\n" + "\n".join(rows) + \
        f"\n\nSpins: {spins}"


def main_why_jtfs(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Signals time scattering cannot tell apart, and "
                                            "JTFS can.")
    p.add_argument("-o", "--output", default="why_jtfs.png", help="figure to write")
    args = p.parse_args(argv)
    from tqdm.auto import tqdm

    from scatviz.demos.why_jtfs import run_why_jtfs, why_jtfs_figure
    with tqdm(total=2, desc="why JTFS") as bar:
        res = run_why_jtfs()
        bar.update()
        why_jtfs_figure(res).savefig(args.output)
        bar.update()
    print(_why_markdown(res))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":      # pragma: no cover
    sys.exit(main_why_jtfs())
