"""Filter bank validation reports: plots, a self-contained HTML page and a dashboard tab.

The numbers come from `engine.toolkit.validate_filterbank`; this module only draws them.

* `validate_designs(J, Q, shape, ...)` builds the transform once per filter bank design and
  validates it: ``[(label, Report), ...]``.
* `filter_figure`, `lp_figure`: matplotlib figures of one family, the offending filters in red.
* `report_html(...)`: one HTML file that opens offline (plots inlined as base64 PNG), designs
  side by side, with the findings and the parameters.
* `validation_panel(...)`: the same page as a Panel object with a download button.

>>> from scatviz.report import validate_designs, report_html
>>> html = report_html(validate_designs(6, 16, 4096), title="J=6, Q=16")   # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html as _html
import io
from collections.abc import Sequence

import numpy as np

from engine.toolkit import THRESHOLDS, Report, validate_filterbank

__all__ = [
    "validate_designs",
    "filter_figure",
    "lp_figure",
    "figure_png",
    "report_html",
    "write_report",
    "validation_panel",
    "reports_text",
]

BAD = "#d62728"
GOOD = "#1f77b4"
PHI = "#2ca02c"


# --------------------------------------------------------------------------------------------
# Computation (delegated to the engine)
# --------------------------------------------------------------------------------------------

def _available(design: str) -> bool:
    from engine.filterbank import available_designs
    return design in available_designs()


def validate_designs(J: int, Q, shape: int, designs: Sequence[str] | None = None,
                     jtfs: bool = False, J_fr: int | None = None, Q_fr: int = 1,
                     T=None, F=None, thresholds: dict | None = None
                     ) -> list[tuple[str, Report | str]]:
    """Validate the filter banks of one transform setting under several designs.

    Builds ``Scattering1D(J, shape, Q, T, filterbank=design)`` (or
    ``TimeFrequencyScattering(J, J_fr, Q, shape, T, Q_fr=Q_fr, F=F, filterbank=design)`` with
    ``jtfs=True``, whose report adds the frequential family) for each design, and returns
    ``[(design, Report)]``; ``designs`` defaults to every one of
    `engine.available_designs()`. A design that is not registered gives ``(design, message)``
    instead of a report, so a page can say why it is missing.
    """
    from engine.filterbank import available_designs

    if designs is None:
        designs = available_designs()
    out: list[tuple[str, Report | str]] = []
    for design in designs:
        if not _available(design):
            out.append((design, f"The filter bank design {design!r} is not available in this "
                                f"build (available: {', '.join(available_designs())})."))
            continue
        if jtfs:
            from engine.jtfs import TimeFrequencyScattering
            transform = TimeFrequencyScattering(J=J, J_fr=J_fr if J_fr is not None else J - 2,
                                                Q=Q, shape=shape, T=T, Q_fr=Q_fr, F=F,
                                                filterbank=design)
        else:
            from engine import Scattering1D
            transform = Scattering1D(J, shape, Q, T=T, filterbank=design)
        report = validate_filterbank(transform, thresholds=thresholds)
        report.params = {"design": design, **{k: v for k, v in report.params.items()
                                              if k != "design"}}
        out.append((design, report))
    return out


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------

def _figure(width: float, height: float, nrows: int = 1):
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    axes = fig.subplots(nrows, 1, squeeze=False)[:, 0]
    return fig, axes


def filter_figure(report: Report, family: str, title: str | None = None):
    """|psi(f)| of every filter of ``family``: full circle (linear axis) and positive
    frequencies (log axis); filters named by a failed check in red, the low-pass in green."""
    d = report.families[family]
    bad = set(report.offending(family))
    N = d.psi_f.shape[1]
    f = np.fft.fftshift(np.fft.fftfreq(N))
    mag = np.fft.fftshift(np.abs(d.psi_f), axes=1)
    fig, (ax_lin, ax_log) = _figure(7.5, 5.2, 2)
    pos = f > 0
    for k in range(len(mag)):
        is_bad = k in bad
        style = dict(color=BAD if is_bad else GOOD, lw=1.4 if is_bad else 0.7,
                     alpha=1.0 if is_bad else 0.6, zorder=3 if is_bad else 2)
        ax_lin.plot(f, mag[k], **style)
        ax_log.plot(f[pos], mag[k, pos], **style)
    if d.phi_f is not None:
        phi = np.fft.fftshift(np.abs(d.phi_f))
        ax_lin.plot(f, phi, color=PHI, lw=1.0, ls="--", label="phi (low-pass)")
        ax_log.plot(f[pos], phi[pos], color=PHI, lw=1.0, ls="--")
    ax_lin.plot([], [], color=BAD, lw=1.4, label=f"offending ({len(bad)})")
    ax_lin.plot([], [], color=GOOD, lw=0.7, label=f"passing ({len(mag) - len(bad)})")
    ax_lin.legend(loc="upper left", fontsize=8, frameon=False)
    ax_lin.set_xlim(-0.5, 0.5)
    ax_lin.set_xlabel("frequency (cycles/sample), negative frequencies included")
    ax_lin.set_ylabel("|psi(f)|")
    ax_log.set_xscale("log")
    ax_log.set_xlim(1.0 / N, 0.5)
    ax_log.set_xlabel("frequency (cycles/sample), log scale")
    ax_log.set_ylabel("|psi(f)|")
    for ax in (ax_lin, ax_log):
        ax.grid(alpha=0.25)
    ax_lin.set_title(title or f"{family}: {len(mag)} filters, N = {N}", fontsize=10)
    return fig


def lp_figure(report: Report, family: str, title: str | None = None):
    """The Littlewood-Paley sum of ``family`` with the tight-frame level 1, the thresholds and
    the band over which it is judged; its extremes and the filters around the dip marked."""
    d = report.families[family]
    N = len(d.lp)
    f = np.fft.fftshift(np.fft.fftfreq(N))
    A = np.fft.fftshift(d.lp)
    fig, (ax,) = _figure(7.5, 2.8)
    lo, hi = d.lp_band
    ax.axvspan(lo, hi, color="0.92", zorder=0, label="judged band")
    ax.plot(f, A, color="k", lw=1.0, label="LP sum")
    ax.axhline(1.0, color=PHI, lw=0.8, ls="-", label="tight frame (1)")
    th_max = _threshold(report, "lp_max", family)
    ax.axhline(th_max, color=BAD, lw=0.8, ls="--", label=f"lp_max ({th_max:g})")
    band = (f >= lo) & (f <= hi)
    if band.any():
        i_min = np.flatnonzero(band)[np.argmin(A[band])]
        i_max = np.flatnonzero(band)[np.argmax(A[band])]
        ax.plot(f[i_min], A[i_min], "v", color=BAD, ms=7, label=f"min {A[i_min]:.3f}")
        ax.plot(f[i_max], A[i_max], "^", color=BAD, ms=7, label=f"max {A[i_max]:.3f}")
        over = band & (A > th_max)
        if over.any():
            ax.fill_between(f, th_max, A, where=over, color=BAD, alpha=0.3, lw=0)
    if d.analytic:
        ax.set_xlim(0, 0.5)
        ax.set_xlabel("frequency (cycles/sample); negative frequencies folded onto positive")
    else:
        ax.set_xlim(-0.5, 0.5)
        ax.set_xlabel("frequency (cycles/sample)")
    ax.set_ylim(0, max(1.3, float(A.max()) * 1.08))
    ax.set_ylabel("sum |psi|^2 + |phi|^2")
    ax.legend(loc="lower center", fontsize=7, ncol=4, frameon=False)
    ax.grid(alpha=0.25)
    ax.set_title(title or f"{family}: Littlewood-Paley sum", fontsize=10)
    return fig


def _threshold(report: Report, check: str, family: str) -> float:
    for f in report.get(check, family):
        if f.threshold is not None:
            return f.threshold
    return THRESHOLDS[check]


def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (no pyplot state involved)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 1.5em;
       color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.2em; }
h3 { font-size: 1em; margin-bottom: 0.3em; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(640px, 1fr));
        gap: 1.5em; }
.col { border: 1px solid #ddd; border-radius: 6px; padding: 0.8em 1em; }
table { border-collapse: collapse; font-size: 0.85em; width: 100%; }
td, th { border-bottom: 1px solid #eee; padding: 3px 6px; text-align: left;
         vertical-align: top; }
.sev-ok { color: #2a7d2a; font-weight: 600; } .sev-info { color: #555; }
.sev-warning { color: #b8860b; font-weight: 600; } .sev-error { color: #c0392b;
         font-weight: 700; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.85em;
         color: white; } .pass { background: #2a7d2a; } .fail { background: #c0392b; }
img { max-width: 100%; height: auto; }
pre { background: #f6f6f6; padding: 0.6em; font-size: 0.8em; overflow-x: auto; }
.note { color: #555; font-size: 0.9em; }
"""


