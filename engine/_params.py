"""The parameters of the engine's transforms: one parser for Scattering1D and JTFS.

Each function checks one constructor argument against Kymatio's rules and returns it in the
form the transforms use. Errors are `ValueError`/`TypeError` that say what was wrong, what is
allowed and how to fix it; where Kymatio's front end has a message for the same mistake, ours
contains Kymatio's words too, so that code matching them keeps working.

>>> N = parse_shape(1000); J = parse_J(6, N); T, average = parse_T(None, J, N)
>>> (N, J, T, average, parse_Q((8,)), padded_length(N, T))
(1000, 6, 64, 'local', (8, 1), 2048)
"""

from __future__ import annotations

import math
import numbers
import warnings

from engine.filterbank import SIGMA0, gauss_1d, temporal_support

__all__ = ["parse_shape", "parse_J", "parse_Q", "parse_T", "parse_max_order", "parse_out_type",
           "parse_oversampling", "parse_stride", "parse_sample_rate", "padded_length",
           "compute_padding", "border_indices", "parse_J_fr", "parse_Q_fr", "parse_stride_fr",
           "parse_format", "parse_choice"]


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def parse_shape(shape) -> int:
    """The signal length ``N`` (samples) from ``shape``: a positive integer or a 1-tuple."""
    if _is_int(shape):
        shape = (int(shape),)
    if not isinstance(shape, tuple) or len(shape) != 1 or not _is_int(shape[0]) or shape[0] < 1:
        raise ValueError(f"shape must be a positive integer or a 1-tuple (a tuple with exactly "
                         f"one element, the signal length in samples); got {shape!r}. Pass "
                         f"e.g. shape=4096 or shape=(4096,).")
    return int(shape[0])


def parse_J(J, N: int, name: str = "J") -> int:
    """The number of octaves: an integer ``J >= 1`` with ``2**J <= N``."""
    if not _is_int(J) or J < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {J!r}.")
    if 2**J > N:
        raise ValueError(f"{name}={J} is too large for signals of length {N}: the wavelets "
                         f"need 2**{name} <= shape. Use {name} <= {int(math.log2(N))} or pass "
                         f"longer signals.")
    return int(J)


def parse_Q(Q) -> tuple[int, int]:
    """Wavelets per octave ``(Q1, Q2)`` from an integer ``Q1``, ``(Q1,)`` or ``(Q1, Q2)``.

    As in Kymatio, a value below 1 is a `ValueError` (checked first, so ``Q=0.9`` is one), and
    so is a list (pass a tuple); a value of another type is a `TypeError`.
    """
    items = Q if isinstance(Q, (tuple, list)) else (Q,)
    if any(isinstance(q, numbers.Real) and not isinstance(q, bool) and q < 1 for q in items):
        raise ValueError(f"Q must be >= 1 (wavelets per octave); got Q={Q!r}. Q must always "
                         f"be >= 1 at each order: pass e.g. Q=8 or Q=(8, 2).")
    if isinstance(Q, list):
        raise ValueError(f"Q must be an integer or a tuple (Q1,) or (Q1, Q2); got the list "
                         f"{Q!r}. Pass Q=tuple(Q).")
    if _is_int(Q):
        Q = (int(Q), 1)
    elif isinstance(Q, tuple) and 1 <= len(Q) <= 2:
        Q = Q + ((1,) if len(Q) == 1 else ())
    else:
        raise TypeError(f"Q must be an integer or a pair (Q1, Q2) of integers; got {Q!r}. "
                        f"Scattering beyond order 2 is not implemented.")
    if not all(_is_int(q) for q in Q):
        raise TypeError(f"Q must be an integer or a pair (Q1, Q2) of integers; got {Q!r}.")
    return int(Q[0]), int(Q[1])


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


def parse_max_order(max_order) -> int:
    """The highest scattering order: 1 or 2."""
    if max_order not in (1, 2) or isinstance(max_order, bool):
        raise ValueError(f"max_order must be 1 or 2; got {max_order!r}.")
    return int(max_order)


def parse_out_type(out_type, average, allowed=("array", "list", "dict")) -> str:
    """The output format, one of ``allowed``; ``"array"`` needs averaging (``average``
    not False), since unaveraged orders have different lengths."""
    if out_type not in allowed:
        names = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"out_type must be one of {names}; got {out_type!r}.")
    if average is False and out_type == "array":
        raise ValueError("T=0 gives outputs of different lengths per order, which cannot be "
                         "stacked: Cannot convert to out_type='array' with T=0. Please set "
                         "out_type to one that keeps them apart, out_type='list' or 'dict', "
                         "or set T > 0.")
    return out_type


def parse_oversampling(oversampling) -> int:
    """Kymatio's deprecated ``oversampling``: a nonnegative integer."""
    if not _is_int(oversampling) or oversampling < 0:
        raise ValueError(f"oversampling must be a nonnegative integer; got {oversampling!r}.")
    return int(oversampling)


def parse_stride(stride, oversampling: int, log2_T: int, average, T_arg=None) -> int:
    """``log2`` of the output's time step from ``stride`` (a power of two at most ``T``,
    only with local averaging) or the deprecated ``oversampling`` (``T / 2**oversampling``).
    ``T_arg`` is the ``T`` the user passed, for the messages."""
    if oversampling > 0:
        warnings.warn("oversampling is deprecated; pass stride = T // 2**oversampling.",
                      DeprecationWarning, stacklevel=3)
        if stride is not None:
            raise ValueError("stride and oversampling are incompatible: pass either stride or "
                             "oversampling (stride = T // 2**oversampling), not both.")
        return max(log2_T - oversampling, 0)
    if stride is None:
        return log2_T
    if average != "local":
        raise ValueError(f"stride={stride!r} needs local averaging; it is incompatible with "
                         f"T={T_arg!r}. Drop stride, or pass an integer T.")
    if not _is_int(stride) or stride < 1 or stride & (stride - 1):
        raise ValueError(f"stride must be a power of two (an integer 1, 2, 4, ...); got "
                         f"{stride!r}.")
    log2_stride = int(stride).bit_length() - 1
    if log2_stride > log2_T:
        raise ValueError(f"stride={stride} exceeds the low-pass support T={2**log2_T}, which "
                         f"would alias; use stride <= {2**log2_T}.")
    return log2_stride


