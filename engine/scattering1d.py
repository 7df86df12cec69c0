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
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from engine._fold import apply_fold, fold_plan
from engine.filterbank import (
    SIGMA0,
    FilterBank,
    build_filterbank,
    gauss_1d,
    periodise,
    temporal_support,
)

__all__ = ["Scattering1D", "parse_T", "compute_padding"]


# --------------------------------------------------------------------------------------------
# Parameter parsing (Kymatio's rules, with errors that say how to fix them)
# --------------------------------------------------------------------------------------------

def parse_T(T, J: int, N: int, name: str = "T") -> tuple[int, str | bool]:
    """Resolve ``T`` into ``(support, average)``.

    ``None`` means ``2**J`` with local averaging, ``"global"`` a mean over time, ``0`` no
    averaging (``average=False``), an integer ``1 <= T <= N`` a low-pass of that support.
    """
    if T is None:
        return 2**J, "local"
    if isinstance(T, str):
        if T == "global":
            return 2**J, "global"
        raise ValueError(f"{name}={T!r} is not understood; use None (2**J), an integer "
                         f"support in samples, 0 (no averaging) or 'global'.")
    if isinstance(T, bool) or not isinstance(T, numbers.Real):
        raise TypeError(f"{name} must be None, an integer, 0 or 'global'; got {T!r}.")
    if T > N:
        raise ValueError(f"The support {name}={T} of the low-pass cannot exceed the input "
                         f"length {N}. Use {name} <= {N}, or {name}='global' to average over "
                         f"the whole signal.")
    if T == 0:
        return 2**J, False
    if T < 1:
        raise ValueError(f"{name} must be 0 (no averaging) or >= 1; got {T}.")
    return int(T), "local"


def compute_padding(N_padded: int, N: int) -> tuple[int, int]:
    """Left and right reflect padding that brings ``N`` samples to ``N_padded``."""
    extra = N_padded - N
    left = extra // 2
    right = extra - left
    if max(left, right) >= N:
        raise ValueError(f"Padding {N} samples to {N_padded} needs more reflection than the "
                         f"signal has; use a smaller J or T, or a longer signal.")
    return left, right


