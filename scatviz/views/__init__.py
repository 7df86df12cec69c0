"""Views of the scatviz dashboard, each usable alone in a notebook.

Each view is a ``pn.viewable.Viewer`` over a `scatviz.state.ScatState`; build it from a state
shared with other views (views of one page share a `ViewContext`: the time axis, shared
sources), or from a signal; `Controls` are the transform's widgets, bound both ways to a state:

>>> from scatviz.views import ScalogramView
>>> ScalogramView.from_signal(x, 8000, J=6, Q1=8)     # doctest: +SKIP
"""

from scatviz.views.base import BaseView, ViewContext, shared_time_range
from scatviz.views.controls import Controls
from scatviz.views.energies import EnergyView
from scatviz.views.energy_profile import EnergyProfileView
from scatviz.views.fb_heatmap import FilterBankHeatmapView
from scatviz.views.filterbank import FilterBankView
from scatviz.views.joint_wavelets import JointWaveletsView
from scatviz.views.jtfs2d import JTFS2DView
from scatviz.views.jtfs_animation import JTFSAnimationView, export_jtfs_animation
from scatviz.views.scalogram import ScalogramView
from scatviz.views.scattering2 import Scattering2View
from scatviz.views.signal import SignalView
from scatviz.views.spin import SpinInspectorView

__all__ = ["BaseView", "Controls", "ViewContext", "shared_time_range", "SignalView",
           "ScalogramView", "FilterBankView", "EnergyView", "JTFS2DView", "JTFSAnimationView",
           "SpinInspectorView", "Scattering2View", "JointWaveletsView", "FilterBankHeatmapView",
           "EnergyProfileView", "export_jtfs_animation"]
