"""The cost of a session's setting, said before anything is allocated, and the policy that
turns it into "run", "reduce" or "refuse".

A setting's cost is the cost of the transforms the dashboard runs for it
(`scatviz.pipeline.compute_transforms`): the order-2 `Scattering1D` (whose first-order moduli
are the scalogram, kept: `scalogram_cost`), the unaveraged order-1 module when ``T`` is
shorter than the largest wavelets, and the JTFS when the session computes it. They run one
after another, each output kept, so the peak is the largest of ``peak_i + outputs of the
transforms before i``.

Each transform's cost comes from the engine (``engine.estimate_cost(kind, shape, ...)``, a
`engine.Cost`: Scattering1D's model in `engine.cost`, JTFS's in `engine.jtfs.cost`); this
module is the only place that asks it.

`plan_request` is the policy: a setting whose peak fits the per-request budget runs on the
whole signal; one that does not runs on the longest prefix that fits (a note says so); one
whose shortest useful prefix does not fit is refused with what is allowed.

>>> plan = plan_request(2**20, 8000.0, dict(J=6, Q1=8, Q2=1, T=0, J_fr=3, Q_fr=1, F=1,
...                     design="kymatio", with_jtfs=False), budget_bytes=2**40)
>>> plan.ok and plan.samples == 2**20
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from engine._costs import BudgetError, Cost, format_bytes

__all__ = ["SettingCost", "Plan", "setting_cost", "plan_request", "transforms_for",
           "scalogram_cost", "MIN_SAMPLES"]

#: The shortest prefix worth analysing (samples); shorter than this is refused.
MIN_SAMPLES = 256

Estimator = Callable[..., Cost]


@dataclass(frozen=True)
class SettingCost:
    """The cost of one setting on ``samples`` samples: the peak working memory (bytes), the
    outputs kept (bytes), a rough time (s) and each transform's `Cost` (``parts``)."""

    samples: int
    peak_bytes: int
    output_bytes: int
    seconds: float
    parts: dict = field(default_factory=dict)

    @property
    def jtfs(self):
        """The JTFS transform's `Cost` among ``parts`` (None without JTFS)."""
        return next((c for k, c in self.parts.items() if k.startswith("jtfs#")), None)

    def __str__(self) -> str:
        return (f"peak {format_bytes(self.peak_bytes)}, results "
                f"{format_bytes(self.output_bytes)}, about {self.seconds:.2g} s")


@dataclass(frozen=True)
class Plan:
    """What to do with a request: ``ok`` (run it on the first ``samples`` samples), the
    ``cost`` of that, and a ``message`` for the page when it was reduced or refused."""

    ok: bool
    samples: int
    cost: SettingCost | None
    message: str = ""

    @property
    def reduced(self) -> bool:
        return self.ok and bool(self.message)


def transforms_for(settings: dict) -> list[tuple[str, dict]]:
    """The transforms `compute_transforms` runs for ``settings`` (`ScatState.settings()`):
    ``[(kind, params)]`` in the engine's parameter names."""
    J, Q = int(settings["J"]), (int(settings["Q1"]), int(settings["Q2"]))
    T = int(settings.get("T") or 0) or None
    design = settings.get("design")
    out = [("scattering1d", dict(J=J, Q=Q, T=T, max_order=2, filterbank=design))]
    if T is not None and T < 2**J:        # the scalogram then needs the unaveraged module
        out.append(("scattering1d", dict(J=J, Q=Q, T=0, max_order=1, filterbank=design)))
    if settings.get("with_jtfs", True):
        F = int(settings.get("F") or 0) or None
        out.append(("jtfs", dict(J=J, J_fr=int(settings["J_fr"]), Q=Q, T=T,
                                 Q_fr=int(settings["Q_fr"]), F=F, filterbank=design)))
    return out


def scalogram_cost(samples: int, settings: dict) -> Cost:
    """What the dashboard keeps beside the engine's outputs: the first-order moduli as the
    scalogram (``J*Q1 + 1`` rows at most ``N`` float32 each: an upper bound, each row is at
    its wavelet's stride) and their copy into numpy and onto the display grid (x2)."""
    n1 = int(settings["J"]) * int(settings["Q1"]) + 1
    out = n1 * int(samples) * 4
    return Cost(peak_bytes=2 * out, output_bytes=out, output_shape=(1, n1, int(samples)),
                seconds=0.0)


