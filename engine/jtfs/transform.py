"""`TimeFrequencyScattering`: the module, its constructor and its parameter checks.

The construction of its plans is `engine.jtfs.plans`, its forward pass `engine.jtfs.forward`,
its ``meta()`` `engine.jtfs.meta`; see `engine.jtfs` for the transform itself.
"""

from __future__ import annotations

import math
import numbers

from engine._module import PlannedTransform
from engine.design import Design
from engine.filterbank import build_filterbank, get_design, temporal_support
from engine.jtfs.forward import _ForwardPass
from engine.jtfs.meta import _Meta
from engine.jtfs.plans import _Planner
from engine.scattering1d import _parse_Q, border_indices, compute_padding, parse_T

__all__ = ["TimeFrequencyScattering"]


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
    T : None, int or "global"
        Support (samples) of the time low-pass ``phi_t``; default ``2**J``.
    stride : int, optional
        Time step of the output (power of two ``<= T``); default ``T``.
    Q_fr : int
        Frequential wavelets per octave (default 1).
    F : None, int or "global"
        Width (in ``n1`` bins) of the frequential averaging ``phi_F``; default ``2**J_fr``;
        ``1 <= F <= N1``; ``"global"`` averages over all of ``n1``.
    stride_fr : int, optional
        Step along ``n1`` of the output (power of two ``<= F``); default the largest power of
        two ``<= F``.
    out_type : "array" or "dict"
        "array": one tensor (see ``format``). "dict": the seven `PAIRS`, each a tensor:
        ``S0`` ``(..., 1, time)``, ``S1`` ``(..., N1, time)``, and the joint pairs
        ``(..., n2, n1_fr, n1, time)``: ``phi_t * phi_f`` ``(..., 1, 1, F_bins, time)``,
        ``phi_t * psi_f`` ``(..., 1, n_fr, F_bins, time)``, ``psi_t * phi_f``
        ``(..., n2, 1, F_bins, time)``, spinned pairs ``(..., n2, n_fr, F_bins, time)``.
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
    chunk_bytes : int
        Upper bound on one batched complex intermediate; lower it to save memory.

    Example
    -------
    >>> jtfs = TimeFrequencyScattering(J=6, J_fr=4, Q=8, shape=4096, F=1, out_type="dict")
    >>> out = jtfs(torch.randn(2, 4096))
    >>> out["psi_t * psi_f_up"].shape[:2]         # (batch, n2, n1_fr, n1, time)
    torch.Size([2, 5])

    Input ``(..., N)`` float32/float64, torch or numpy; ``.to(device)``, ``.double()`` work;
    gradients flow to the input.
    """

    def __init__(self, J: int, J_fr: int, Q, shape, T=None, stride=None, Q_fr: int = 1,
                 F=None, stride_fr=None, out_type: str = "array", format: str = "time",
                 filterbank: str = "tight", average: bool = True, average_fr: bool = True,
                 pad_mode: str = "zero", chunk_bytes: int = 32 * 2**20):
        super().__init__()
        N = self._parse_shape(shape)
        if isinstance(J, bool) or not isinstance(J, numbers.Integral) or J < 1:
            raise ValueError(f"J must be an integer >= 1; got {J!r}.")
        if 2**J > N:
            raise ValueError(f"J={J} is too large for signals of length {N}: the wavelets "
                             f"need 2**J <= shape. Use J <= {int(math.log2(N))}.")
        if out_type not in ("array", "dict"):
            raise ValueError(f"out_type must be 'array' or 'dict'; got {out_type!r}.")
        if format not in ("time", "joint"):
            raise ValueError(f"format must be 'time' ((..., C, time)) or 'joint' "
                             f"((..., C, F_bins, time)); got {format!r}.")
        if pad_mode not in ("reflect", "zero"):
            raise ValueError(f"pad_mode must be 'reflect' or 'zero'; got {pad_mode!r}.")
        self.design = get_design(filterbank)
        if type(self.design).frequential_filters is Design.frequential_filters:
            raise ValueError(f"filterbank={filterbank!r} gives time filters only; JTFS needs "
                             f"a design with frequential filters (an engine.design.Design "
                             f"that defines frequential_filters).")
        if average not in (True, False) or average_fr not in (True, False):
            raise TypeError("average and average_fr must be True or False.")
        self.J, self.shape, self.Q = int(J), (N,), _parse_Q(Q)
        self.out_type, self.format, self.filterbank = out_type, format, filterbank
        self.pad_mode, self.chunk_bytes = pad_mode, int(chunk_bytes)
        self.average, self.average_fr = average, average_fr
        self._T_arg, self._F_arg = T, F

        # ---- time parameters
        if T == 0:
            raise ValueError("T=0 is not a JTFS setting; pass average=False for unaveraged "
                             "time paths (T then sets phi_t for S0 and the phi_t pairs).")
        self.T, mode = parse_T(T, self.J, N)
        if not average:
            if mode == "global":
                raise ValueError("average=False needs a local T (an integer or None), not "
                                 "'global'.")
            if stride not in (None, 1):
                raise ValueError(f"average=False keeps every sample: stride must be 1 or "
                                 f"None; got {stride!r}.")
            stride = 1
        self._t_mode = mode                          # "local" or "global"
        self.log2_T = int(math.floor(math.log2(self.T)))
        self.log2_stride = self._parse_stride(stride)

        # ---- padding and time filter bank
        phi_N = self.design.lowpass(N, self.T)
        min_to_pad = 3 * temporal_support(phi_N[None], criterion=1e-3)
        J_pad = min(int(math.ceil(math.log2(N + 2 * min_to_pad))),
                    int(math.floor(math.log2(3 * N - 2))))
        J_pad = max(J_pad, int(math.ceil(math.log2(N))))
        self.N_padded = 2**J_pad
        self.pad_left, self.pad_right = compute_padding(self.N_padded, N)
        self.ind_start, self.ind_end = border_indices(
            max(self.log2_T, self.J) + 2, self.pad_left, self.pad_left + N)
        self.bank = build_filterbank(self.N_padded, self.J, self.Q, self.T, filterbank)
        self.N1 = len(self.bank.psi1)

        # ---- frequential parameters
        if isinstance(J_fr, bool) or not isinstance(J_fr, numbers.Integral) or J_fr < 1:
            raise ValueError(f"J_fr must be an integer >= 1; got {J_fr!r}.")
        jfr_max = int(math.floor(math.log2(self.N1)))
        if J_fr > jfr_max:
            raise ValueError(f"J_fr={J_fr} is too large for the N1={self.N1} first-order "
                             f"wavelets (J={J}, Q={self.Q[0]}): frequential wavelets need "
                             f"2**J_fr <= N1. Use J_fr <= {jfr_max}, or a larger Q or J.")
        if isinstance(Q_fr, bool) or not isinstance(Q_fr, numbers.Integral) or Q_fr < 1:
            raise ValueError(f"Q_fr must be an integer >= 1; got {Q_fr!r}.")
        self.J_fr, self.Q_fr = int(J_fr), int(Q_fr)
        F = 2**self.J_fr if F is None else F
        if isinstance(F, str):
            if F != "global":
                raise ValueError(f"F={F!r} is not understood; use an integer 1 <= F <= "
                                 f"{self.N1}, None (2**J_fr) or 'global'.")
            self._f_mode, self.F = "global", self.N1
        else:
            if isinstance(F, bool) or not isinstance(F, numbers.Integral) or F < 1:
                raise ValueError(f"F must be an integer >= 1, None or 'global'; got {F!r}.")
            if F > self.N1:
                raise ValueError(f"F={F} is larger than allowed: the frequential averaging "
                                 f"cannot exceed the N1={self.N1} first-order wavelets. Use "
                                 f"1 <= F <= {self.N1}, or F='global'.")
            self._f_mode, self.F = "local", int(F)
        if not average_fr:
            if stride_fr not in (None, 1):
                raise ValueError(f"average_fr=False keeps every n1: stride_fr must be 1 or "
                                 f"None; got {stride_fr!r}.")
            self._f_mode = "none"
        self.log2_stride_fr = self._parse_stride_fr(stride_fr)
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

    # ---- parameter helpers --------------------------------------------------------------

    @staticmethod
    def _parse_shape(shape) -> int:
        if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
            shape = (int(shape),)
        if (not isinstance(shape, tuple) or len(shape) != 1
                or not isinstance(shape[0], numbers.Integral) or shape[0] < 1):
            raise ValueError(f"shape must be a positive integer or a 1-tuple; got {shape!r}.")
        return int(shape[0])

    @staticmethod
    def _log2_pow2(value, name: str, limit: int, limit_name: str) -> int:
        if (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1
                or value & (value - 1)):
            raise ValueError(f"{name} must be a power of two; got {value!r}.")
        if value > limit:
            raise ValueError(f"{name}={value} exceeds {limit_name}={limit}, which would "
                             f"alias; use {name} <= {limit}.")
        return int(value).bit_length() - 1

    def _parse_stride(self, stride) -> int:
        if self._t_mode == "global":
            if stride is not None:
                raise ValueError("stride needs local averaging; it is incompatible with "
                                 "T='global'.")
            return self.log2_T
        if stride is None:
            return self.log2_T
        return self._log2_pow2(stride, "stride", 2**self.log2_T, "T")

    def _parse_stride_fr(self, stride_fr) -> int:
        if self._f_mode == "none":
            return 0
        if self._f_mode == "global":
            if stride_fr is not None:
                raise ValueError("stride_fr is incompatible with F='global'.")
            return 0
        limit = 1 << (self.F.bit_length() - 1)
        if stride_fr is None:
            return limit.bit_length() - 1
        return self._log2_pow2(stride_fr, "stride_fr", limit, "F (rounded down to a power "
                               "of two)")

    # ---- representation -------------------------------------------------------------------

    def extra_repr(self) -> str:
        return (f"J={self.J}, J_fr={self.J_fr}, Q={self.Q}, shape={self.shape[0]}, "
                f"T={self._T_arg!r}, Q_fr={self.Q_fr}, F={self._F_arg!r}, "
                f"stride={2**self.log2_stride}, stride_fr={2**self.log2_stride_fr}, "
                f"filterbank={self.filterbank!r}, average={self.average}, "
                f"average_fr={self.average_fr}, format={self.format!r}")
