"""Panel layouts and command-line entry points of the three teaching demos.

``apps/demo_*.py`` call these: served with ``panel serve apps/demo_reconstruction.py`` they
show the Panel layout; run as ``python apps/demo_reconstruction.py`` they compute in the
terminal with a progress bar and write a PNG.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

__all__ = ["reconstruction_app", "digits_app", "why_jtfs_app", "main_reconstruction",
           "main_digits", "main_why_jtfs"]

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


def reconstruction_app():
    """Run button, live loss curve, original and reconstruction (waveform, spectrogram,
    audio)."""
    import panel as pn

    from scatviz.demos.reconstruction import KYMATIO_EXAMPLE, reconstruction_figure

    iters = pn.widgets.IntSlider(name="iterations", start=20, end=400, step=20,
                                 value=KYMATIO_EXAMPLE["n_iterations"])
    lr = pn.widgets.FloatInput(name="Adam learning rate", value=0.1, step=0.05, start=1e-3)
    use_jtfs = pn.widgets.Checkbox(name="reconstruct from JTFS instead of Scattering1D")
    run = pn.widgets.Button(name="Reconstruct", button_type="primary")
    progress = pn.indicators.Progress(value=0, max=iters.value, sizing_mode="stretch_width")
    status = pn.pane.Markdown("Press *Reconstruct*: Kymatio's example signal "
                              "(blips, N = 8192) from `Scattering1D(J=6, Q=16)`.")
    curve = pn.pane.Matplotlib(None, tight=True, sizing_mode="stretch_width", height=220)
    result = pn.Column(sizing_mode="stretch_width")

    def loss_fig(hist):
        from matplotlib.figure import Figure
        fig = Figure(figsize=(8, 2.2), dpi=90)
        ax = fig.add_subplot(1, 1, 1)
        ax.semilogy(hist, color="k")
        ax.set_xlabel("iteration")
        ax.set_ylabel("||S x - S y||")
        ax.grid(alpha=0.3)
        return fig

    def go(event=None):
        hist: list[float] = []
        progress.max = iters.value
        run.disabled = True

        def cb(k, loss):
            hist.append(loss)
            progress.value = k + 1
            if k % 10 == 0 or k == iters.value - 1:
                curve.object = loss_fig(hist)
                status.object = f"iteration {k + 1}/{iters.value}: loss {loss:.4g}"

        try:
            x, res = _recon_run(use_jtfs.value, iters.value, lr.value, callback=cb)
            name = "JTFS" if use_jtfs.value else "Scattering1D"
            curve.object = loss_fig(res.history)
            status.object = (f"**Final loss {res.final_loss:.4g}** ({name}, "
                             f"{len(res.history)} Adam iterations).")
            result.objects = [
                pn.pane.Matplotlib(reconstruction_figure(x, {name: res}), tight=True,
                                   sizing_mode="stretch_width"),
                pn.Row(pn.Column("original", pn.pane.Audio(x, sample_rate=AUDIO_RATE)),
                       pn.Column("reconstruction",
                                 pn.pane.Audio(res.y, sample_rate=AUDIO_RATE))),
            ]
        except Exception as exc:     # shown, never raised into the server
            status.object = f"Reconstruction failed: {exc}"
        finally:
            run.disabled = False

    run.on_click(go)
    return pn.Column("# Reconstruction from scattering coefficients",
                     pn.Row(iters, lr, use_jtfs, run), progress, status, curve, result,
                     sizing_mode="stretch_width")


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

def digits_app():
    """Run button (minutes), accuracy and confusion matrix; optionally JTFS features."""
    import panel as pn

    from scatviz.demos.digits import confusion_figure, run_digits

    use_jtfs = pn.widgets.Checkbox(name="also JTFS features (slower: about 4x)")
    run = pn.widgets.Button(name="Train and test", button_type="primary")
    status = pn.pane.Markdown(
        "Free Spoken Digit Dataset (3000 recordings, 8 kHz), official split (takes 0-4 "
        "test). Features: log-scattering `Scattering1D(J=8, Q=12, N=8192)`, orders 1-2, "
        "4-segment means + std over time; standardised; logistic regression. "
        "Press *Train and test* (a few minutes).")
    spinner = pn.indicators.LoadingSpinner(value=False, size=30)
    out = pn.Row(sizing_mode="stretch_width")

    def go(event=None):
        spinner.value, run.disabled = True, True
        try:
            names = ("scattering", "jtfs") if use_jtfs.value else ("scattering",)
            res = run_digits(transforms=names, progress=False)
            lines = [f"- **{n}**: {res.accuracy[n]:.2%} test accuracy, "
                     f"{res.n_features[n]} features, {res.seconds[n]:.0f} s" for n in names]
            status.object = (f"{res.n_train} training, {res.n_test} test recordings\n\n"
                             + "\n".join(lines))
            out.objects = [pn.pane.Matplotlib(confusion_figure(res, n), tight=True, width=420)
                           for n in names]
        except Exception as exc:
            status.object = f"Failed: {exc}"
        finally:
            spinner.value, run.disabled = False, False

    run.on_click(go)
    return pn.Column("# Spoken digits from scattering features", pn.Row(use_jtfs, run,
                                                                        spinner),
                     status, out, sizing_mode="stretch_width")


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


def why_jtfs_app():
    import panel as pn

    from scatviz.demos.why_jtfs import run_why_jtfs, why_jtfs_figure

    body = pn.Column(pn.indicators.LoadingSpinner(value=True, size=30),
                     sizing_mode="stretch_width")

    def load():
        try:
            res = run_why_jtfs()
            body.objects = [pn.pane.Markdown(_why_markdown(res)),
                            pn.pane.Matplotlib(why_jtfs_figure(res), tight=True,
                                               sizing_mode="stretch_width")]
        except Exception as exc:
            body.objects = [pn.pane.Alert(str(exc), alert_type="danger")]

    pn.state.onload(load)
    return pn.Column("# Why JTFS", pn.pane.Markdown(
        "Time scattering with global averaging gives *identical* coefficients for a rising "
        "and a falling chirp, and nearly identical ones for partials shifted in time by "
        "frequency; JTFS's spins tell them apart."), body, sizing_mode="stretch_width")


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
