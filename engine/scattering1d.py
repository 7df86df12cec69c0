"""`Scattering1D`: Kymatio's 1-D scattering transform, batched over filters.

Same API and numbers as Kymatio's (main branch) torch front end: swap
``from kymatio.torch import Scattering1D`` for ``from engine import Scattering1D``.

The algorithm is Kymatio's (Andén and Mallat 2014):

* ``S0 = x * phi``, subsampled to the stride;
* ``U1[n1] = |x * psi1[n1]|`` at resolution ``2**k1``, ``k1 = min(j1, log2 stride)``;
  ``S1 = U1 * phi``;
* ``U2[n1, n2] = |U1[n1] * psi2[n2]|`` for ``j2 > j1``; ``S2 = U2 * phi``;

with reflect padding to a power of two and every convolution done in the Fourier domain.
What differs is the schedule: all first-order wavelets that share a resolution are applied in
one batched gather-multiply on the bins where they are non-negligible (see `engine._fold`),
every second-order wavelet to all first-order outputs of one resolution at once, and real
signals go through ``rfft``/``irfft``. Memory is bounded by processing filters in chunks.

The arguments are checked by `engine._params` (shared with JTFS); Kymatio's filter dicts
(``psi1_f``...) and the format of `meta` live in `engine._kymatio_compat`.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import partial

import numpy as np
import torch
from torch import nn

from engine import _params, _s1d_grad, _s1d_model
from engine._blocked import needs_grad, scatter_in_passes
from engine._fold import apply_fold, fold_plan, rfft
from engine._kymatio_compat import KymatioAttributes, scattering_meta
from engine._module import PlannedTransform, check_signal
from engine._parallel import run_keyed, workers_for
from engine._params import border_indices, compute_padding, parse_Q, parse_T
from engine._s1d_group import scatter_group, task_layout
from engine._scratch import scratch_allowed
from engine.filterbank import FilterBank, build_filterbank

__all__ = ["Scattering1D", "parse_T", "parse_Q", "compute_padding", "border_indices"]

#: The parser's former private name here, which `engine.jtfs` imports.
_parse_Q = parse_Q


# --------------------------------------------------------------------------------------------
# The module
# --------------------------------------------------------------------------------------------

class Scattering1D(KymatioAttributes, PlannedTransform):
    """The 1-D scattering transform (orders 0, 1 and 2), Kymatio-compatible.

    Parameters
    ----------
    J : int
        Number of octaves; the low-pass averages over ``T = 2**J`` samples by default.
        Requires ``2**J <= shape``.
    shape : int or (int,)
        Length ``N`` of the input signals, any positive integer.
    Q : int or (int, int)
        Wavelets per octave at order 1 (and 2; default ``Q2 = 1``).
    T : None, int, 0 or "global"
        Support of the low-pass in samples (default ``2**J``); ``0`` returns unaveraged
        scalograms (``out_type`` "list" or "dict" only); ``"global"`` averages over all time.
    stride : int, optional
        Power of two, at most ``T``; the output's time step in samples (default ``T``).
    max_order : 1 or 2
        Highest scattering order; may be changed on a built transform (it re-plans).
    oversampling : int
        Deprecated in Kymatio: equivalent to ``stride = T / 2**oversampling``.
    out_type : "array", "list" or "dict"
        "array": one tensor ``(..., C, N / stride)`` with order 0 in channel 0, then order 1 by
        ``n1``, then order 2 by ``(n1, n2)``. "list": dicts with ``coef``, ``j``, ``n``,
        ``order``. "dict": ``{n: coef}`` keyed by the path tuple ``n``. May be changed on a
        built transform.
    filterbank : str
        ``"kymatio"`` (default, Kymatio's numbers) or another design of
        `engine.filterbank.available_designs()`.
    chunk_bytes : int
        Upper bound on the size of one batched intermediate (of all workers together); the
        chunks run in parallel. Tuned for speed; the working set is bounded by
        ``memory_budget``.
    memory_budget : int, None or math.inf
        Bytes a forward call may use (its working set and output; the input and this
        module's filters excluded), whatever the length and the batch. A call that would not
        fit runs in passes: overlapping time blocks of the signals, or groups of signals
        (`engine._blocked`; with gradients, forward + backward together: the backward
        recomputes the passes), equal to the whole call up to ``1e-8``; a forward call on
        a padded signal over ``2**20`` samples also runs in time blocks when they are
        predicted faster (`engine._s1d_model.plan_call`: rows that stay in the cache). None: the
        default, 512 MiB; ``math.inf``: no budget. A budget too small for the configuration
        raises `engine.BudgetError` naming the smallest that works;
        ``engine.estimate_cost`` says the cost before the call.
    sample_rate : float, optional
        Hz; `meta` then gives frequencies in Hz without an argument. None: cycles per sample.

    Kymatio's attributes are there too: ``J``, ``Q`` (a pair), ``T``, ``shape``, ``stride``,
    ``log2_stride``, ``pad_left``, ``pad_right``, ``ind_start``, ``ind_end``, ``N_padded``
    (Kymatio's ``_N_padded``) and the filter dicts ``phi_f``, ``psi1_f``, ``psi2_f``.

    Example
    -------
    >>> S = Scattering1D(J=6, shape=1024, Q=8)
    >>> Sx = S(torch.randn(4, 1024))          # (4, C, 16)
    >>> Sx.shape[-1], Sx.shape[-2] == S.output_size()
    (16, True)

    Input ``(..., N)`` float32/float64 (torch or numpy); output on the module's device and
    dtype. Use ``.to(device)``, ``.double()`` as for any module. Gradients flow to the input.
    """

    def __init__(self, J: int, shape, Q=1, T=None, stride=None, max_order: int = 2,
                 oversampling: int = 0, out_type: str = "array", filterbank: str = "kymatio",
                 chunk_bytes: int = 8 * 2**20, sample_rate: float | None = None,
                 memory_budget: int | float | None = None):
        super().__init__()
        N = _params.parse_shape(shape)
        self.memory_budget = _s1d_model.parse_budget(memory_budget)
        self.J, self.shape, self.Q = _params.parse_J(J, N), (N,), parse_Q(Q)
        self.T, self.average = parse_T(T, self.J, N)
        self._T_arg, self.filterbank = T, filterbank
        self._max_order = _params.parse_max_order(max_order)
        self.out_type = out_type
        self.oversampling = _params.parse_oversampling(oversampling)
        self.chunk_bytes = int(chunk_bytes)
        self.sample_rate = _params.parse_sample_rate(sample_rate)
        self.log2_T = int(math.floor(math.log2(self.T)))
        self.log2_stride = _params.parse_stride(stride, self.oversampling, self.log2_T,
                                                self.average, T)

        self.N_padded = _s1d_model.padded_length_fast(N, self.T)
        _s1d_model.check_feasible(N, self.N_padded)
        self.pad_left, self.pad_right = compute_padding(self.N_padded, N)
        self.ind_start, self.ind_end = border_indices(
            max(self.log2_T, self.J) + 1, self.pad_left, self.pad_left + N)

        self.bank: FilterBank = build_filterbank(self.N_padded, self.J, self.Q, self.T,
                                                 filterbank)
        # Plans at N_padded only where a call can run whole: a long module whose every call
        # runs in time blocks needs only its block module's (built on the first call).
        self._dry = True
        self._build_plans()
        if self.memory_budget is None or _s1d_model.runs_whole(self):
            self._ensure_plans()

    # ---- Kymatio's attributes --------------------------------------------------------------

    @property
    def max_order(self) -> int:
        """Highest scattering order (1 or 2); setting it re-plans the transform, as Kymatio."""
        return self._max_order

    @max_order.setter
    def max_order(self, value: int) -> None:
        value = _params.parse_max_order(value)
        if value != self._max_order:
            self._max_order = value
            self._replan()

    @property
    def out_type(self) -> str:
        """"array", "list" or "dict" (see the class docstring); may be set at any time."""
        return self._out_type

    @out_type.setter
    def out_type(self, value: str) -> None:
        self._out_type = _params.parse_out_type(value, self.average)

    # ---- construction ----------------------------------------------------------------------

    def _replan(self) -> None:
        """Build the plans again (after `max_order` changed), on the current device and dtype.

        Every buffer of this module is one `_build_plans` registered."""
        ref = getattr(self, self._groups[0]["psi1"])
        self.__dict__.pop("_block_modules", None)
        self.__dict__.pop("_structure", None)
        for name in list(self._buffers):
            delattr(self, name)
        self._masters.clear()
        self.__dict__.get("_recipes", {}).clear()
        self._build_plans()
        for name, buf in self._buffers.items():
            if ref.dtype == torch.float64 and self.is_plan(name):
                buf = torch.as_tensor(self.exact_plan(name))
            elif buf.is_floating_point():
                buf = buf.to(ref.dtype)
            self._buffers[name] = buf.to(ref.device)

    def _ensure_plans(self) -> None:
        """Build the fold plans at ``N_padded`` if they were deferred (see ``__init__``)."""
        if self.__dict__.get("_dry"):
            self._dry = False
            with torch.inference_mode(False), torch.no_grad():
                self._replan()

    def _plan(self, name: str, which: tuple, m_out: int, half: bool) -> str:
        """Build the fold plan of `_plan_filters` ``(which)`` and register its weights (see
        `PlannedTransform`): float64 ones are rebuilt from the filter bank on a cast to
        float64 (a recipe), never kept (the plan in ``_fold_plans`` has ``weights=None``).
        Deferred (``_dry``): an empty placeholder that carries the module's dtype and
        device."""
        if self.__dict__.get("_dry"):
            self._fold_plans[name] = None
            self.register_buffer(name, torch.empty(0), persistent=False)
            return name
        plan = fold_plan(self._plan_filters(which), m_out, half)
        self._fold_plans[name] = replace(plan, weights=None)
        return self.register_plan(name, plan.weights,
                                  recipe=("_plan_weights", (which, m_out, half), None))

    def _plan_filters(self, which: tuple) -> list:
        """The filters of a fold plan: ``("phi", level)`` (the low-pass periodised to
        resolution ``2**level``), ``("psi1", n1s)`` or ``("psi2", n2s, k1)`` (periodised to
        ``2**k1``), from the compact filter bank."""
        bank = self.bank
        if which[0] == "phi":
            return [bank.phi.compact[0].periodise(which[1])]
        if which[0] == "psi1":
            return [bank.psi1[n].compact[0] for n in which[1]]
        return [bank.psi2[n].compact[0].periodise(which[2]) for n in which[1]]

    def _plan_weights(self, which: tuple, m_out: int, half: bool) -> np.ndarray:
        """The float64 weights of the fold plan of ``which``: the recipe of its buffer."""
        return fold_plan(self._plan_filters(which), m_out, half).weights

    def _phi_plan(self, level: int) -> str | None:
        """The low-pass from resolution ``2**level`` to the output stride (local averaging)."""
        if self.average != "local":
            return None
        name = f"phi_{level}"
        if name not in self._fold_plans:
            self._plan(name, ("phi", level), self.N_padded >> self.log2_stride, half=True)
        return name

    def _build_plans(self) -> None:
        """Group the paths by resolution, as Kymatio's schedule implies.

        Order 1: one group per ``k1 = min(j1, log2 stride)`` (``j1`` without averaging).
        Order 2: within a group, one block per ``k2``: all wavelets ``psi2`` with that ``k2``
        applied to all ``U1`` of the group, keeping the pairs with ``j1 < j2``.
        """
        local = self.average == "local"
        s, bank, Np = self.log2_stride, self.bank, self.N_padded
        j1s = [p.j for p in bank.psi1]
        k1s = [min(j, s) if local else j for j in j1s]
        self._fold_plans: dict = {}
        self._s0 = self._phi_plan(0)
        self._groups = []
        # The paths of each block of output channels, in the order _scatter_blocks makes them.
        blocks: list[list[tuple]] = [[()]]
        for k1 in sorted(set(k1s)):
            g = len(self._groups)
            n1s = [n for n, k in enumerate(k1s) if k == k1]
            m1 = Np >> k1
            group = {"k1": k1, "m1": m1, "n1": n1s, "order2": [], "phi": self._phi_plan(k1),
                     "psi1": self._plan(f"g{g}_psi1", ("psi1", tuple(n1s)), m1, half=False)}
            blocks.append([(n,) for n in n1s])
            group["values"] = len(n1s) * m1   # largest complex intermediate per signal
            by_k2: dict[int, list[int]] = {}
            for n2, psi2 in enumerate(bank.psi2 if self.max_order == 2 else ()):
                if any(j1s[n] < psi2.j for n in n1s):
                    sub2 = min(psi2.j, s) if local else psi2.j
                    by_k2.setdefault(max(sub2 - k1, 0), []).append(n2)
            for k2, n2s in sorted(by_k2.items()):
                m2 = m1 >> k2
                grid = [(n1, n2) for n1 in n1s for n2 in n2s]
                valid = [i for i, (n1, n2) in enumerate(grid) if j1s[n1] < bank.psi2[n2].j]
                name = f"g{g}_psi2_k{k2}"
                if len(valid) < len(grid):
                    self.register_buffer(name + "_valid", torch.tensor(valid), persistent=False)
                group["order2"].append({
                    "k2": k2, "m2": m2, "n2": n2s, "phi": self._phi_plan(k1 + k2),
                    "valid": name + "_valid" if len(valid) < len(grid) else None,
                    "valid_rows": valid if len(valid) < len(grid) else None,
                    "psi2": self._plan(name, ("psi2", tuple(n2s), k1), m2, half=False)})
                blocks.append([grid[i] for i in valid])
                group["values"] = max(group["values"], len(grid) * m2)
            self._groups.append(group)

        # Kymatio orders the output by (order, n): a permutation of the computed blocks.
        self._blocks = blocks
        computed = [p for paths in blocks for p in paths]
        self._paths = sorted(computed, key=lambda p: (len(p), p))
        where = {p: i for i, p in enumerate(computed)}
        self.register_buffer("_order", torch.tensor([where[p] for p in self._paths]),
                             persistent=False)

    # ---- forward ---------------------------------------------------------------------------

    def _fold(self, spec: torch.Tensor, name: str, shared: bool = False) -> torch.Tensor:
        return apply_fold(spec, self._fold_plans[name], getattr(self, name), shared)

    def _finish(self, coef: torch.Tensor, level: int) -> torch.Tensor:
        """Crop the padding (or average globally) on the last axis."""
        if self.average == "global":
            return coef.mean(dim=-1, keepdim=True)
        return coef[..., self.ind_start[level]:self.ind_end[level]]

    def _scatter_blocks(self, xp: torch.Tensor, keep_u1: bool = False
                        ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """All coefficients of padded signals ``xp`` ``(B, N_padded)``, as the blocks of
        `_build_plans` (each ``(B, paths, time)``), cropped; with ``keep_u1``, also each
        group's cropped first-order modulus ``(B, len(group), time)`` (else ``[]``).

        Each group of paths runs over the batch in chunks sized for its own intermediates
        (at most ``chunk_bytes`` of complex values in flight, over all workers): the
        full-resolution group in a few signals at a time, the coarser ones in larger chunks,
        so that there are few, large operations; where one signal alone is too large (long
        signals, forward on CPU), in parts of the group's first-order wavelets
        (`engine._s1d_group.task_layout`). The chunks are independent tasks, run in parallel
        on single-threaded workers on CPU (see `engine._parallel`), largest first."""
        self._ensure_plans()
        m_out = self.N_padded >> self.log2_stride
        spec0 = rfft(xp)
        if self._s0 is not None:
            out = [self._finish(torch.fft.irfft(self._fold(spec0, self._s0, True), n=m_out)
                                [:, None], self.log2_stride)]
        else:
            out = [self._finish(xp[:, None], 0)]
        B = xp.shape[0]
        budget = self.chunk_bytes // workers_for(spec0, B * len(self._groups))
        split = scratch_allowed(spec0)          # parts of a group: forward on CPU only
        tasks, layout = [], []
        for i, g in enumerate(self._groups):
            step, parts = task_layout(g["values"], len(g["n1"]), B, budget,
                                      2 * xp.element_size(), split)
            layout.append(len(parts))
            for p, (n0, n1) in enumerate(parts):
                fn = partial(scatter_group, self, g, m_out=m_out, keep_u1=keep_u1,
                             part=(n0, n1) if len(parts) > 1 else None)
                cost = g["values"] * (n1 - n0) // len(g["n1"])
                tasks += [((i, p), fn, slice(a, min(a + step, B)), cost * (min(a + step, B) - a))
                          for a in range(0, B, step)]
        results = run_keyed(spec0, tasks)
        u1s = []
        for i, n_parts in enumerate(layout):
            blocks = results[(i, 0)]
            if n_parts > 1:             # a group in parts: its rows side by side, in order
                blocks = [torch.cat(rows, dim=1) for rows in
                          zip(*(results[(i, p)] for p in range(n_parts)))]
            if keep_u1:
                u1s.append(blocks[0])
                blocks = blocks[1:]
            out += blocks
        return out, u1s

    def _padded(self, x) -> tuple[torch.Tensor, torch.Size]:
        """Signals ``(..., N)`` checked and reflect-padded: ``((B, N_padded), batch shape)``."""
        x, batch_shape = self._checked(x)
        return self._pad(x), batch_shape

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.pad(x[:, None], (self.pad_left, self.pad_right), "reflect")[:, 0]

    def _checked(self, x) -> tuple[torch.Tensor, torch.Size]:
        """Signals ``(..., N)`` checked: ``((B, N), batch shape)``."""
        x = check_signal(x, self.shape[0], getattr(self, self._groups[0]["psi1"]))
        return x.reshape(-1, self.shape[0]), x.shape[:-1]

    def plan_call(self, batch: int, dtype: torch.dtype | None = None, grad: bool = False):
        """How a call on ``batch`` signals runs under ``memory_budget`` (``grad``: one that
        records gradients, forward + backward): ``(estimate, passes)``, ``passes`` None for
        the whole call at once, else an `engine._s1d_model.BlockChoice`. Raises
        `engine.BudgetError` when no schedule fits. Arithmetic only."""
        return (_s1d_grad.plan_module_grad if grad else _s1d_model.plan_module)(self, batch,
                                                                                  dtype)

    def forward(self, x) -> torch.Tensor | list | dict:
        """Scatter ``x`` of shape ``(..., N)``; see the class docstring for the output."""
        x, batch_shape = self._checked(x)
        _, passes = self.plan_call(x.shape[0], x.dtype, needs_grad(x))
        if passes is None:
            blocks, _ = self._scatter_blocks(self._pad(x))
        elif self.out_type == "array":
            out = scatter_in_passes(self, x, passes, array=True)
            return out.reshape(batch_shape + out.shape[1:])
        else:
            blocks = scatter_in_passes(self, x, passes)
        return self._format(blocks, batch_shape)

    def forward_with_u1(self, x) -> tuple[torch.Tensor | list | dict, list[torch.Tensor]]:
        """``(S(x), U1)``: the scattering of ``x`` as `forward` returns it, and the
        first-order moduli ``U1[n1] = |x * psi1_n1|`` that it computes on the way, one
        ``(..., time)`` tensor per first-order wavelet (in ``bank.psi1``'s order), cropped to
        the signal and subsampled by ``2 ** u1_log2_strides[n1]``.

        Where ``u1_log2_strides`` equals each wavelet's own ``j`` (with the default
        ``T = 2**J``, and whenever the output stride is at least ``2**j`` for every
        first-order wavelet), ``U1[n1]`` equals the order-1 coefficient ``n1`` of the
        unaveraged module (``T=0``, ``max_order=1``) of the same ``J``, ``Q`` and length: a
        scalogram and the scattering from one pass, without a second module's filtering.

        >>> S = Scattering1D(6, 1024, Q=8)
        >>> Sx, U1 = S.forward_with_u1(torch.randn(2, 1024))
        >>> len(U1) == len(S.bank.psi1), U1[0].shape[0]
        (True, 2)
        """
        xp, batch_shape = self._padded(x)
        blocks, u1s = self._scatter_blocks(xp, keep_u1=True)
        u1 = [None] * len(self.bank.psi1)
        for g, block in zip(self._groups, u1s):
            for i, n1 in enumerate(g["n1"]):
                u1[n1] = block[:, i].reshape(batch_shape + block.shape[-1:])
        return self._format(blocks, batch_shape), u1

    @property
    def u1_log2_strides(self) -> list[int]:
        """Per first-order wavelet, the log2 subsampling of its ``U1`` (`forward_with_u1`):
        ``min(j1, log2 stride)`` with local averaging, ``j1`` otherwise."""
        k = [0] * len(self.bank.psi1)
        for g in self._groups:
            for n1 in g["n1"]:
                k[n1] = g["k1"]
        return k

    def _format(self, blocks: list[torch.Tensor], batch_shape) -> torch.Tensor | list | dict:
        """The output in ``out_type`` from the blocks of `_scatter_blocks`."""
        if self.out_type == "array":
            out = torch.cat(blocks, dim=1).index_select(1, self._order)
            return out.reshape(batch_shape + out.shape[1:])
        coefs = {p: block[:, i].reshape(batch_shape + block.shape[-1:])
                 for paths, block in zip(self._blocks, blocks)
                 for i, p in enumerate(paths)}
        if self.out_type == "dict":
            return {p: coefs[p] for p in self._paths}
        banks = (self.bank.psi1, self.bank.psi2)
        return [{"coef": coefs[p], "j": tuple(banks[o][n].j for o, n in enumerate(p)),
                 "n": p, "order": len(p)} for p in self._paths]

    #: Kymatio's name for the forward pass.
    scattering = forward

    def estimate_cost(self, batch: int = 1, requires_grad: bool = False):
        """The predicted `engine.Cost` of a call on ``batch`` signals (with ``requires_grad``,
        forward + backward; see `engine.estimate_cost`), under this ``memory_budget``."""
        est, _ = self.plan_call(batch, grad=requires_grad)
        s = getattr(self, self._groups[0]["psi1"]).element_size()
        return _s1d_model.as_cost(est, self.__dict__["_structure"], self.shape[0],
                                  self.N_padded, batch, s, self.memory_budget)

    # ---- meta ------------------------------------------------------------------------------

    def meta(self, sample_rate: float | None = None) -> dict:
        """What each output channel holds, in Kymatio's format and order.

        Returns a dict with Kymatio's keys: ``order`` ``(C,)``; ``xi``, ``sigma``, ``j``, ``n``
        ``(C, max_order)`` (centre frequency and width in cycles per sample, dyadic scale
        and filter index at each order, NaN-padded); ``key``, the path tuples. Also ``phi``:
        the low-pass's ``xi`` (0), ``sigma``, ``j`` (log2 T) and ``T``.

        With ``sample_rate`` (Hz), adds ``xi_hz``, ``sigma_hz`` and ``bandwidth_hz`` (the
        full width at half maximum, ``2 sqrt(2 ln 2) sigma``) per channel and order, and the
        same for ``phi``.

        >>> S = Scattering1D(6, 1024, Q=8)
        >>> m = S.meta(sample_rate=16000)
        >>> bool(m["xi_hz"][1, 0] == m["xi"][1, 0] * 16000)
        True
        """
        sample_rate = self.sample_rate if sample_rate is None else sample_rate
        return scattering_meta(self._paths, self.bank, self.max_order, self.T, sample_rate)

    def output_size(self, detail: bool = False):
        """Number of output channels ``C`` (or per order with ``detail=True``)."""
        counts = np.bincount([len(p) for p in self._paths], minlength=self.max_order + 1)
        return tuple(int(c) for c in counts) if detail else len(self._paths)

    def extra_repr(self) -> str:
        return (f"J={self.J}, shape={self.shape[0]}, Q={self.Q}, T={self._T_arg!r}, "
                f"stride={2**self.log2_stride}, max_order={self.max_order}, "
                f"filterbank={self.filterbank!r}, channels={len(self._paths)}")