def setting_cost(samples: int, settings: dict, *, estimator: Estimator | None = None
                 ) -> SettingCost:
    """The cost of the dashboard's transforms for ``settings`` on ``samples`` samples.

    ``estimator(kind, shape, batch=1, **params) -> engine.Cost`` (default: the engine's
    ``estimate_cost``). Raises `engine.BudgetError` (or the engine's ValueError) when a
    transform cannot run on that length at all."""
    if estimator is None:
        from engine import estimate_cost as estimator
    est = estimator
    peak = out = 0
    seconds = 0.0
    parts = {}
    for i, (kind, params) in enumerate(transforms_for(settings)):
        c = est(kind, int(samples), 1, **params)
        parts[f"{kind}#{i}"] = c
        peak = max(peak, out + int(c.peak_bytes))
        out += int(c.output_bytes)
        seconds += float(c.seconds)
        if i == 0:                          # the order-2 pass also gives the scalogram
            sc = parts["scalogram"] = scalogram_cost(samples, settings)
            peak = max(peak, out + sc.peak_bytes)
            out += sc.output_bytes
    return SettingCost(int(samples), int(peak), int(out), seconds, parts)


def _fits(samples, settings, budget, est):
    try:
        c = setting_cost(samples, settings, estimator=est)
    except (BudgetError, ValueError, TypeError):
        return None
    return c if c.peak_bytes <= budget else None


def plan_request(samples: int, sample_rate: float, settings: dict, *, budget_bytes: int,
                 estimator: Estimator | None = None, min_samples: int = MIN_SAMPLES) -> Plan:
    """Run, reduce or refuse one request, before anything is allocated.

    ``samples``: the signal's length; ``sample_rate`` (Hz) for the messages; ``settings``
    (`ScatState.settings()`); ``budget_bytes``: what this request may use. Reduction keeps the
    setting and analyses the longest prefix that fits (found by bisection on the length: the
    cost grows with it); the plan's message says what was too large and what is allowed.

    An invalid setting for the length (the engine's ValueError other than a budget) is not
    this policy's business: the plan says ok and the transform reports it.
    """
    if estimator is None:
        from engine import estimate_cost as estimator
    est = estimator
    samples = int(samples)
    try:
        full = setting_cost(samples, settings, estimator=est)
    except BudgetError as exc:
        full, why = None, str(exc)
    except (ValueError, TypeError):
        return Plan(True, samples, None)          # the transform says what is wrong
    else:
        why = ""
        if full.peak_bytes <= budget_bytes:
            return Plan(True, samples, full)
    lo, hi = min_samples, samples                  # largest n in [lo, hi) that fits
    best = _fits(lo, settings, budget_bytes, est) if lo < samples else None
    if best is None:
        need = f"{format_bytes(full.peak_bytes)}" if full else why
        return Plan(False, 0, full, (
            f"Too large for this server: at J={settings['J']}, Q1={settings['Q1']} "
            f"{'with' if settings.get('with_jtfs', True) else 'without'} JTFS this signal "
            f"({samples} samples, {samples / sample_rate:.1f} s) needs {need}, and one "
            f"request may use {format_bytes(budget_bytes)}. Lower J or Q1, turn JTFS off, "
            f"or use a shorter signal."))
    n_best = lo
    for _ in range(40):                            # bisection on the length (bounded)
        if hi - lo <= max(64, hi // 1000):
            break
        mid = (lo + hi) // 2
        c = _fits(mid, settings, budget_bytes, est)
        if c is None:
            hi = mid
        else:
            lo, n_best, best = mid, mid, c
    n_best -= n_best % 64 if n_best > 64 else 0
    n_best = max(n_best, min_samples)
    need = format_bytes(full.peak_bytes) if full else "more than any budget"
    return Plan(True, n_best, best, (
        f"Analysing the first {n_best / sample_rate:.2f} s of {samples / sample_rate:.2f} s: "
        f"the whole signal at this setting needs {need}, and one request may use "
        f"{format_bytes(budget_bytes)} (this part: {best})."))
