"""scatviz engine: differentiable wavelet scattering and JTFS in PyTorch.

The engine never imports panel, bokeh or holoviews: it is usable alone, in a training loop
or on a GPU.
"""
