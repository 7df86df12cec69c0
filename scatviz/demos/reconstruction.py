"""Reconstruction of a signal from its scattering (or JTFS) coefficients by gradient descent.

The target is Kymatio's classic example (``examples/1d/reconstruct_torch.py``): the harmonic
"blips" signal (`engine.signals.blips`, ``N = 2**13``), ``Scattering1D(J=6, shape=2**13,
Q=16)``, a Gaussian random start (``torch.manual_seed(0)``), the loss
``||S x - S y||`` (``torch.norm``), 200 iterations of gradient descent with a "bold driver"
step (learning rate 100, times 1.1 after a step that lowered the loss, times 0.55 and the step
undone after one that raised it). `kymatio_example_descent` reproduces that loop exactly.

The demo's own optimiser (`reconstruct`) is Adam (learning rate 0.1) on the same loss and
start; it reaches a lower loss in the same 200 iterations (numbers in
``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["KYMATIO_EXAMPLE", "KYMATIO_EXAMPLE_FINAL_LOSS", "kymatio_example_descent",
           "reconstruct", "ReconResult", "example_setup", "reconstruction_figure",
           "TRANSFORMS", "SAMPLE_RATE", "run_reconstructions"]

#: The transforms the page reconstructs from, in order.
TRANSFORMS = ("Scattering1D", "JTFS")
#: Hz at which the page plays and labels the (unitless) example signal: N = 8192 is 1.024 s.
SAMPLE_RATE = 8000.0

#: The setting of Kymatio's example.
KYMATIO_EXAMPLE = dict(N=2**13, J=6, Q=16, n_iterations=200, learning_rate=100.0,
                       accelerate=1.1, brake=0.55, seed=0)

#: Final loss of Kymatio's example loop (`kymatio_example_descent`, 200 iterations) on this
#: engine, whose Scattering1D matches Kymatio main's numbers; measured by
#: ``benchmarks/bench_toolkit.py`` (see ``benchmarks/RESULTS.md``). The demo's optimiser
#: must end at or below it.
KYMATIO_EXAMPLE_FINAL_LOSS = 0.4074


@dataclass
class ReconResult:
    """``y`` the reconstruction ``(N,)`` float32, ``history`` the loss per iteration (before
    that iteration's step), ``final_loss`` the loss of ``y``."""

    y: np.ndarray
    history: list[float]
    final_loss: float
    extra: dict = field(default_factory=dict)


def example_setup(jtfs: bool = False, N: int = KYMATIO_EXAMPLE["N"]):
    """``(x, transform)``: the example's signal (float32 tensor) and its transform
    (``Scattering1D(6, N, 16)``, or ``TimeFrequencyScattering(6, 3, 16, N)`` with
    ``jtfs=True``)."""
    from engine import Scattering1D
    from engine.signals import blips

    x = torch.from_numpy(blips(N))
    if jtfs:
        from engine.jtfs import TimeFrequencyScattering
        return x, TimeFrequencyScattering(KYMATIO_EXAMPLE["J"], 3, KYMATIO_EXAMPLE["Q"], N)
    return x, Scattering1D(KYMATIO_EXAMPLE["J"], N, KYMATIO_EXAMPLE["Q"])


def kymatio_example_descent(scattering: Callable, x: torch.Tensor, n_iterations: int = 200,
                            learning_rate: float = 100.0, accelerate: float = 1.1,
                            brake: float = 0.55, seed: int = 0,
                            callback: Callable | None = None) -> ReconResult:
    """Kymatio's example loop, step for step (any ``scattering`` callable: this engine's or
    Kymatio's own). ``history[k]`` is the loss at the start of iteration ``k``; ``final_loss``
    the loss of the returned ``y`` (the last accepted iterate)."""
    Sx = scattering(x)
    torch.manual_seed(seed)
    y = torch.randn(x.shape, dtype=x.dtype, requires_grad=True)
    Sy = scattering(y)
    history: list[float] = []
    for k in range(n_iterations):
        err = torch.norm(Sx - Sy)
        history.append(float(err.detach()))
        err.backward()
        delta_y = y.grad
        with torch.no_grad():
            new_y = y - learning_rate * delta_y
        new_y.requires_grad = True
        Sy = scattering(new_y)
        if history[k] > history[k - 1]:
            learning_rate *= brake
        else:
            learning_rate *= accelerate
            y = new_y
        if callback is not None:
            callback(k, history[k])
    with torch.no_grad():
        final = float(torch.norm(Sx - scattering(y.detach())))
    return ReconResult(y.detach().numpy().astype(np.float32), history, final)


def reconstruct(x, transform: Callable, n_iterations: int = 200, lr: float = 0.1,
                seed: int = 0, target: float | None = None, callback: Callable | None = None,
                progress: bool = False) -> ReconResult:
    """Recover a signal from ``transform(x)`` by Adam on ``||transform(x) - transform(y)||``,
    starting from Gaussian noise (``torch.manual_seed(seed)``), as the example does.

    ``callback(k, loss)`` after each iteration (a live loss curve); ``target`` stops early
    once the loss is at or below it. Works for any differentiable transform whose output is
    a tensor or a dict of tensors (JTFS ``out_type="pairs"``).
    """
    from tqdm.auto import tqdm

    x = torch.as_tensor(x)

    def flat(out):
        if isinstance(out, dict):
            return torch.cat([v.reshape(-1) for v in out.values()])
        return out.reshape(-1)

    with torch.no_grad():
        Sx = flat(transform(x))
    torch.manual_seed(seed)
    y = torch.randn(x.shape, dtype=x.dtype, requires_grad=True)
    opt = torch.optim.Adam([y], lr=lr)
    history: list[float] = []
    bar = tqdm(range(n_iterations), disable=not progress, desc="reconstruction", unit="it")
    for k in bar:
        opt.zero_grad()
        loss = torch.norm(Sx - flat(transform(y)))
        loss.backward()
        history.append(float(loss.detach()))
        if callback is not None:
            callback(k, history[-1])
        if progress:
            bar.set_postfix(loss=f"{history[-1]:.4f}")
        if target is not None and history[-1] <= target:
            break
        opt.step()
    with torch.no_grad():
        final = float(torch.norm(Sx - flat(transform(y))))
    bar.close()
    return ReconResult(y.detach().numpy().astype(np.float32), history, final)


def reconstruction_figure(x: np.ndarray, results: dict, sample_rate: float = 1024.0):
    """Loss curves, then original and reconstructions with their spectrograms (matplotlib,
    ``specgram`` at ``Fs = sample_rate`` as the example draws them)."""
    from matplotlib.figure import Figure

    n = 1 + len(results)
    fig = Figure(figsize=(10, 2.4 + 2.2 * n), dpi=90, layout="constrained")
    grid = fig.add_gridspec(n + 1, 2)
    ax = fig.add_subplot(grid[0, :])
    for name, r in results.items():
        ax.semilogy(r.history, label=f"{name} (final {r.final_loss:.3g})")
    ax.set_xlabel("iteration")
    ax.set_ylabel("||S x - S y||")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    rows = [("original", np.asarray(x))] + [(k, r.y) for k, r in results.items()]
    for i, (name, sig) in enumerate(rows, start=1):
        a = fig.add_subplot(grid[i, 0])
        a.plot(sig, lw=0.4, color="k")
        a.set_title(name, fontsize=9)
        b = fig.add_subplot(grid[i, 1])
        b.specgram(sig, Fs=sample_rate, NFFT=256, noverlap=192, cmap="magma")
        b.set_title(f"{name}: spectrogram", fontsize=9)
    return fig


def run_reconstructions(transforms=TRANSFORMS, n_iterations: int = 200, lr: float = 0.1,
                        N: int = KYMATIO_EXAMPLE["N"], progress: Callable | None = None
                        ) -> dict:
    """The page's run: Kymatio's example signal (``N`` samples) reconstructed by Adam
    (`reconstruct`) from each of ``transforms`` ("Scattering1D", "JTFS"), one after the
    other.

    ``progress(done, total, message, partial)`` after each iteration, ``partial`` the loss
    histories so far ``{name: [loss, ...]}`` (a live curve); it may raise to stop the run
    (`scatviz.demos.jobs.Stopped`). Returns ``{"x": (N,) float32, "sample_rate": Hz,
    "results": {name: ReconResult}, "setting": {...}}``."""
    unknown = [t for t in transforms if t not in TRANSFORMS]
    if unknown or not transforms:
        raise ValueError(f"transforms must be some of {TRANSFORMS}; got {list(transforms)}.")
    total = n_iterations * len(transforms)
    histories: dict[str, list[float]] = {t: [] for t in transforms}
    results, x = {}, None
    for i, name in enumerate(transforms):
        x, transform = example_setup(jtfs=name == "JTFS", N=N)
        if name == "JTFS":
            transform.out_type = "pairs"

        def report(k, loss, name=name, i=i):
            histories[name].append(loss)
            if progress is not None:
                progress(i * n_iterations + k + 1, total, f"{name}: iteration {k + 1}/"
                         f"{n_iterations}, loss {loss:.4g}",
                         {t: list(h) for t, h in histories.items()})

        results[name] = reconstruct(x, transform, n_iterations=n_iterations, lr=lr,
                                    callback=report)
    return {"x": x.numpy(), "sample_rate": SAMPLE_RATE, "results": results,
            "setting": dict(transforms=list(transforms), n_iterations=n_iterations, lr=lr,
                            N=N)}
