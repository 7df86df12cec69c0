"""scatviz engine: differentiable wavelet scattering and JTFS in PyTorch.

The engine never imports panel, bokeh or holoviews: it is usable alone, in a training loop
or on a GPU.

>>> from engine import Scattering1D              # drop-in for kymatio.torch.Scattering1D
>>> from engine import TimeFrequencyScattering   # JTFS whose spins separate rising/falling
"""

from engine import signals
from engine._costs import BudgetError, Cost
from engine.blocks import BlockTransform
from engine.cost import estimate_cost
from engine.datasets import fetch_fsdd
from engine.design import Design
from engine.filterbank import (
    FilterBank,
    available_designs,
    build_filterbank,
    get_design,
    register_design,
)
from engine.jtfs import TimeFrequencyScattering
from engine.scattering1d import Scattering1D
from engine.stream import scatter_file, scatter_stream
from engine.toolkit import (
    coeff_distance,
    coeff_energy,
    energy_conservation,
    normalize,
    pack_coeffs_jtfs,
    validate_filterbank,
)

__all__ = [
    # transforms
    "Scattering1D", "TimeFrequencyScattering", "BlockTransform", "scatter_file",
    "scatter_stream",
    # filter banks
    "FilterBank", "build_filterbank", "available_designs", "register_design", "get_design",
    "Design",
    # toolkit
    "validate_filterbank", "energy_conservation", "coeff_energy", "coeff_distance",
    "pack_coeffs_jtfs", "normalize",
    # costs
    "estimate_cost", "Cost", "BudgetError",
    # data
    "fetch_fsdd", "signals",
]
