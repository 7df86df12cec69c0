"""`TimeFrequencyScattering`: the module, its constructor and its parameter checks.

The construction of its plans is `engine.jtfs.plans`, its forward pass `engine.jtfs.forward`,
its ``meta()`` `engine.jtfs.meta`; see `engine.jtfs` for the transform itself.
"""

from __future__ import annotations

import math
import numbers

import torch

from engine import _params
from engine._module import PlannedTransform
from engine.design import Design
from engine.filterbank import build_filterbank, get_design, temporal_support
from engine.jtfs import grad as _grad
from engine.jtfs.forward import _ForwardPass
from engine.jtfs.meta import _Meta
from engine.jtfs.plans import _Planner

__all__ = ["TimeFrequencyScattering", "MEMORY_BUDGET"]

#: Default working-memory budget (bytes).
MEMORY_BUDGET = 512 * 2**20


class TimeFrequencyScattering(_ForwardPass, _Planner, _Meta, PlannedTransform):
    """Joint Time-Frequency Scattering, Kymatio-compatible constructor.

    Parameters
    ----------
    J : int
        Octaves of the time wavelets; ``2**J <= shape``.
    J_fr : int
        Octaves of the frequential wavelets (along ``n1``); needs ``2**J_fr <= N1``, the
        number of first-order wavelets.
    Q : int or (int, int)
        Wavelets per octave at orders 1 and 2 (default ``Q2 = 1``).
    shape : int or (int,)
        Signal length ``N``.
    T : None, int, 0 or "global"
        Support (samples) of the time low-pass ``phi_t``; default ``2**J``. ``0`` is Kymatio's
        "no averaging": the same as ``average=False`` (``phi_t`` of ``2**J`` still gives
        ``S0`` and the ``phi_t`` pairs); as in Kymatio it refuses ``out_type="array"``.
    stride : int, optional
        Time step of the output (power of two ``<= T``); default ``T``.
    Q_fr : int or (int,)
        Frequential wavelets per octave (default 1).
    F : None, int, 0 or "global"
        Width (in ``n1`` bins) of the frequential averaging ``phi_F``, parsed as ``T``
        against the ``N1`` first-order wavelets: default ``2**J_fr``; ``1 <= F <= N1``;
        ``"global"`` averages over all of ``n1``; ``0`` is Kymatio's "no averaging"
        (``average_fr=False``; as in Kymatio it refuses format "joint" with
        ``out_type="array"``).
    stride_fr : int, optional
        Step along ``n1`` of the output (power of two ``<= F``); default the largest power of
        two ``<= F``.
    out_type : "array", "list", "dict" or "pairs"
        "array": one tensor (see ``format``). "list": Kymatio's list of path dicts, one per
        channel of the array (format "joint": ``S0`` first), in the array's order: ``coef``
        (``(..., time)``, format "joint" ``(..., F_bins, time)``), ``n`` (Kymatio's path tuple:
        format "time" ``(n1, n_fr)`` at order 1, ``(n1, n2, n_fr)`` at order 2; "joint"
        ``(n_fr,)``, ``(n2, n_fr)``; ``S0`` ``()``; our ``S1`` rows ``(n1,)``), ``j``,
        ``n_fr``, ``j_fr`` (1-tuples), ``spin`` (``sign(xi_fr)``), ``order``, ``pair``
        (ours) and, format "joint", ``n1_max``, ``n1_stride``. "dict": ``{n: coef}``, as
        Kymatio. "pairs": the seven `PAIRS`, each a tensor:
        ``S0`` ``(..., 1, time)``, ``S1`` ``(..., N1, time)``, and the joint pairs
        ``(..., n2, n1_fr, n1, time)``: ``phi_t * phi_f`` ``(..., 1, 1, F_bins, time)``,
        ``phi_t * psi_f`` ``(..., 1, n_fr, F_bins, time)``, ``psi_t * phi_f``
        ``(..., n2, 1, F_bins, time)``, spinned pairs ``(..., n2, n_fr, F_bins, time)``.
        May be set on a built transform.
    format : "time" or "joint"
        "time": ``(..., C, time)``, the channels of the pairs in `PAIRS` order, each pair
        flattened as ``(n2, n1_fr, n1)``. "joint": ``(..., C, F_bins, time)`` with the joint
        pairs only (``S1`` is represented by ``phi_t * phi_f``; ``S0`` has no ``n1`` axis).
    filterbank : str
        A registered design (`engine.available_designs()`): ``"tight"`` (default;
        `engine.tight`), ``"kymatio"`` (Kymatio's Morlets) or one added with
        `engine.filterbank.register_design`; it gives the time and frequential filters alike.
    average : bool
        ``True`` (default): average the time wavelet paths by ``phi_t`` and subsample to
        ``stride``. ``False``: no time averaging after the modulus; ``stride`` must be 1 and
        ``S1`` is the scalogram ``U1``.
    average_fr : bool
        ``True`` (default): average along ``n1`` by ``phi_F`` and subsample to ``stride_fr``.
        ``False``: no frequential averaging: every row of the padded frequential grids is
        kept (``F_bins`` rows from ``n1 = bin_start < 0``, the union of the grids).
    pad_mode : "reflect" or "zero"
        Time padding (default "zero"; "reflect" as Kymatio). Along ``n1`` the padding is zero.
    chunk_bytes : int, optional
        Upper bound on one batched complex intermediate of the frequential stage, and of
        the first order's (its wavelets are filtered a few at a time at long ``N``); default
        ``min(32 MiB, memory_budget / 16)``.
    memory_budget : int, optional
        Working-memory budget in bytes (None: 512 MiB, not enforced). A psi_t branch whose
        frequential stage would hold more than half of it at full length is computed in time
        blocks of about a sixteenth of it (`engine.jtfs.stream`: the same results, to 1e-10);
        the other stages keep their full-length arrays (see ``engine.jtfs.cost`` for what a
        call needs). A budget given is enforced: when the cost model
        (`estimate_cost`) predicts more, the constructor (for one signal, before building
        the filters) or the call (for its batch, before computing) raises
        `engine.BudgetError` naming the smallest budget that works. With gradients, the
        budget bounds forward + backward: a call whose plain autograd would exceed it keeps
        no graph and recomputes its stages in backward (`engine.jtfs.grad`; its cost:
        ``estimate_cost(batch, requires_grad=True)``).
    sample_rate : float, optional
        Hz; ``meta()`` then gives frequencies in Hz without an argument.

    What differs from Kymatio's ``TimeFrequencyScattering`` (main), also with
    ``filterbank="kymatio"`` (the same time wavelets, and the same frequential Morlets: same
    ``xi_fr``, ``j_fr``):

    * **Channels.** Kymatio outputs no ``S1``; here ``S1`` (``N1`` channels) sits after
      ``S0``. Kymatio crops each path along ``n1`` to the rows it had as input
      (``unpad_frequency``): ``ceil(n1_max / stride_fr)`` rows, where ``n1_max`` is ``N1`` for
      the ``phi_t`` pairs and, for ``psi_t`` of ``n2``, the number of ``n1`` with
      ``j1 < j2``; here every joint path keeps ``F_bins = ceil(N1 / stride_fr)`` rows, the
      rows above ``n1_max`` holding what the frequential filters spread there. So at J=8,
      J_fr=3, Q=8, N=4096: Kymatio 1 + 5 x 7 + 9 x (2+3+4+5+6+7) = 279 channels; here
      1 + 54 + 5 x 7 + 9 x 6 x 7 = 468 (54 for ``S1``, 135 for the rows above ``n1_max``).
    * **Format "joint" with out_type "array"**: Kymatio does not crop along ``n1`` at all
      and returns its whole zero-padded frequential grid, ``_N_padded_fr / stride_fr`` rows,
      with ``_N_padded_fr`` the multiple of ``2**J_fr`` at least ``(J+1) Q1 + 8 min(F,
      2**J_fr)`` (it sizes the grid from ``(J+1) Q1``, not from ``N1``): at J=8, J_fr=3,
      Q=3, N=8192, F=8: ``(27 + 64) // 8 * 8 = 88`` rows, 11 bins. Here ``F_bins =
      ceil(N1 / stride_fr) = ceil(23 / 8) = 3`` bins on ``n1 = 0, 8, 16``.
    * **Numbers.** Frequential padding: Kymatio pads every input to ``_N_padded_fr``; here
      an input of ``n`` rows is padded to an FFT-friendly ``L`` of about ``n`` plus the
      longest kernel's reach, at most ``(FR_PAD_FACTOR + 1) n`` (see ``_fr_length``).
      Kymatio's spin-0 paths (``phi_f``) are not averaged by ``phi_F`` (the width-``2**J_fr``
      ``phi_f`` is their only frequential low-pass); here every joint path is averaged by
      ``phi_F``. ``phi_t * psi_f`` is scaled by ``sqrt 2`` here (it stands for both spins).
      Time padding: default ``pad_mode="zero"`` here, reflect in Kymatio; the padded length
      follows the design's low-pass. ``T=0``: Kymatio's ``S0`` is the signal itself; here
      ``S0`` keeps ``phi_t``.
    * **Spin.** Kymatio's path ``spin`` is ``sign(xi_fr)``, so ``phi_t * psi_f`` has spin
      +1 there and 0 here (a real input: both spins alike); ``meta()["kymatio_spin"]`` and
      the "list" paths use Kymatio's.

    Example
    -------
    >>> jtfs = TimeFrequencyScattering(J=6, J_fr=4, Q=8, shape=4096, F=1, out_type="pairs")
    >>> out = jtfs(torch.randn(2, 4096))
    >>> out["psi_t * psi_f_up"].shape[:2]         # (batch, n2, n1_fr, n1, time)
    torch.Size([2, 5])

    Input ``(..., N)`` float32/float64, torch or numpy; ``.to(device)``, ``.double()`` work;
    gradients flow to the input.
    """

    def __init__(self, J: int, J_fr: int, Q, shape, T=None, stride=None, Q_fr=1,
                 F=None, stride_fr=None, out_type: str = "array", format: str = "time",
                 filterbank: str = "tight", average: bool = True, average_fr: bool = True,
                 pad_mode: str = "zero", chunk_bytes: int | None = None,
                 sample_rate: float | None = None, memory_budget: int | None = None):
        super().__init__()
        N = _params.parse_shape(shape)
        self.J = _params.parse_J(J, N)
        self.format = _params.parse_format(format)
        self.pad_mode = _params.parse_choice(pad_mode, "pad_mode", ("reflect", "zero"))
        self.design = get_design(filterbank)
        if type(self.design).frequential_filters is Design.frequential_filters:
            raise ValueError(f"filterbank={filterbank!r} gives time filters only; JTFS needs "
                             f"a design with frequential filters (an engine.design.Design "
                             f"that defines frequential_filters).")
        if average not in (True, False) or average_fr not in (True, False):
            raise TypeError("average and average_fr must be True or False.")
        self.shape, self.Q = (N,), _params.parse_Q(Q)
        self._budget_set = memory_budget is not None        # enforced only when given
        if memory_budget is None:
            memory_budget = MEMORY_BUDGET
        if isinstance(memory_budget, bool) or not isinstance(memory_budget, numbers.Integral) \
                or memory_budget < 2**20:
            raise ValueError(f"memory_budget must be an integer number of bytes, at least "
                             f"2**20 (1 MiB); got {memory_budget!r}. The default is "
                             f"{MEMORY_BUDGET} (512 MiB).")
        self.memory_budget = int(memory_budget)
        # The parameters of the cost model (engine.jtfs.cost), which checks a given budget
        # here for one signal, before any filter is built, and at each call for its batch.
        self._cost_params = dict(J=J, J_fr=J_fr, Q=Q, T=T, stride=stride, Q_fr=Q_fr, F=F,
                                 stride_fr=stride_fr, out_type=out_type, format=format,
                                 filterbank=filterbank, average=average,
                                 average_fr=average_fr, pad_mode=pad_mode,
                                 chunk_bytes=chunk_bytes, sample_rate=sample_rate)
        if self._budget_set and self._enforce_budget:
            self.estimate_cost(1)
        if chunk_bytes is None:
            chunk_bytes = min(32 * 2**20, self.memory_budget // 16)
        self.filterbank, self.chunk_bytes = filterbank, int(chunk_bytes)
        self._force_stream = False             # tests: stream every branch that can
        self.sample_rate = _params.parse_sample_rate(sample_rate)
        self._T_arg, self._F_arg = T, F

        # ---- time parameters: T=0 is Kymatio's "no averaging", our average=False
        self.T, mode = _params.parse_T(T, self.J, N)
        if mode is False:
            average, mode = False, "local"
        self.average = average
        self._check_out_type(out_type, kymatio_t0=T is not None and not isinstance(T, str)
                             and T == 0)
        self._out_type = out_type
        if not average:
            if mode == "global":
                raise ValueError("average=False needs a local T (an integer or None), not "
                                 "'global'.")
            if stride not in (None, 1):
                raise ValueError(f"average=False (or T=0) keeps every sample: stride must be "
                                 f"1 or None; got {stride!r}.")
            stride = None
        self._t_mode = mode                          # "local" or "global"
        self.log2_T = int(math.floor(math.log2(self.T)))
        self.log2_stride = 0 if not average else _params.parse_stride(
            stride, 0, self.log2_T, mode, T)

        # ---- padding and time filter bank
        self.N_padded = self._padded_length(N)
        self.pad_left, self.pad_right = _params.compute_padding(self.N_padded, N)
        self.ind_start, self.ind_end = _params.border_indices(
            max(self.log2_T, self.J) + 2, self.pad_left, self.pad_left + N)
        self.bank = self._filterbank()
        self.N1 = len(self.bank.psi1)

        # ---- frequential parameters: F parsed as T, against the N1 first-order wavelets
        self.J_fr = _params.parse_J_fr(J_fr, self.N1, self.J, self.Q[0])
        self.Q_fr = _params.parse_Q_fr(Q_fr)
        F, f_mode = _params.parse_T(F, self.J_fr, self.N1, name="F")
        if f_mode is False:                          # F=0: Kymatio's "no averaging"
            average_fr, f_mode = False, "local"
            if self.format == "joint" and out_type == "array":
                raise ValueError("Cannot convert to format='joint' with out_type='array' and "
                                 "F=0 (Kymatio's rule). Either set format='time', "
                                 "out_type='dict', 'list' or 'pairs', or pass average_fr=False "
                                 "(rows of the union of the frequential grids).")
        self.average_fr = average_fr
        self._f_mode, self.F = f_mode, (self.N1 if f_mode == "global" else int(F))
        if not average_fr:
            self._f_mode = "none"
        self.log2_stride_fr = _params.parse_stride_fr(
            stride_fr, self.F, {"none": False}.get(self._f_mode, self._f_mode))
        # Output rows along n1: their first index (negative: above the highest wavelet) and count.
        self.bin_start = 0
        if self._f_mode == "global":
            self.F_bins = 1
        elif self._f_mode == "none":
            # Nothing is cropped: the rows are the union of every frequential grid's rows
            # (inputs of N1 rows for phi_t, of the n1 with j1 < j2 for each psi_t).
            j1s = [p.j for p in self.bank.psi1]
            ns = [sum(j1 < p2.j or not average for j1 in j1s) for p2 in self.bank.psi2]
            self.bin_start, self.F_bins = self._fr_rows([n for n in ns if n] + [self.N1])
        else:
            self.F_bins = -(-self.N1 // 2**self.log2_stride_fr)

        self._build()

    #: Whether a given ``memory_budget`` is enforced (False: the cost model's skeleton, and
    #: tests that stream with tiny blocks).
    _enforce_budget = True
    #: With gradients: None (default) recomputes the stages in backward when plain autograd
    #: would exceed ``memory_budget`` (`engine.jtfs.grad.grad_plan`); True or False forces it.
    _grad_mode = None

    def _run_stage(self, stage: int, xs, tasks) -> dict:
        """A stage of the forward (`engine.jtfs.grad.run_stage`: recomputed in backward
        when a call with gradients would not fit ``memory_budget``)."""
        return _grad.run_stage(self, stage, xs, tasks)

    def _pointwise(self, yt: torch.Tensor, plan, late: bool, step: int) -> torch.Tensor:
        """The forward's frequential stage; with gradients recomputed in backward a chunk of
        time at a time (`engine.jtfs.grad.pointwise`)."""
        v = _grad.pointwise(self, yt, plan, late, step)
        return super()._pointwise(yt, plan, late, step) if v is None else v

    def _stream_for(self, o, y2: torch.Tensor):
        """The forward's choice, or with gradients time blocks for a branch whose graph
        would be large (`engine.jtfs.grad.stream_for_grad`)."""
        return super()._stream_for(o, y2) or _grad.stream_for_grad(self, o, y2)

    #: `engine.jtfs.cost.estimate_jtfs_cost`, set when that module is imported (by
    #: `engine.jtfs`): it subclasses this module, so this module does not import it.
    _cost_model = None
    #: `engine.jtfs.grad_cost.grad_cost` (with gradients), set as `_cost_model`.
    _grad_cost_model = None

    def estimate_cost(self, batch: int = 1, dtype: torch.dtype = torch.float32,
                      requires_grad: bool = False):
        """The predicted cost of a forward call on ``batch`` signals
        (`engine.jtfs.cost.estimate_jtfs_cost`: peak working memory, output, rough time),
        without allocating anything of size ``N``; with ``requires_grad``, of the forward
        and its backward together (`engine.jtfs.grad_cost.grad_cost`). When ``memory_budget``
        was given, a predicted peak over it raises `engine.BudgetError` naming the smallest
        budget that works (``minimum_bytes``; None when no budget would: the signal is too
        long for this machine's memory)."""
        model = self._grad_cost_model if requires_grad else self._cost_model
        return model(
            self.shape[0], batch, memory_budget=self.memory_budget if self._budget_set
            else None, dtype=torch.float64 if dtype == torch.float64 else torch.float32,
            **dict(self._cost_params, out_type=getattr(self, "_out_type",
                                                       self._cost_params["out_type"])))

    def _padded_length(self, N: int) -> int:
        """The padded time length: a power of two holding ``N`` plus three supports of
        ``phi_t`` (at criterion 1e-3) on each side, at most ``3 N - 2``."""
        phi_N = self.design.lowpass(N, self.T)
        min_to_pad = 3 * temporal_support(phi_N[None], criterion=1e-3)
        J_pad = min(int(math.ceil(math.log2(N + 2 * min_to_pad))),
                    int(math.floor(math.log2(3 * N - 2))))
        return 2**max(J_pad, int(math.ceil(math.log2(N))))

    def _filterbank(self):
        """The time filter bank on the padded length (`engine.filterbank.build_filterbank`)."""
        return build_filterbank(self.N_padded, self.J, self.Q, self.T, self.filterbank)

    # ---- parameters that may change on a built transform -------------------------------

    OUT_TYPES = ("array", "list", "dict", "pairs")

    def _check_out_type(self, value, kymatio_t0: bool = False) -> None:
        _params.parse_out_type(value, False if kymatio_t0 else "local", self.OUT_TYPES)

    @property
    def out_type(self) -> str:
        """"array", "list", "dict" (Kymatio's) or "pairs" (the seven named pairs); see the
        class docstring. May be set on a built transform."""
        return self._out_type

    @out_type.setter
    def out_type(self, value: str) -> None:
        self._check_out_type(value, kymatio_t0=isinstance(self._T_arg, numbers.Real)
                             and not isinstance(self._T_arg, bool) and self._T_arg == 0)
        self._out_type = value

    # ---- representation -------------------------------------------------------------------

    def extra_repr(self) -> str:
        return (f"J={self.J}, J_fr={self.J_fr}, Q={self.Q}, shape={self.shape[0]}, "
                f"T={self._T_arg!r}, Q_fr={self.Q_fr}, F={self._F_arg!r}, "
                f"stride={2**self.log2_stride}, stride_fr={2**self.log2_stride_fr}, "
                f"filterbank={self.filterbank!r}, average={self.average}, "
                f"average_fr={self.average_fr}, format={self.format!r}")