def _img(fig) -> str:
    data = base64.b64encode(figure_png(fig)).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _findings_table(report: Report) -> str:
    rows = []
    order = {"error": 0, "warning": 1, "info": 2, "ok": 3}
    for f in sorted(report.findings, key=lambda f: (order[f.severity], f.family, f.check)):
        value = "" if f.value is None else f"{f.value:.3g}"
        thr = "" if f.threshold is None else f"{f.threshold:g}"
        rows.append(f"<tr><td class='sev-{f.severity}'>{f.severity}</td>"
                    f"<td>{_html.escape(f.family)}.{_html.escape(f.check)}</td>"
                    f"<td>{value}</td><td>{thr}</td><td>{_html.escape(f.message)}</td></tr>")
    return ("<table><tr><th>severity</th><th>check</th><th>value</th><th>threshold</th>"
            "<th>finding</th></tr>" + "".join(rows) + "</table>")


def _params_table(params: dict) -> str:
    rows = "".join(f"<tr><td>{_html.escape(str(k))}</td><td>{_html.escape(str(v))}</td></tr>"
                   for k, v in params.items())
    return f"<table>{rows}</table>"


def _column(label: str, report: Report | str) -> str:
    parts = [f"<div class='col'><h2>{_html.escape(label)}</h2>"]
    if isinstance(report, str):
        parts.append(f"<p class='note'>{_html.escape(report)}</p></div>")
        return "".join(parts)
    n_bad = len(report.problems)
    badge = ("<span class='badge pass'>all checks pass</span>" if n_bad == 0 else
             f"<span class='badge fail'>{n_bad} problem(s)</span>")
    parts.append(f"<p>{badge}</p><h3>Parameters</h3>{_params_table(report.params)}")
    parts.append(f"<h3>Findings</h3>{_findings_table(report)}")
    for fam in report.families:
        bad = report.offending(fam)
        parts.append(f"<h3>Family {_html.escape(fam)}: "
                     f"{report.families[fam].psi_f.shape[0]} filters, "
                     f"{len(bad)} offending</h3>")
        parts.append(_img(filter_figure(report, fam, f"{label}: {fam}")))
        parts.append(_img(lp_figure(report, fam, f"{label}: {fam} Littlewood-Paley sum")))
    parts.append(f"<details><summary>Text report</summary><pre>"
                 f"{_html.escape(report.text())}</pre></details></div>")
    return "".join(parts)


