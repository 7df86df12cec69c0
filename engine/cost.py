"""`estimate_cost`: what a transform will cost (memory, output, time), said before it runs.

>>> c = estimate_cost("scattering1d", 2**20, batch=4, J=12, Q=12)
>>> c.output_shape[:2], c.peak_bytes > c.output_bytes
((4, 801), True)

The Scattering1D model follows the forward pass's schedule (`engine.scattering1d`) step by
step, without building a filter at the signal's length:

* the *structure* of the transform (which first-order wavelets share a resolution, how many
  second-order wavelets each group meets, how many channels come out) depends on ``J``,
  ``Q``, ``T``, ``stride``, ``max_order`` and the design, not on ``N``: it is read from a
  module built once at a small length (``2**J`` samples, cached) and scaled;
* the padded length is Kymatio's (`engine._params.padded_length`), computed from the
  low-pass's support on a grid a few times ``T`` long (it is the same number);
* memory is the sum of the buffers the forward pass holds at its fullest moment: the padded
  signal and its spectrum, the largest chunks in flight on each worker (their per-thread
  scratch buffers included, see `engine._scratch`) and the outputs with their final copies;
  plus what the allocator keeps and a fixed overhead (`engine._s1d_model`'s calibrated
  constants). Under a budget, the same for one pass of blocks (`engine._s1d_model.
  choose_blocks`) plus the kept output. Compared with ``VmHWM`` growth in a fresh process
  (``tests/engine/test_cost.py``), within 1.5x;
* with ``requires_grad``, the forward on top of the graph autograd keeps (each modulus's
  input and output, the tasks' outputs: `engine._s1d_grad.graph_bytes`), then the backward
  (the graph, the output's and the input's gradients, the transients of the tasks running);
  under a budget, the backward of one recomputed pass plus the output and the gradients
  (`engine._s1d_grad.blocked_grad`). Checked against fwd + bwd ``VmHWM`` growth in
  ``tests/engine/test_grad_budget.py``;
* time is the transform's FFT and fold work in flops divided by a rate
  measured once on the development machine (2 cores; see the constant): rough, a factor
  of two either way on another machine or under load.

`Cost` and `BudgetError` are `engine._costs`'s.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from engine import _params, _s1d_grad, _s1d_model
from engine._costs import BudgetError, Cost
from engine._s1d_model import DEFAULT_BUDGET, padded_length_fast, parse_budget

__all__ = ["estimate_cost", "KINDS", "Cost", "BudgetError", "DEFAULT_BUDGET", "padded_length_fast",
           "parse_budget"]

#: The transforms `estimate_cost` knows.
KINDS = ("scattering1d", "jtfs")

_S1D_ARGS = ("J", "Q", "T", "stride", "max_order", "oversampling", "out_type", "filterbank",
             "chunk_bytes", "sample_rate", "memory_budget")


def estimate_cost(kind: str, shape: int, batch: int = 1, *, memory_budget: int | None = None,
                  dtype: torch.dtype = torch.float32, requires_grad: bool = False,
                  **params) -> Cost:
    """Predict the cost of one call of a transform: a forward without gradient, or with
    ``requires_grad`` a forward that records gradients and its backward.

    Parameters
    ----------
    kind : "scattering1d" or "jtfs"
        The transform: `engine.Scattering1D` or `engine.TimeFrequencyScattering`.
    shape : int
        Signal length ``N`` in samples.
    batch : int
        Number of signals in the call (the input's leading dimensions, multiplied).
    memory_budget : int, None or math.inf
        Bytes the call may use, as the transform's ``memory_budget``: the estimate is of the
        schedule the transform picks under it (whole, or in passes of blocks), and
        `BudgetError` (naming the smallest budget that works) when none fits. None: the
        transform's default (`DEFAULT_BUDGET`, 512 MiB); ``math.inf``: no budget.
    dtype : torch.float32 or torch.float64
        The transform's dtype.
    requires_grad : bool
        The call's input requires gradients, and the estimate is of the
        forward and the backward together (``loss.backward()`` on the output; the peak is
        the larger of the two). Under a budget, the call then runs in passes that the
        backward recomputes one at a time (`engine._blocked`), sized so that the backward's
        peak fits: the budget bounds forward + backward. JTFS: plain autograd, or its stages
        recomputed in backward where that would not fit (`engine.jtfs.grad_cost`).
    **params
        The transform's constructor arguments (``J``, ``Q``, ``T``, ``max_order``,
        ``filterbank``, ... for Scattering1D; ``J``, ``J_fr``, ``Q``, ``Q_fr``, ``F``, ...
        for JTFS), checked as the constructor checks them.

    Returns
    -------
    Cost
        ``peak_bytes`` (growth of the process during the call, output included),
        ``output_bytes``, ``output_shape`` (``(batch, C, time)``), ``seconds``.

    Nothing of size ``N`` is allocated: it is safe to call for lengths no machine could
    transform, to refuse or split the work before it starts.

    >>> estimate_cost("scattering1d", 2**16, J=8, Q=8).output_shape
    (1, 234, 256)
    """
    if kind == "jtfs":
        try:
            from engine.jtfs.cost import estimate_jtfs_cost
        except ImportError as e:   # the JTFS model lives with JTFS
            raise NotImplementedError(f"The JTFS cost model (engine.jtfs.cost) is not "
                                      f"available: {e}") from e
        if requires_grad:                   # forward + backward (engine.jtfs.grad)
            from engine.jtfs.grad_cost import grad_cost as estimate_jtfs_cost
        return estimate_jtfs_cost(shape, batch, memory_budget=memory_budget, dtype=dtype,
                                  **params)
    if kind != "scattering1d":
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}; got {kind!r}.")
    return _scattering1d_cost(shape, batch, memory_budget, dtype, params, bool(requires_grad))


# --------------------------------------------------------------------------------------------
# Scattering1D
# --------------------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def _structure(J, Q, T, stride, max_order, oversampling, filterbank) -> _s1d_model.Structure:
    """The structure of Scattering1D(J, Q, T, ...) read from a module of ``2**J`` samples
    (its groups and channels do not depend on the length: the wavelets' subsampling ``j``
    and widths depend on their design only)."""
    from engine.scattering1d import Scattering1D

    n = 2**J
    if isinstance(T, int) and not isinstance(T, bool):
        n = max(n, T)
    S = Scattering1D(J, n, Q=Q, T=T, stride=stride, max_order=max_order,
                     oversampling=oversampling, out_type="list" if T == 0 else "array",
                     filterbank=filterbank, memory_budget=None)
    return _s1d_model.structure_of(S)


def _scattering1d_cost(N, B, budget, dtype, params, grad=False) -> Cost:
    unknown = sorted(set(params) - set(_S1D_ARGS))
    if unknown:
        raise TypeError(f"Unknown Scattering1D argument(s) {unknown}; the constructor takes "
                        f"{', '.join(_S1D_ARGS)}.")
    if "J" not in params:
        raise TypeError("estimate_cost('scattering1d', ...) needs J (Scattering1D's J).")
    if isinstance(B, bool) or not isinstance(B, int) or B < 1:
        raise ValueError(f"batch must be a positive integer; got {B!r}.")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64; got {dtype!r}.")
    if "memory_budget" in params:
        raise TypeError("Pass memory_budget as estimate_cost's keyword, not twice.")
    budget = parse_budget(budget)
    N = _params.parse_shape(N)
    J = _params.parse_J(params["J"], N)
    Q = _params.parse_Q(params.get("Q", 1))
    T_arg = params.get("T")
    T, average = _params.parse_T(T_arg, J, N)
    _params.parse_out_type(params.get("out_type", "array"), average)
    st = _structure(J, Q, T_arg, params.get("stride"), params.get("max_order", 2),
                    params.get("oversampling", 0), params.get("filterbank", "kymatio"))
    Np = padded_length_fast(N, T)
    s = torch.empty((), dtype=dtype).element_size()
    lengths = _s1d_model.output_lengths(st, N, Np)
    out_bytes = B * sum(lengths) * s
    out_shape = (B, st.channels, max(lengths))
    chunk_bytes = int(params.get("chunk_bytes", 8 * 2**20))
    est = _s1d_model.plan_call(st, N, Np, B, s, budget, out_bytes, chunk_bytes,
                               max(1, torch.get_num_threads()),
                               params.get("out_type", "array") == "array",
                               _s1d_grad.GRAD if grad else None)[0]
    return Cost(est.peak, int(out_bytes), out_shape, est.seconds, budget)
