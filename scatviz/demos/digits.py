"""Spoken digits (FSDD) classified from log-scattering features with a linear classifier.

Recipe (Kymatio's classic example, made a little stronger, with J=8, Q=12, N=8192 kept):

1. every recording (8 kHz) fitted to ``N = 8192`` samples: centre zero-padding, or the middle
   8192 samples of the (few) longer ones (`engine.datasets.fit_length`);
2. ``Scattering1D(J=8, shape=8192, Q=12)`` (T = 256: 32 time frames); orders 1 and 2;
3. ``log(S + eps)`` with ``eps = 1e-4`` (the recordings are in [-1, 1]; negative values,
   which the tight design's averaging can produce, are clipped to 0 first);
4. time pooling: the mean over 4 equal segments (a coarse temporal envelope: the utterances
   are centred) and the standard deviation over all frames, per channel;
5. standardisation with the training set's mean and standard deviation;
6. multinomial logistic regression (a linear layer, L-BFGS, L2 weight ``1e-3``), official
   split: recordings ``index`` 0-4 are the test set.

The JTFS variant swaps step 2 for ``TimeFrequencyScattering(J=8, J_fr=4, Q=12, shape=8192)``
(format "time": every joint channel) and keeps the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["EPS", "N_SEGMENTS", "scatter_batches", "pool_features", "fit_linear",
           "DigitsResult", "run_digits", "confusion_figure"]

EPS = 1e-4
N_SEGMENTS = 4


def scatter_batches(x: np.ndarray, module: torch.nn.Module, batch_size: int = 100,
                    progress: bool = False, desc: str = "scattering",
                    callback=None) -> np.ndarray:
    """``module`` applied to the rows of ``x`` ``(n, N)`` in batches, float32
    ``(n, C, L)`` numpy. ``callback(rows done, n)`` after each batch (it may raise to
    stop)."""
    from tqdm.auto import tqdm

    out = []
    with torch.no_grad():
        for a in tqdm(range(0, len(x), batch_size), disable=not progress, desc=desc,
                      unit="batch"):
            out.append(module(torch.from_numpy(np.ascontiguousarray(x[a:a + batch_size])))
                       .float().numpy())
            if callback is not None:
                callback(min(a + batch_size, len(x)), len(x))
    return np.concatenate(out)


def pool_features(S: np.ndarray, eps: float = EPS, n_segments: int = N_SEGMENTS
                  ) -> np.ndarray:
    """``log(max(S, 0) + eps)`` ``(n, C, L)`` pooled to ``(n, C (n_segments + 1))``: segment
    means, then the standard deviation over time.

    The clip matters for the ``"tight"`` design (JTFS's default): its compactly supported
    low-passes have small negative side lobes in time, so an averaged modulus can dip a
    little below zero."""
    L = np.log(np.maximum(S.astype(np.float64), 0.0) + eps)
    n, C, T = L.shape
    cuts = np.linspace(0, T, n_segments + 1).round().astype(int)
    means = [L[..., a:b].mean(-1) for a, b in zip(cuts[:-1], cuts[1:])]
    return np.concatenate(means + [L.std(-1)], axis=1)


@dataclass
class LinearModel:
    mean: np.ndarray
    std: np.ndarray
    W: np.ndarray
    b: np.ndarray

    def predict(self, F: np.ndarray) -> np.ndarray:
        Z = (F - self.mean) / self.std
        return np.argmax(Z @ self.W + self.b, axis=1)


def fit_linear(F: np.ndarray, y: np.ndarray, weight_decay: float = 1e-3, tol: float = 1e-6,
               max_iter: int = 5000, n_classes: int | None = None) -> LinearModel:
    """Multinomial logistic regression on standardised features: the mean cross-entropy plus
    ``weight_decay * ||W||^2``, full-batch L-BFGS from zero, float64, run until every entry
    of the gradient is at most ``tol`` (the objective is strictly convex: one minimum, so the
    result does not depend on how many steps were taken; on the FSDD's 2700 x 1680 features
    that is ~700 iterations). A fit still short of ``tol`` after ``max_iter`` iterations warns."""
    mean, std = F.mean(0), F.std(0) + 1e-8
    Z = torch.from_numpy((F - mean) / std)
    t = torch.from_numpy(np.asarray(y, dtype=np.int64))
    K = int(n_classes or (t.max().item() + 1))
    W = torch.zeros(Z.shape[1], K, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(K, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=max_iter, max_eval=2 * max_iter,
                            line_search_fn="strong_wolfe", tolerance_grad=tol,
                            tolerance_change=1e-15, history_size=20)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(Z @ W + b, t) + weight_decay * (W**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    closure()
    worst = max(W.grad.abs().max().item(), b.grad.abs().max().item())
    if worst > tol:
        import warnings
        warnings.warn(f"fit_linear stopped after {max_iter} iterations with a gradient entry "
                      f"of {worst:.1e} (> tol={tol:g}): the fit has not converged; raise "
                      f"max_iter or weight_decay.", RuntimeWarning, stacklevel=2)
    return LinearModel(mean, std, W.detach().numpy(), b.detach().numpy())


@dataclass
class DigitsResult:
    """Test accuracy and confusion matrix (rows: true digit, columns: predicted) per
    feature set, with the feature dimensions and timings (s); ``predictions[name]`` the
    predicted digit of each test recording, ``test_files`` their paths and ``test_digits``
    their true digits (in one order), ``sample_rate`` Hz."""

    accuracy: dict
    confusion: dict
    n_features: dict
    seconds: dict
    n_train: int
    n_test: int
    predictions: dict = field(default_factory=dict)
    test_files: list = field(default_factory=list)
    test_digits: np.ndarray | None = None
    sample_rate: int = 8000

    def recordings(self, true: int, predicted: int, name: str = "scattering") -> list[str]:
        """The test recordings of digit ``true`` classified as ``predicted`` (paths)."""
        pred = self.predictions[name]
        return [f for f, t, p in zip(self.test_files, self.test_digits, pred)
                if t == true and p == predicted]


def _confusion(y, p, K=10):
    M = np.zeros((K, K), int)
    np.add.at(M, (y, p), 1)
    return M


def run_digits(path=None, transforms=("scattering",), J: int = 8, Q: int = 12, N: int = 8192,
               J_fr: int = 4, progress: bool = True, limit: int | None = None,
               callback=None) -> DigitsResult:
    """The whole demo: load the FSDD (`engine.datasets.load_fsdd`), compute features per
    transform (``"scattering"`` and/or ``"jtfs"``), fit on the official training split,
    score on its test split.

    ``callback(done, total, message)`` reports the recordings scattered (all transforms
    together); it may raise to stop the run (`scatviz.demos.jobs.Stopped`)."""
    import time

    from engine import Scattering1D
    from engine.datasets import load_fsdd

    data = load_fsdd(path, N=N, limit=limit)
    train, test = data.train, data.test
    acc, conf, dims, secs, preds = {}, {}, {}, {}, {}
    n, total = len(data.x), len(data.x) * len(transforms)
    for i, name in enumerate(transforms):
        t0 = time.perf_counter()
        if name == "scattering":
            module = Scattering1D(J, N, Q)
            keep = module.meta()["order"] > 0
        elif name == "jtfs":
            from engine.jtfs import TimeFrequencyScattering
            module = TimeFrequencyScattering(J, J_fr, Q, N)
            keep = module.meta()["pair"] != "S0"
        else:
            raise ValueError(f"Unknown transform {name!r}; use 'scattering' or 'jtfs'.")
        report = None
        if callback is not None:
            def report(done, _n, i=i, name=name):
                callback(i * n + done, total, f"{name} features: {done}/{n} recordings")
        S = scatter_batches(data.x, module, progress=progress, desc=f"{name} features",
                            callback=report)[:, keep]
        F = pool_features(S)
        model = fit_linear(F[train], data.digit[train], n_classes=10)
        pred = model.predict(F[test])
        preds[name] = pred
        acc[name] = float((pred == data.digit[test]).mean())
        conf[name] = _confusion(data.digit[test], pred)
        dims[name] = F.shape[1]
        secs[name] = time.perf_counter() - t0
    files = [str(f) for f, t in zip(data.files, test) if t]
    return DigitsResult(acc, conf, dims, secs, int(train.sum()), int(test.sum()), preds,
                        files, data.digit[test], int(data.sample_rate))


def confusion_figure(result: DigitsResult, name: str = "scattering"):
    """Matplotlib figure of the confusion matrix of ``name``."""
    from matplotlib.figure import Figure

    M = result.confusion[name]
    fig = Figure(figsize=(4.6, 4.0), dpi=100, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(M, cmap="Blues")
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            if M[i, j]:
                ax.text(j, i, str(M[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if M[i, j] > M.max() / 2 else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(f"{name}: test accuracy {result.accuracy[name]:.1%}", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig
