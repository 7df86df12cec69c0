"""Features for learning: JTFS pairs packed into one array per sample, and the log
contraction and standardisation of scattering features."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from engine.toolkit._arrays import _np

__all__ = ["pack_coeffs_jtfs", "sparse_mean", "normalize"]


def _as4d(c, name: str, lead: int) -> np.ndarray:
    """A pair's tensor as ``(B, n2, n1_fr, n1, t)``; ``lead`` = number of batch dims."""
    a = _np(c)
    core = a.ndim - lead
    if core == 4:
        return a.reshape((-1,) + a.shape[lead:])
    if core == 3:      # (n1_fr or n2, n1, t)
        return a.reshape((-1,) + a.shape[lead:])[:, None] if name.startswith("phi_t") else \
            a.reshape((-1,) + a.shape[lead:])[:, :, None]
    if core == 2:      # (n1, t)
        return a.reshape((-1,) + a.shape[lead:])[:, None, None]
    raise ValueError(f"Pair {name!r} has shape {a.shape}; expected (..., n2, n1_fr, n1, t), "
                     f"(..., n, n1, t) or (..., n1, t).")


def pack_coeffs_jtfs(Sx: Mapping, structure: str = "4d", batch_dims: int = 1) -> np.ndarray:
    """Pack a JTFS "dict" output into one array per sample for 3-D or 4-D convolutions.

    The joint pairs are laid on a grid of temporal scale ``n2`` (rows) by signed frequential
    scale (columns), with the first-order frequency ``n1`` and time as the last two axes:

    * rows: ``phi_t`` (the ``phi_t * phi_f`` and ``phi_t * psi_f`` pairs) first, then
      ``n2 = 0 .. n2_max - 1`` (high to low temporal modulation frequency);
    * columns: spin down ``psi_f_dn`` with ``n1_fr`` reversed (lowest quefrency next to the
      middle), then ``phi_f`` in the middle, then spin up ``psi_f_up`` in ``n1_fr`` order:
      ``2 n1_fr + 1`` columns, symmetric about ``phi_f``.
    * ``phi_t * psi_f`` carries no spin: it fills both halves of row 0, scaled by
      ``1/sqrt(2)`` so that the packed energy equals the output's.

    ``structure="4d"`` returns ``(B, n2 + 1, 2 n1_fr + 1, n1, t)`` (a 4-D convolution over the
    last four axes, or a 3-D one with ``n2 + 1`` channels); ``"3d"`` merges the first two
    grid axes into channels, ``(B, (n2 + 1) (2 n1_fr + 1), n1, t)``, for 2-D convolutions
    over ``(n1, t)`` or 3-D ones after unflattening. ``S0`` and ``S1`` are not packed.

    Parameters
    ----------
    Sx : dict
        JTFS output with ``out_type="pairs"``: pairs ``phi_t * phi_f``, ``phi_t * psi_f``,
        ``psi_t * phi_f``, ``psi_t * psi_f_up``, ``psi_t * psi_f_dn``; spinned pairs of shape
        ``(..., n2, n1_fr, n1, t)``; the others with singleton (or absent) axes where they have
        no scale.
    structure : "4d" or "3d"
    batch_dims : int
        Number of leading batch axes of every pair (default 1).
    """
    needed = ("phi_t * phi_f", "phi_t * psi_f", "psi_t * phi_f", "psi_t * psi_f_up",
              "psi_t * psi_f_dn")
    missing = [k for k in needed if k not in Sx]
    if missing:
        raise ValueError(f"pack_coeffs_jtfs needs a JTFS dict output with pairs {needed}; "
                         f"missing {missing}. Use out_type='pairs'.")
    if structure not in ("4d", "3d"):
        raise ValueError(f"structure must be '4d' or '3d'; got {structure!r}.")
    up = _as4d(Sx["psi_t * psi_f_up"], "psi_t * psi_f_up", batch_dims)
    dn = _as4d(Sx["psi_t * psi_f_dn"], "psi_t * psi_f_dn", batch_dims)
    pf = _as4d(Sx["psi_t * phi_f"], "psi_t * phi_f", batch_dims)         # (B, n2, 1, n1, t)
    tp = _as4d(Sx["phi_t * psi_f"], "phi_t * psi_f", batch_dims)         # (B, 1, n1_fr, n1, t)
    pp = _as4d(Sx["phi_t * phi_f"], "phi_t * phi_f", batch_dims)         # (B, 1, 1, n1, t)
    B, n2, n1_fr, n1, t = up.shape
    if dn.shape != up.shape:
        raise ValueError(f"Spin up {up.shape} and down {dn.shape} shapes differ.")
    for name, a, want in (("psi_t * phi_f", pf, (B, n2, 1, n1, t)),
                          ("phi_t * psi_f", tp, (B, 1, n1_fr, n1, t)),
                          ("phi_t * phi_f", pp, (B, 1, 1, n1, t))):
        if a.shape != want:
            raise ValueError(f"Pair {name!r} packs to {a.shape}; expected {want} to fit the "
                             f"spinned pairs {up.shape}. Pack outputs with aligned n1 and "
                             f"time axes (one stride for all pairs).")
    dtype = np.result_type(up, dn, pf, tp, pp)
    out = np.zeros((B, n2 + 1, 2 * n1_fr + 1, n1, t), dtype=dtype)
    mid = n1_fr
    out[:, 1:, :mid] = dn[:, :, ::-1]
    out[:, 1:, mid:mid + 1] = pf
    out[:, 1:, mid + 1:] = up
    out[:, :1, :mid] = tp[:, :, ::-1] / math.sqrt(2)
    out[:, :1, mid:mid + 1] = pp
    out[:, :1, mid + 1:] = tp / math.sqrt(2)
    if structure == "3d":
        out = out.reshape(B, (n2 + 1) * (2 * n1_fr + 1), n1, t)
    return out


def sparse_mean(x: np.ndarray, div: float = 100.0, iters: int = 4) -> float:
    """Mean of the non-negligible entries: iterate ``m = mean(x[x > m / div])``.

    A plain mean is dragged down by the many near-zero coefficients of empty bands (an extra
    octave with nothing in it halves it); this one follows the values that carry the shape.

    >>> sparse_mean(np.r_[np.ones(10), np.zeros(990)])
    1.0
    """
    x = np.abs(_np(x)).astype(np.float64).ravel()
    m = float(x.mean())
    for _ in range(iters - 1):
        sel = x[x > m / div]
        if sel.size == 0:
            break
        m = float(sel.mean())
    return m


def normalize(X, mean_axis=(1, 2), std_axis=(1, 2), C: float | None = None, mu=1.0,
              C_mult: float | None = None, log: bool = True) -> np.ndarray:
    """Log-contract and standardise scattering features for a learning algorithm.

    ``Xn = log1p(C X / mu)`` then zero mean over ``mean_axis`` and unit variance over
    ``std_axis``. ``C`` defaults to ``C_mult / sparse_mean(X / mu)`` with ``C_mult = 5``:
    the contraction is set by the typical *non-negligible* value rather than by the raw
    mean energy, so the log acts on the geometry of the representation (which paths are
    active relative to each other) and not on how loud the signal is.

    Parameters
    ----------
    X : array ``(samples, features, time)``
        Non-negative coefficients (e.g. a Scattering1D array output, or `pack_coeffs_jtfs`
        flattened to 3-D).
    mean_axis, std_axis : int, tuple or None
        Axes to centre and to scale; None skips. ``(1, 2)`` standardises each sample on its own;
        ``(0, 2)`` standardises each feature over the data set.
    C : float, optional
        Contraction; larger brings ``log1p(C x)`` closer to ``log x``.
    mu : float, "median" or array
        Divisor applied first: 1 keeps the channels' relative scale; ``"median"`` uses the
        median over samples of each feature's time sum (per-channel normalisation).
    C_mult : float, optional
        Multiplies ``C`` (default 5 when ``C`` is None, else 1).
    log : bool
        False skips the contraction (plain standardisation).

    Returns
    -------
    np.ndarray
        float64, the shape of ``X``.

    >>> Xn = normalize(np.abs(np.random.default_rng(0).normal(size=(4, 3, 16))))
    >>> bool(np.allclose(Xn.mean(axis=(1, 2)), 0))
    True
    """
    X = _np(X).astype(np.float64)
    if X.ndim != 3:
        raise ValueError(f"X must be 3-D (samples, features, time); got shape {X.shape}. "
                         f"Reshape first, e.g. X.reshape(len(X), -1, X.shape[-1]).")
    if np.any(X < 0):
        raise ValueError("X must be non-negative (moduli of coefficients); pass np.abs(X).")
    if log:
        if isinstance(mu, str):
            if mu != "median":
                raise ValueError(f"mu must be a number, an array or 'median'; got {mu!r}.")
            mu = np.median(X.sum(axis=-1, keepdims=True), axis=0, keepdims=True)
        mu = np.where(np.asarray(mu) == 0, 1.0, mu)
        Xn = X / mu
        if C_mult is None:
            C_mult = 5.0 if C is None else 1.0
        if C is None:
            sm = sparse_mean(Xn)
            C = 1.0 / sm if sm > 0 else 1.0
        Xn = np.log1p(Xn * C * C_mult)
    else:
        Xn = X
    if mean_axis is not None:
        Xn = Xn - Xn.mean(axis=mean_axis, keepdims=True)
    if std_axis is not None:
        sd = Xn.std(axis=std_axis, keepdims=True)
        Xn = Xn / np.where(sd == 0, 1.0, sd)
    return Xn
