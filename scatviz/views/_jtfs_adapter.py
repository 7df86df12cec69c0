"""Turn `engine.jtfs.TimeFrequencyScattering` outputs into the arrays the JTFS views draw.

Only this module knows the engine's JTFS output layout; the views read `JTFSResult`. Every
label in Hz or cycles per octave comes from the engine's ``meta(sample_rate)``.
"""

from __future__ import annotations

import numpy as np

from scatviz.state import JTFSResult

SPIN_UP_KEY = "psi_t * psi_f_up"
SPIN_DN_KEY = "psi_t * psi_f_dn"
#: Length of the grid on which the frequential kernels' responses are shown.
FR_GRID = 256


def _squeeze_batch(a: np.ndarray, ndim: int) -> np.ndarray:
    a = np.asarray(a)
    while a.ndim > ndim and a.shape[0] == 1:
        a = a[0]
    return a


def frequential_responses(tf) -> dict | None:
    """The JTFS frequential wavelets (both spins) and low-pass as magnitude responses on a grid
    of ``FR_GRID`` frequential frequencies (cycles per ``n1`` bin, ``-0.5 .. 0.5``), from the
    engine's kernels (`engine.jtfs.frequential_filters`)."""
    try:
        from engine.jtfs import frequential_filters
    except ImportError:
        return None
    filters, _ = frequential_filters(tf.filterbank, tf.J_fr, tf.Q_fr, None, tf.N1)
    L = max(FR_GRID, max(f["taps"].size for f in filters))
    q = np.fft.fftshift(np.fft.fftfreq(L))

    def resp(taps):
        H = taps.size // 2
        h = np.zeros(L, dtype=complex)
        h[:H + 1] = taps[H:]
        if H:
            h[-H:] = taps[:H]
        return np.fft.fftshift(np.abs(np.fft.fft(h)))

    up = [resp(f["taps"]) for f in filters if f["name"] == "psi_f" and f["spin"] == 1]
    dn = [resp(f["taps"]) for f in filters if f["name"] == "psi_f" and f["spin"] == -1]
    phi = [resp(f["taps"]) for f in filters if f["name"] == "phi_f"]
    return dict(freqs=q, up=up, dn=dn, phi=phi[0] if phi else None)


def adapt_jtfs(tf, out: dict, meta: dict, sample_rate: float, N: int) -> JTFSResult:
    """Pairs, spinned 4-D tensors ``(n2, n1_fr, n1_bins, L)``, time axis and labels."""
    pairs = {k: np.asarray(v) for k, v in out.items()}
    up = _squeeze_batch(pairs[SPIN_UP_KEY], 4).astype(np.float32)
    dn = _squeeze_batch(pairs[SPIN_DN_KEY], 4).astype(np.float32)
    n2c, nfr, nb, L = up.shape
    stride = float(meta.get("stride", N / L))
    times = np.arange(L) * stride / sample_rate
    sel_up = meta["pair"] == SPIN_UP_KEY
    n2s = meta["n2"][sel_up]
    frs = meta["n1_fr"][sel_up]
    n2_vals = list(dict.fromkeys(n2s.tolist()))[:n2c]
    fr_vals = list(dict.fromkeys(frs.tolist()))[:nfr]
    first = sel_up & (meta["n2"] == n2_vals[0]) & (meta["n1_fr"] == fr_vals[0])
    n1_hz = np.asarray(meta["xi1_hz"][first], float)[:nb]
    if len(n1_hz) != nb:          # a global frequential average has no n1 axis
        n1_hz = np.full(nb, np.nan)
    n2_hz = np.array([meta["xi_hz"][sel_up & (meta["n2"] == v)][0] for v in n2_vals], float)
    fr_oct = [abs(float(meta["xi_fr_octave"][sel_up & (meta["n1_fr"] == v)][0]))
              for v in fr_vals]
    # two decimals always ("0.70", not "0.7"): the labels keep their width from one
    # setting to the next, and the figures that show them keep their layout (see theme)
    labels = [f"{v:.2f} c/oct" for v in fr_oct]
    return JTFSResult(pairs, meta, times, up, dn, n1_hz, n2_hz, labels,
                      frequential_responses(tf))
