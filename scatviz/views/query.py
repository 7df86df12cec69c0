"""URL arguments of the dashboard, validated like the widgets' values.

``/dashboard?asset=vibrato&J=7&Q1=12``, ``?gen=exponential_chirp&N=65536&sr=22050``,
``?theme=dark``. A value a widget could not take is replaced by the nearest one it can (a
number outside its slider's bounds, a length or rate not offered) or by the default (an
unknown name), and each replacement leaves a note that the page shows.

>>> q = parse_query({"J": [b"99"], "theme": [b"bogus"]})
>>> q.settings["J"], q.theme
(16, 'default')
>>> len(q.notes)
2
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine import available_designs
from scatviz import signals_io
from scatviz.server.workers import hooks_enabled
from scatviz.state import ScatState
from scatviz.views.controls import DISCRETE, SLIDERS, nearest_option

__all__ = ["GEN_LENGTHS", "GEN_RATES", "THEMES", "QueryArgs", "parse_query"]

#: The generator's lengths (samples) and sample rates (Hz), as its selectors offer them.
GEN_RATES = [8000, 16000, 22050, 44100]
GEN_LENGTHS = [2048, 4096, 8192, 16384, 32768, 65536]
#: Panel's themes; the first is the default.
THEMES = ("default", "dark")


@dataclass
class QueryArgs:
    """What the URL asks for, every value one the page's widgets can show.

    settings: `ScatState` parameter values; asset: a bundled asset's name or None;
    generator: ``(name, N samples, sample rate Hz)`` or None; theme: one of `THEMES`;
    notes: one sentence per argument that was replaced or ignored; hook: a test-only worker
    hook (``test_hook=abort|memory|hang``), read only when the server runs with
    ``SCATVIZ_TEST_HOOKS=1`` (`scatviz.server.workers`), otherwise ignored silently."""

    settings: dict = field(default_factory=dict)
    asset: str | None = None
    generator: tuple[str, int, float] | None = None
    theme: str = THEMES[0]
    notes: list[str] = field(default_factory=list)
    hook: str | None = None


def _get(args: dict, key: str) -> str | None:
    v = args.get(key)
    if isinstance(v, list):
        v = v[0] if v else None
    v = v.decode(errors="replace") if isinstance(v, bytes) else v
    return None if v is None else str(v).strip()


def _integer(q: QueryArgs, key: str, text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        q.notes.append(f"URL argument {key}={text!r} is not a whole number: ignored.")
        return None


def _nearest(q: QueryArgs, key: str, value: int, allowed: list[int], what: str) -> int:
    best = min(allowed, key=lambda v: (abs(v - value), allowed.index(v)))
    if best != value:
        q.notes.append(f"URL argument {key}={value} is not {what} "
                       f"({', '.join(map(str, allowed))}): using {key}={best}.")
    return best


def parse_query(args: dict | None, generators: dict | None = None) -> QueryArgs:
    """Validate URL query arguments (``pn.state.session_args``: name -> list of bytes).

    Sliders' parameters (J, Q1, Q2, J_fr, Q_fr, db_range) are clamped to the `ScatState`
    parameter's bounds; T and F snap to the nearest value their controls offer; ``design``
    must be a registered design, ``asset`` a bundled signal, ``gen`` one of ``generators``
    (name -> function; `engine.signals.SIGNALS` by default) with ``N`` and ``sr`` snapped to
    `GEN_LENGTHS` and `GEN_RATES`; ``theme`` one of `THEMES`. Never raises."""
    args = args or {}
    q = QueryArgs()
    for key in SLIDERS:
        text = _get(args, key)
        if text is None or (v := _integer(q, key, text)) is None:
            continue
        lo, hi = ScatState.param[key].bounds
        c = min(max(v, lo), hi)
        if c != v:
            q.notes.append(f"URL argument {key}={v} is outside {lo}..{hi}: using {key}={c}.")
        q.settings[key] = c
    for key, (_, options) in DISCRETE.items():
        text = _get(args, key)
        if text is None or (v := _integer(q, key, text)) is None:
            continue
        best = nearest_option(v, options)
        if best != v:
            q.notes.append(f"URL argument {key}={v} is not offered by the {key} control: "
                           f"using the nearest, {key}={best}.")
        q.settings[key] = best
    db = _get(args, "db_range")
    if db is not None:
        try:
            v = float(db)
        except ValueError:
            q.notes.append(f"URL argument db_range={db!r} is not a number: ignored.")
        else:
            lo, hi = ScatState.param.db_range.bounds
            c = min(max(v, lo), hi) if np.isfinite(v) else ScatState.param.db_range.default
            if c != v:
                q.notes.append(f"URL argument db_range={db} is outside {lo:g}..{hi:g}: "
                               f"using db_range={c:g}.")
            q.settings["db_range"] = c
    design = _get(args, "design")
    if design is not None:
        if design in available_designs():
            q.settings["design"] = design
        else:
            q.notes.append(f"URL argument design={design!r} is not a registered design "
                           f"({', '.join(available_designs())}): ignored.")
    asset = _get(args, "asset")
    if asset is not None:
        if asset in signals_io.list_assets():
            q.asset = asset
        else:
            q.notes.append(f"URL argument asset={asset!r} is not a bundled signal "
                           f"({', '.join(signals_io.list_assets())}): using the default.")
    gen = _get(args, "gen")
    if gen:
        if generators is None:
            from engine.signals import SIGNALS as generators
        if gen not in generators:
            q.notes.append(f"URL argument gen={gen!r} is not a generator "
                           f"({', '.join(sorted(generators))}): ignored.")
        else:
            n_text, sr_text = _get(args, "N"), _get(args, "sr")
            N = _integer(q, "N", n_text) if n_text else None
            sr = _integer(q, "sr", sr_text) if sr_text else None
            N = _nearest(q, "N", N, GEN_LENGTHS, "an offered length") if N else 8192
            sr = _nearest(q, "sr", sr, GEN_RATES, "an offered sample rate") if sr else 8000
            q.generator = (gen, N, float(sr))
    hook = _get(args, "test_hook")
    if hook in ("abort", "memory", "hang") and hooks_enabled():
        q.hook = hook
    theme = _get(args, "theme")
    if theme is not None:
        theme = theme.strip("'\"")
        if theme in THEMES:
            q.theme = theme
        else:
            q.notes.append(f"URL argument theme={theme!r} is not a theme "
                           f"({', '.join(THEMES)}): using the default theme.")
    return q