def report_html(reports: Sequence[tuple[str, Report | str]], title: str = "Filter bank "
                "validation", params: dict | None = None) -> str:
    """One self-contained HTML page (no external resources: it opens offline) with each
    labelled report in a column: parameters, findings table, filter and LP-sum plots with the
    offending filters highlighted, and the text report."""
    head = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_html.escape(title)}</title><style>{_CSS}</style></head><body>")
    intro = [f"<h1>{_html.escape(title)}</h1>"]
    if params:
        intro.append(f"<h3>Requested</h3>{_params_table(params)}")
    intro.append("<p class='note'>Each check, its threshold and the filters it names come "
                 "from <code>engine.toolkit.validate_filterbank</code>; thresholds: "
                 + ", ".join(f"{k} = {v:g}" for k, v in THRESHOLDS.items())
                 + ". Red curves are the filters some check names.</p>")
    cols = "".join(_column(label, rep) for label, rep in reports)
    return head + "".join(intro) + f"<div class='grid'>{cols}</div></body></html>"


def write_report(path, reports, title: str = "Filter bank validation",
                 params: dict | None = None) -> str:
    """Write `report_html` to ``path``; returns the path."""
    from pathlib import Path
    page = report_html(reports, title, params)
    Path(path).write_text(page, encoding="utf-8")
    return str(path)


def reports_text(reports: Sequence[tuple[str, Report | str]]) -> str:
    """The text of every report, one after the other."""
    out = []
    for label, rep in reports:
        out.append(f"=== {label} ===")
        out.append(rep if isinstance(rep, str) else rep.text())
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Dashboard tab
# --------------------------------------------------------------------------------------------

def validation_panel(J: int = 8, Q=12, shape: int = 8192, designs: Sequence[str] | None = None,
                     jtfs: bool = False, J_fr: int | None = None, Q_fr: int = 1,
                     height: int = 900):
    """The validation report as a Panel object: the HTML page in an iframe-free pane, and a
    ``FileDownload`` button that saves the same self-contained file.

    >>> panel_obj = validation_panel(6, 16, 4096)      # doctest: +SKIP
    """
    import panel as pn

    reports = validate_designs(J, Q, shape, designs, jtfs=jtfs, J_fr=J_fr, Q_fr=Q_fr)
    params = dict(J=J, Q=Q, shape=shape, designs=", ".join(d for d, _ in reports), jtfs=jtfs)
    if jtfs:
        params.update(J_fr=J_fr, Q_fr=Q_fr)
    page = report_html(reports, f"Filter bank validation: J={J}, Q={Q}, N={shape}", params)
    name = f"filterbank_report_J{J}_Q{Q}_N{shape}{'_jtfs' if jtfs else ''}.html"

    def _payload():
        return io.BytesIO(page.encode("utf-8"))

    download = pn.widgets.FileDownload(callback=_payload, filename=name,
                                       label="Download the report (HTML)")
    summary = pn.pane.Markdown(
        "\n".join(f"- **{lbl}**: " + (rep if isinstance(rep, str) else
                                      f"{len(rep.problems)} problem(s) in "
                                      f"{len(rep.findings)} checks")
                  for lbl, rep in reports))
    body = pn.pane.HTML(page, sizing_mode="stretch_width", height=height,
                        styles={"overflow-y": "auto"})
    return pn.Column(pn.Row(download, summary), body, sizing_mode="stretch_width")
