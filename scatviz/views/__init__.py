"""Views of the scatviz dashboard, each usable alone in a notebook.

>>> from scatviz.views import ScalogramView
>>> ScalogramView.from_signal(x, 8000, J=6, Q1=8)     # doctest: +SKIP
"""

from scatviz.views.base import BaseView, shared_time_range
from scatviz.views.scalogram import ScalogramView
from scatviz.views.signal import SignalView

__all__ = ["BaseView", "shared_time_range", "ScalogramView", "SignalView"]