def border_indices(max_level: int, start: int, end: int) -> tuple[list[int], list[int]]:
    """Where the unpadded signal lies after subsampling by ``2**k``, ``k = 0..max_level``."""
    starts, ends = [start], [end]
    for _ in range(max_level):
        starts.append((starts[-1] + 1) // 2)
        ends.append((ends[-1] + 1) // 2)
    return starts, ends


def _parse_Q(Q) -> tuple[int, int]:
    if isinstance(Q, bool):
        raise TypeError(f"Q must be an integer or a pair (Q1, Q2) of integers; got {Q!r}.")
    if isinstance(Q, numbers.Integral):
        Q = (int(Q), 1)
    elif isinstance(Q, Sequence) and not isinstance(Q, str) and 1 <= len(Q) <= 2:
        Q = tuple(Q) + ((1,) if len(Q) == 1 else ())
    else:
        raise TypeError(f"Q must be an integer or a pair (Q1, Q2) of integers; got {Q!r}. "
                        f"Scattering beyond order 2 is not implemented.")
    for q in Q:
        if isinstance(q, bool) or not isinstance(q, numbers.Integral):
            raise TypeError(f"Q must hold integers; got {Q!r}.")
        if q < 1:
            raise ValueError(f"Q must be >= 1 (wavelets per octave); got Q={Q}.")
    return int(Q[0]), int(Q[1])


# --------------------------------------------------------------------------------------------
# The module
# --------------------------------------------------------------------------------------------

class Scattering1D(nn.Module):
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
        Highest scattering order.
    oversampling : int
        Deprecated in Kymatio: equivalent to ``stride = T / 2**oversampling``.
    out_type : "array", "list" or "dict"
        "array": one tensor ``(..., C, N / stride)`` with order 0 in channel 0, then order 1 by
        ``n1``, then order 2 by ``(n1, n2)``. "list": dicts with ``coef``, ``j``, ``n``,
        ``order``. "dict": ``{n: coef}`` keyed by the path tuple ``n``.
    filterbank : str
        ``"kymatio"`` (default, Kymatio's numbers) or another design of
        `engine.filterbank.available_designs()`.
    chunk_bytes : int
        Upper bound on the size of one batched intermediate; lower it to save memory.

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
                 chunk_bytes: int = 32 * 2**20):
        super().__init__()
        if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
            shape = (int(shape),)
        if (not isinstance(shape, tuple) or len(shape) != 1
                or not isinstance(shape[0], numbers.Integral) or shape[0] < 1):
            raise ValueError(f"shape must be a positive integer or a 1-tuple; got {shape!r}.")
        N = int(shape[0])
        if isinstance(J, bool) or not isinstance(J, numbers.Integral) or J < 1:
            raise ValueError(f"J must be an integer >= 1; got {J!r}.")
        if 2**J > N:
            raise ValueError(f"J={J} is too large for signals of length {N}: the wavelets "
                             f"need 2**J <= shape. Use J <= {int(math.log2(N))} or pass longer "
                             f"signals.")
        if max_order not in (1, 2):
            raise ValueError(f"max_order must be 1 or 2; got {max_order!r}.")
        if out_type not in ("array", "list", "dict"):
            raise ValueError(f"out_type must be 'array', 'list' or 'dict'; got {out_type!r}.")
        if not isinstance(oversampling, numbers.Integral) or oversampling < 0:
            raise ValueError(f"oversampling must be a non-negative integer; got "
                             f"{oversampling!r}.")

        self.J, self.shape, self.Q = int(J), (N,), _parse_Q(Q)
        self.T, self.average = parse_T(T, self.J, N)
        self._T_arg = T
        self.max_order, self.out_type, self.filterbank = max_order, out_type, filterbank
        self.oversampling = int(oversampling)
        self.chunk_bytes = int(chunk_bytes)
        self.log2_T = int(math.floor(math.log2(self.T)))
        if self.average != "local" and out_type == "array" and self.average is False:
            raise ValueError("T=0 gives outputs of different lengths per order; use "
                             "out_type='list' or 'dict', or set T > 0.")
        self.log2_stride = self._parse_stride(stride)

        # Padding, as Kymatio: 3 low-pass half-supports on each side, capped so that the
        # reflection never exceeds the signal.
        phi_f = gauss_1d(N, SIGMA0 / self.T)
        min_to_pad = 3 * temporal_support(phi_f[None], criterion=1e-3)
        J_pad = min(int(math.ceil(math.log2(N + 2 * min_to_pad))),
                    int(math.floor(math.log2(3 * N - 2))))
        self.N_padded = 2**J_pad
        self.pad_left, self.pad_right = compute_padding(self.N_padded, N)
        self.ind_start, self.ind_end = border_indices(
            max(self.log2_T, self.J) + 1, self.pad_left, self.pad_left + N)

        self._masters: dict[str, np.ndarray] = {}
        self.bank: FilterBank = build_filterbank(self.N_padded, self.J, self.Q, self.T,
                                                 filterbank)
        self._build_plans()

    # ---- construction ----------------------------------------------------------------------

    def _parse_stride(self, stride) -> int:
        if self.oversampling > 0:
            warnings.warn("oversampling is deprecated; pass stride = T // 2**oversampling.",
                          DeprecationWarning, stacklevel=3)
            if stride is not None:
                raise ValueError("Pass either stride or oversampling, not both.")
            return max(self.log2_T - self.oversampling, 0)
        if stride is None:
            return self.log2_T
        if self.average != "local":
            raise ValueError(f"stride={stride} needs local averaging; it is incompatible with "
                             f"T={self._T_arg!r}.")
        if (isinstance(stride, bool) or not isinstance(stride, numbers.Integral) or stride < 1
                or stride & (stride - 1)):
            raise ValueError(f"stride must be a power of two; got {stride!r}.")
        log2_stride = int(stride).bit_length() - 1
        if log2_stride > self.log2_T:
            raise ValueError(f"stride={stride} exceeds the low-pass support T={self.T}, which "
                             f"would alias; use stride <= {2**self.log2_T}.")
        return log2_stride

    def _buffer(self, name: str, array: np.ndarray) -> str:
        """Register a plan array as a non-persistent buffer (float32 by default); float
        arrays keep a float64 master so that ``.double()`` gets exact, not upcast, values."""
        if array.dtype.kind in "iu":
            tensor = torch.as_tensor(array, dtype=torch.int64)
        else:
            self._masters[name] = array
            tensor = torch.as_tensor(array).to(torch.get_default_dtype())
        self.register_buffer(name, tensor, persistent=False)
        return name

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        for name, master in self._masters.items():
            buf = getattr(self, name)
            if buf.dtype == torch.float64:
                setattr(self, name, torch.as_tensor(master, device=buf.device))
        return self

    def _phi_plan(self, level: int) -> tuple[str, str, str]:
        """Fold plan of the low-pass from resolution ``2**level`` to the output stride."""
        key = f"phi{level}"
        if not hasattr(self, key + "_idx"):
            h = periodise(self.bank.phi.response, level)
            plan = fold_plan([h], self.N_padded >> self.log2_stride, half=True)
            self._buffer(key + "_idx", plan.idx[0])
            self._buffer(key + "_wre", plan.w_re[0])
            self._buffer(key + "_wim", plan.w_im[0])
        return key + "_idx", key + "_wre", key + "_wim"

    def _build_plans(self) -> None:
        local = self.average == "local"
        s = self.log2_stride
        bank = self.bank
        j1s = [p.j for p in bank.psi1]
        k1s = [min(j, s) if local else j for j in j1s]

        # Order 0.
        self._s0 = self._phi_plan(0) if local else None

        # Order 1: one group per resolution k1.
        self._groups = []
        for k1 in sorted(set(k1s)):
            n1s = [n for n, k in enumerate(k1s) if k == k1]
            m1 = self.N_padded >> k1
            plan = fold_plan([bank.psi1[n].response for n in n1s], m1, half=False)
            g = len(self._groups)
            names = tuple(self._buffer(f"g{g}_psi1_{part}", getattr(plan, part))
                          for part in ("idx", "w_re", "w_im"))
            group = {"k1": k1, "n1": n1s, "psi1": names,
                     "phi": self._phi_plan(k1) if local else None, "order2": []}
            # Order 2: each psi2 applied to every U1 of this resolution with j1 < j2.
            if self.max_order == 2:
                for n2, psi2 in enumerate(bank.psi2):
                    valid = [i for i, n in enumerate(n1s) if j1s[n] < psi2.j]
                    if not valid:
                        continue
                    sub2 = min(psi2.j, s) if local else psi2.j
                    k2 = max(sub2 - k1, 0)
                    h = periodise(psi2.response, k1)
                    plan2 = fold_plan([h], m1 >> k2, half=False)
                    key = f"g{g}_psi2_{n2}"
                    names2 = tuple(self._buffer(f"{key}_{part}", getattr(plan2, part)[0])
                                   for part in ("idx", "w_re", "w_im"))
                    group["order2"].append({
                        "n2": n2, "j2": psi2.j, "k2": k2, "local_n1": valid,
                        "psi2": names2, "phi": self._phi_plan(k1 + k2) if local else None})
            self._groups.append(group)

        # Output channel order: Kymatio sorts paths by (order, n).
        paths = [()] + [(n1,) for n1 in range(len(bank.psi1))]
        if self.max_order == 2:
            paths += sorted((n1, n2) for g in self._groups for o in g["order2"]
                            for n1 in (g["n1"][i] for i in o["local_n1"]) for n2 in [o["n2"]])
        self._paths = paths

    # ---- forward ---------------------------------------------------------------------------

    def _check_input(self, x) -> torch.Tensor:
        ref = getattr(self, self._groups[0]["psi1"][1])
        dtype = ref.dtype
        if isinstance(x, np.ndarray):
            if x.dtype.kind not in "fiu":
                raise TypeError(f"Input must be real-valued floats; got a numpy array of "
                                f"dtype {x.dtype}. Pass np.real(x) or an amplitude.")
            x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)).to(
                device=ref.device, dtype=dtype)
        elif not torch.is_tensor(x):
            raise TypeError(f"Input must be a torch tensor or a numpy array; got "
                            f"{type(x).__name__}.")
        if x.is_complex():
            raise TypeError("Input must be real; got a complex tensor. Scatter x.real and "
                            "x.imag separately, or the modulus.")
        if not x.is_floating_point():
            raise TypeError(f"Input must be a floating-point tensor; got {x.dtype}. Convert "
                            f"with x.float() (or x.double() for a .double() transform).")
        if x.dtype != dtype:
            raise TypeError(f"Input dtype {x.dtype} does not match the transform's {dtype}. "
                            f"Convert the input with x.to({dtype}) or the transform with "
                            f".to({x.dtype}).")
        if x.device != ref.device:
            raise ValueError(f"Input is on {x.device} but the transform is on {ref.device}; "
                             f"move one of them with .to(device).")
        if x.ndim < 1 or x.shape[-1] != self.shape[0]:
            length = x.shape[-1] if x.ndim else "N"
            raise ValueError(f"Input's last dimension must be the signal length "
                             f"shape={self.shape[0]}; got an input of shape "
                             f"{tuple(x.shape)}. Build the transform with shape={length} "
                             f"or crop/pad the signal.")
        if x.numel() == 0:
            raise ValueError(f"Input batch is empty (shape {tuple(x.shape)}); pass at least "
                             f"one signal.")
        if not bool(torch.isfinite(x).all()):
            raise ValueError("Input contains NaN or inf; clean the signal first (e.g. "
                             "torch.nan_to_num) so that the scattering is defined.")
        return x

    def _fold(self, spec, names):
        return apply_fold(spec, *(getattr(self, n) for n in names))

    def _lowpass(self, spec, names, m_out):
        """``irfft`` of the low-pass fold: real output at the stride."""
        return torch.fft.irfft(self._fold(spec, names), n=m_out)

    def _finish(self, coef: torch.Tensor, level: int) -> torch.Tensor:
        if self.average == "global":
            return coef.mean(dim=-1, keepdim=True)
        return coef[..., self.ind_start[level]:self.ind_end[level]]

    def _chunks(self, n_items: int, item_bytes: int):
        step = max(1, self.chunk_bytes // max(item_bytes, 1))
        return [(a, min(a + step, n_items)) for a in range(0, n_items, step)]

    def forward(self, x) -> torch.Tensor | list | dict:
        """Scatter ``x`` of shape ``(..., N)``; see the class docstring for the output."""
        x = self._check_input(x)
        batch_shape = x.shape[:-1]
        x = x.reshape(-1, 1, self.shape[0])
        B = x.shape[0]
        xp = nn.functional.pad(x, (self.pad_left, self.pad_right), mode="reflect")[:, 0]
        spec0 = torch.fft.rfft(xp)
        local = self.average == "local"
        s = self.log2_stride
        m_out = self.N_padded >> s
        elt = 16 if x.dtype == torch.float64 else 8   # bytes of one complex value

        coefs: dict[tuple, torch.Tensor] = {}
        if local:
            coefs[()] = self._finish(self._lowpass(spec0, self._s0, m_out), s)
        else:
            coefs[()] = self._finish(xp, 0)

        for g in self._groups:
            k1, n1s = g["k1"], g["n1"]
            m1 = self.N_padded >> k1
            nq = getattr(self, g["psi1"][0]).shape[1]
            u1_parts = []
            for a, b in self._chunks(len(n1s), B * m1 * elt * (nq + 2)):
                names = g["psi1"]
                idx, wre, wim = (getattr(self, n)[a:b] for n in names)
                u1_parts.append(torch.fft.ifft(apply_fold(spec0, idx, wre, wim)).abs())
            u1 = torch.cat(u1_parts, dim=1) if len(u1_parts) > 1 else u1_parts[0]
            if not local and not g["order2"]:
                for i, n1 in enumerate(n1s):
                    coefs[(n1,)] = self._finish(u1[:, i], k1)
                continue
            spec1 = torch.fft.rfft(u1)                                    # (B, G, m1/2+1)
            if local:
                s1 = self._lowpass(spec1, g["phi"], m_out)
                for i, n1 in enumerate(n1s):
                    coefs[(n1,)] = self._finish(s1[:, i], s)
            else:
                for i, n1 in enumerate(n1s):
                    coefs[(n1,)] = self._finish(u1[:, i], k1)
            for o in g["order2"]:
                sel = o["local_n1"]
                spec_sel = spec1 if len(sel) == len(n1s) else spec1[:, sel]
                m2 = m1 >> o["k2"]
                u2 = torch.fft.ifft(self._fold(spec_sel, o["psi2"])).abs()  # (B, G', m2)
                if local:
                    s2 = self._lowpass(torch.fft.rfft(u2), o["phi"], m_out)
                    level = s
                else:
                    s2, level = u2, k1 + o["k2"]
                del m2
                for i, li in enumerate(sel):
                    coefs[(n1s[li], o["n2"])] = self._finish(s2[:, i], level)

        out = [coefs[p] for p in self._paths]
        out = [c.reshape(batch_shape + c.shape[-1:]) for c in out]
        if self.out_type == "array":
            return torch.stack(out, dim=-2)
        if self.out_type == "dict":
            return dict(zip(self._paths, out))
        meta_j = [tuple(self.bank.psi1[n].j if o == 0 else self.bank.psi2[n].j
                        for o, n in enumerate(p)) for p in self._paths]
        return [{"coef": c, "j": j, "n": p, "order": len(p)}
                for c, j, p in zip(out, meta_j, self._paths)]

    #: Kymatio's name for the forward pass.
    scattering = forward

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
        >>> m["xi_hz"][1, 0] == m["xi"][1, 0] * 16000
        True
        """
        paths = self._paths
        order = np.array([len(p) for p in paths])
        n = np.full((len(paths), self.max_order), np.nan)
        for c, p in enumerate(paths):
            n[c, : len(p)] = p
        meta = {"order": order, "key": list(paths), "n": n}
        banks = (self.bank.psi1, self.bank.psi2)
        for key in ("xi", "sigma", "j"):
            arr = np.full_like(n, np.nan)
            for c, p in enumerate(paths):
                for o, idx in enumerate(p):
                    arr[c, o] = getattr(banks[o][idx], key)
            meta[key] = arr
        phi = self.bank.phi
        meta["phi"] = {"xi": 0.0, "sigma": phi.sigma, "j": phi.j, "T": self.T}
        if sample_rate is not None:
            if not sample_rate > 0:
                raise ValueError(f"sample_rate must be positive (Hz); got {sample_rate!r}.")
            fwhm = 2 * math.sqrt(2 * math.log(2))
            meta["xi_hz"] = meta["xi"] * sample_rate
            meta["sigma_hz"] = meta["sigma"] * sample_rate
            meta["bandwidth_hz"] = meta["sigma_hz"] * fwhm
            meta["phi"].update(sigma_hz=phi.sigma * sample_rate,
                               bandwidth_hz=phi.sigma * sample_rate * fwhm,
                               T_seconds=self.T / sample_rate)
        return meta

    def output_size(self, detail: bool = False):
        """Number of output channels ``C`` (or per order with ``detail=True``)."""
        counts = np.bincount([len(p) for p in self._paths], minlength=self.max_order + 1)
        return tuple(int(c) for c in counts) if detail else len(self._paths)

    def extra_repr(self) -> str:
        return (f"J={self.J}, shape={self.shape[0]}, Q={self.Q}, T={self._T_arg!r}, "
                f"stride={2**self.log2_stride}, max_order={self.max_order}, "
                f"filterbank={self.filterbank!r}, channels={len(self._paths)}")
