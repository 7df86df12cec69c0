"""Long recordings (minutes to hours, 8-192 kHz): an overview of the whole file plus a detail
window on which the full analysis runs, as audio editors and bioacoustics tools show them.

* `scatviz.longrec.overview`: the waveform envelope and a coarse scalogram of the whole
  recording, computed block by block in bounded memory (no view imports);
* `scatviz.longrec.window`: the detail window's length from a cost model, and its samples
  read from the file by seek;
* `scatviz.longrec.session`: sets a session state's signal to the window's samples.

The view is `scatviz.views.overview.RecordingOverview`.
"""
