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
from engine import signals  # noqa: E402
from engine.datasets import fetch_fsdd  # noqa: E402
from engine.toolkit import (  # noqa: E402
    coeff_distance,
    coeff_energy,
    energy_conservation,
    normalize,
    pack_coeffs_jtfs,
    validate_filterbank,
)

__all__ += ["validate_filterbank", "energy_conservation", "coeff_energy", "coeff_distance",
            "pack_coeffs_jtfs", "normalize", "fetch_fsdd", "signals"]
