"""scatviz: see what wavelet scattering and JTFS do to a signal."""
