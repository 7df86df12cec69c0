"""`DemoPage`: a teaching demo's page, with its first picture at once and its long runs in a
background job (a progress bar and a stop button).

On opening, the page draws the stored first picture (`scatviz.demos.precompute.load_first`).
When none is stored for the current code and setting, it computes it in a background `Job`,
with the progress bar running, and stores it for the next visitor. The run button computes
the student's own setting the same way; the stop button ends that run at its next progress
report. A periodic callback of the page's document (every `POLL_MS`) moves the job's
progress into the widgets: Bokeh models are only touched from the document's own thread.
Without a server (tests, notebooks) call `poll` after `Job.wait`.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import panel as pn
import param

from scatviz.demos import precompute, store
from scatviz.demos.jobs import Job
from scatviz.views.nav import AppPage, warming

__all__ = ["DemoPage", "POLL_MS"]

#: How often (ms) a served page moves a running job's progress into its widgets.
POLL_MS = 300


class DemoPage(AppPage):
    """Base of the demos' pages: subclasses set ``slug``, ``title``, ``demo`` (a name of
    `scatviz.demos.precompute.DEMOS`), build their controls and views in ``_build()``, draw
    a result in ``show(result, setting)``, optionally a running job's partial result in
    ``show_partial(partial)``, and give the student's setting in ``setting()``."""

    demo: ClassVar[str] = ""
    status = param.String(default="", doc="What the page shows, or what it is computing.")
    shown = param.Integer(default=0, doc="Number of results drawn (for tests).")

    def __init__(self, compute_first: bool = True, **params):
        super().__init__(**params)
        self.t_open = time.perf_counter()
        #: Seconds from the page's construction to its first drawn result (server side).
        self.first_picture_s: float | None = None
        self.job: Job | None = None
        self._job_setting: dict | None = None
        self._poller = None
        self.run_button = pn.widgets.Button(label="Run with these settings",
                                            button_type="primary")
        self.stop_button = pn.widgets.Button(label="Stop", button_type="warning",
                                             disabled=True)
        self.progress = pn.indicators.Progress(value=0, max=100, visible=False,
                                               sizing_mode="stretch_width", height=12,
                                               name="progress")
        self.status_pane = pn.pane.Markdown("", name="status", sizing_mode="stretch_width")
        self.param.watch(lambda e: setattr(self.status_pane, "object", e.new), "status")
        self.run_button.on_click(lambda e: self.run(self.setting()))
        self.stop_button.on_click(lambda e: self.stop())
        self._build()
        first = precompute.first_setting(self.demo)
        res = precompute.load_first(self.demo, first)
        if res is not None:
            self._show(res, first, "stored first picture")
        elif compute_first and not warming():
            self.status = "Computing the first picture (not stored yet for this code)…"
            self.run(first)

    # ---- to override -----------------------------------------------------------------------

    def _build(self) -> None:
        raise NotImplementedError

    def setting(self) -> dict:
        """The student's setting, from the controls."""
        raise NotImplementedError

    def show(self, result: Any, setting: dict) -> None:
        raise NotImplementedError

    def compute(self, setting: dict, progress) -> Any:
        """The result of ``setting`` (in the job's thread; default: the demo's own,
        `scatviz.demos.precompute.compute`)."""
        return precompute.compute(self.demo, setting, progress)

    def show_partial(self, partial: Any) -> None:
        """Draw what a running job has so far (default: nothing)."""

    def describe(self, result: Any, setting: dict) -> str:
        return ""

    # ---- jobs ------------------------------------------------------------------------------

    def run(self, setting: dict) -> Job:
        """Compute ``setting`` in a background job (a stored result is shown at once)."""
        if self.job is not None and self.job.running:
            self.job.stop()
        stored = store.load_result(store.result_key(self.demo, setting))
        if stored is not None:
            self._show(stored, setting, "stored")
            self.job = None
            return None
        self.job = Job(lambda progress: self.compute(setting, progress), self.demo)
        self._job_setting = setting
        self.progress.param.update(value=0, visible=True)
        self.run_button.disabled, self.stop_button.disabled = True, False
        self.job.start()
        self._start_polling()
        return self.job

    def stop(self) -> None:
        if self.job is not None:
            self.job.stop()

    def _start_polling(self) -> None:
        if pn.state.curdoc is None or self._poller is not None:
            return
        self._poller = pn.state.add_periodic_callback(self.poll, period=POLL_MS)

    def on_served(self) -> None:
        if self.job is not None and self.job.running:
            self._start_polling()

    def poll(self) -> None:
        """Move the job's progress into the widgets; draw its result when it ends."""
        job = self.job
        if job is None:
            return
        self.progress.value = int(100 * job.fraction)
        if job.message:
            self.status = f"Computing… {job.message}"
        if job.partial is not None:
            self.show_partial(job.partial)
        if job.running:
            return
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        self.progress.visible = False
        self.run_button.disabled, self.stop_button.disabled = False, True
        if job.state == "done":
            store.store_result(store.result_key(self.demo, self._job_setting), job.result)
            self._show(job.result, self._job_setting, f"computed in {job.seconds:.1f} s")
        elif job.state == "stopped":
            self.status = (f"Stopped at {job.done}/{job.total}; the picture above is the "
                           "last finished one.")
        else:
            self.status = f"The run failed: {job.error}"
        self.job = None

    def _show(self, result: Any, setting: dict, how: str) -> None:
        self.show(result, setting)
        self.shown += 1
        if self.first_picture_s is None:
            self.first_picture_s = time.perf_counter() - self.t_open
        text = self.describe(result, setting)
        self.status = f"{text} ({how})" if text else how.capitalize()

    @staticmethod
    def signal_column(view, scalogram=None, *above) -> pn.Column:
        """A `SignalView`'s waveform, its audio player under it (full width: in a narrow
        column the view's own row gives the player no room) and its info line, then the
        scalogram."""
        parts = [*above, view.pane, view.audio, view.info]
        return pn.Column(*parts, *([scalogram] if scalogram is not None else []),
                         sizing_mode="stretch_width")

    def controls(self) -> list:
        """The run and stop buttons, the progress bar and the status line."""
        return [pn.Row(self.run_button, self.stop_button), self.progress, self.status_pane]
