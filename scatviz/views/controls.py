"""The transform controls: one widget per parameter of a `ScatState`, bound both ways.

Every widget is made with ``from_param``: it takes its bounds (and a selector's choices) from
the state's parameter, a change of the state (a preset, a URL argument, a notebook) moves the
widget, and a widget's release sets the state. Sliders set the state on release
(``value_throttled``), so dragging a handle computes once, when it is let go.

>>> st = ScatState(auto=False)                      # doctest: +SKIP
>>> controls = Controls(st); st.J = 9               # doctest: +SKIP
>>> controls.widgets["J"].value                     # doctest: +SKIP
9
"""

from __future__ import annotations

import panel as pn
import param

from scatviz.state import PRESETS, ScatState
from scatviz.views._workarounds import ReleaseSlider

__all__ = ["Controls", "F_OPTIONS", "T_OPTIONS", "SLIDERS", "nearest_option"]

#: Low-pass supports (samples) the T control offers; 0 means the engine's default 2**J.
T_OPTIONS = {"2^J (default)": 0, **{str(2**k): 2**k for k in range(2, 16)}}
#: Frequential averagings the F control offers; 0 means the engine's default 2**J_fr.
F_OPTIONS = {"1 (none)": 1, **{str(2**k): 2**k for k in range(1, 7)}, "2^J_fr (engine default)": 0}

#: Integer parameters shown as release sliders, with their labels.
SLIDERS = {
    "J": "J (octaves)",
    "Q1": "Q1 (wavelets/octave, order 1)",
    "Q2": "Q2 (order 2)",
    "J_fr": "J_fr (JTFS octaves)",
    "Q_fr": "Q_fr (JTFS wavelets/octave)",
}
#: Parameters shown as a slider over a fixed list of values: (label, options).
DISCRETE = {"T": ("T (averaging, samples)", T_OPTIONS),
            "F": ("F (JTFS freq. averaging)", F_OPTIONS)}


def nearest_option(value: int, options: dict) -> int:
    """The value among ``options`` (label -> int) nearest ``value`` (the first on a tie)."""
    values = list(options.values())
    return min(values, key=lambda v: (abs(v - value), values.index(v)))


class Controls(pn.viewable.Viewer):
    """The transform's controls for one `ScatState`: J, Q1, Q2, T, J_fr, Q_fr, F, the
    filter-bank design, the dB range and a teaching preset.

    ``widgets`` maps each parameter name to its widget. The sliders' bounds are the state's
    parameter bounds (``state.param.J.bounds``...); T and F offer `T_OPTIONS` and
    `F_OPTIONS`; the design offers ``state.param.design.objects``."""

    state = param.ClassSelector(class_=ScatState, constant=True)

    def __init__(self, state: ScatState, **params):
        super().__init__(state=state, **params)
        st = self.state
        w: dict[str, pn.widgets.Widget] = {}
        for name, label in SLIDERS.items():
            w[name] = ReleaseSlider.from_param(st.param[name], label=label, throttled=True,
                                               step=1, sizing_mode="stretch_width")
        for name, (label, options) in DISCRETE.items():
            w[name] = pn.widgets.DiscreteSlider.from_param(
                st.param[name], label=label, options=options, throttled=True,
                sizing_mode="stretch_width")
        w["design"] = pn.widgets.Select.from_param(st.param.design, label="Filter bank design")
        w["db_range"] = pn.widgets.FloatSlider.from_param(
            st.param.db_range, label="dB range", step=5, throttled=True,
            sizing_mode="stretch_width")
        for widget in w.values():
            widget.description = None          # the docstrings' tooltips crowd the sidebar
        self.widgets = w
        self.preset = pn.widgets.Select(label="Teaching preset", options=list(PRESETS))
        self.preset.param.watch(self._on_preset, "value")
        self._layout = pn.Column(self.preset, *(w[k] for k in (
            "J", "Q1", "Q2", "T", "J_fr", "Q_fr", "F", "design", "db_range")),
            sizing_mode="stretch_width", margin=0)

    def _on_preset(self, event) -> None:
        self.state.param.update(**PRESETS[event.new])

    def values(self) -> dict:
        """What each widget shows: parameter name -> value."""
        return {name: widget.value for name, widget in self.widgets.items()}

    def __panel__(self):
        return self._layout
