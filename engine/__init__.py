"""scatviz engine: differentiable wavelet scattering and JTFS in PyTorch.

The engine never imports panel, bokeh or holoviews: it is usable alone, in a training loop
or on a GPU.

>>> from engine import Scattering1D        # drop-in for kymatio.torch.Scattering1D
"""

from engine.filterbank import FilterBank, available_designs, build_filterbank
from engine.jtfs import TimeFrequencyScattering
from engine.scattering1d import Scattering1D

__all__ = ["Scattering1D", "FilterBank", "build_filterbank", "available_designs"]
__all__ += ["TimeFrequencyScattering"]