def parse_sample_rate(sample_rate) -> float | None:
    """``None`` or a positive sample rate in Hz."""
    if sample_rate is None:
        return None
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
        raise TypeError(f"sample_rate must be None or a number of Hz; got {sample_rate!r}.")
    if not sample_rate > 0 or not math.isfinite(sample_rate):
        raise ValueError(f"sample_rate must be positive (Hz); got {sample_rate!r}.")
    return float(sample_rate)


def parse_J_fr(J_fr, n1: int, J: int, Q1: int) -> int:
    """JTFS's frequential octaves: an integer ``J_fr >= 1`` with ``2**J_fr <= n1``, the
    number of first-order wavelets (of ``J`` octaves, ``Q1`` per octave)."""
    if not _is_int(J_fr) or J_fr < 1:
        raise ValueError(f"J_fr must be an integer >= 1; got {J_fr!r}.")
    jfr_max = int(math.floor(math.log2(n1)))
    if J_fr > jfr_max:
        raise ValueError(f"J_fr={J_fr} is too large for the N1={n1} first-order wavelets "
                         f"(J={J}, Q={Q1}): frequential wavelets need 2**J_fr <= N1. Use "
                         f"J_fr <= {jfr_max}, or a larger Q or J.")
    return int(J_fr)


def parse_Q_fr(Q_fr) -> int:
    """JTFS's frequential wavelets per octave from an integer or a 1-tuple, as Kymatio
    (whose messages, "Q_fr must be >= 1" and "Q_fr must be an integer or 1-tuple", ours
    contain)."""
    items = Q_fr if isinstance(Q_fr, (tuple, list)) else (Q_fr,)
    if any(isinstance(q, numbers.Real) and not isinstance(q, bool) and q < 1 for q in items):
        raise ValueError(f"Q_fr must be >= 1 (frequential wavelets per octave); got "
                         f"Q_fr={Q_fr!r}. Pass e.g. Q_fr=1 or Q_fr=(2,).")
    if isinstance(Q_fr, tuple) and len(Q_fr) == 1:
        Q_fr = Q_fr[0]
    if not _is_int(Q_fr):
        raise ValueError(f"Q_fr must be an integer or 1-tuple. Got {Q_fr!r}: pass e.g. "
                         f"Q_fr=1 or Q_fr=(1,) (one frequential order only).")
    return int(Q_fr)


def _log2_pow2(value, name: str, limit: int, limit_name: str) -> int:
    if not _is_int(value) or value < 1 or value & (value - 1):
        raise ValueError(f"{name} must be a power of two; got {value!r}.")
    if value > limit:
        raise ValueError(f"{name}={value} exceeds {limit_name}={limit}, which would "
                         f"alias; use {name} <= {limit}.")
    return int(value).bit_length() - 1


def parse_stride_fr(stride_fr, F: int, average_fr) -> int:
    """``log2`` of JTFS's step along ``n1``: ``stride_fr`` a power of two at most ``F``
    rounded down to a power of two (default that power), only with local frequential
    averaging (``average_fr == "local"``); 0 without averaging or with ``"global"``."""
    if average_fr is False:
        if stride_fr not in (None, 1):
            raise ValueError(f"average_fr=False (or F=0) keeps every n1: stride_fr must be 1 "
                             f"or None; got {stride_fr!r}.")
        return 0
    if average_fr == "global":
        if stride_fr is not None:
            raise ValueError("stride_fr is incompatible with F='global'.")
        return 0
    limit = 1 << (F.bit_length() - 1)
    if stride_fr is None:
        return limit.bit_length() - 1
    return _log2_pow2(stride_fr, "stride_fr", limit, "F (rounded down to a power of two)")


def parse_choice(value, name: str, allowed: tuple, what: str = "") -> str:
    """``value`` if it is one of ``allowed``, else a ValueError naming them."""
    if value not in allowed or not isinstance(value, str):
        names = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {names}{what}; got {value!r}.")
    return value


def parse_format(format) -> str:
    """JTFS's output layout: ``"time"`` ``(..., C, time)`` or ``"joint"``
    ``(..., C, F_bins, time)`` (Kymatio's words, "format must be", included)."""
    if format not in ("time", "joint"):
        raise ValueError(f"format must be 'time' ((..., C, time)) or 'joint' "
                         f"((..., C, F_bins, time)); got {format!r}.")
    return format


def padded_length(N: int, T: int) -> int:
    """Kymatio's padded length (a power of two) for ``N`` samples and a low-pass of support
    ``T``: room for 3 low-pass half-supports on each side, capped so that the reflection
    never exceeds the signal (``< 3 N - 2``)."""
    phi_f = gauss_1d(N, SIGMA0 / T)
    min_to_pad = 3 * temporal_support(phi_f[None], criterion=1e-3)
    J_pad = min(int(math.ceil(math.log2(N + 2 * min_to_pad))),
                int(math.floor(math.log2(3 * N - 2))))
    return 2**J_pad


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
