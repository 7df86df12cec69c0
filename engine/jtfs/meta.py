"""What each output channel of `TimeFrequencyScattering` holds: its ``meta()`` (a mixin of
the module)."""

from __future__ import annotations

import numpy as np

from engine.jtfs.pairs import PAIR_SPIN, PAIRS, SPIN_DIRECTION


class _Meta:
    """``meta()``, ``output_size()`` and the per-channel records behind them."""

    def _build_meta(self) -> None:
        """One record per output channel of format "time" (format "joint" drops ``n1``)."""
        filters = self._fr_s1.filters
        K = len(filters) - 1
        full = self._order2[0].fr.filters
        bins = self.bin_start + np.arange(self.F_bins) * 2**self.log2_stride_fr
        if self._f_mode == "global":
            bins = np.array([-1])
        recs = {p: [] for p in PAIRS}

        def rec(pair, n2=-1, fr=None, n1=None):
            return dict(pair=pair, n2=n2, n1_fr=-1 if fr is None else fr["n_fr"], n1=n1,
                        spin=PAIR_SPIN[pair], fr=fr)
        recs["S0"].append(rec("S0"))
        recs["S1"] = [rec("S1", n1=n1) for n1 in range(self.N1)]
        recs["phi_t * phi_f"] = [rec("phi_t * phi_f", fr=filters[0], n1=b) for b in bins]
        recs["phi_t * psi_f"] = [rec("phi_t * psi_f", fr=f, n1=b)
                                 for f in filters[1:] for b in bins]
        for o in self._order2:
            recs["psi_t * phi_f"] += [rec("psi_t * phi_f", o.n2, full[0], b) for b in bins]
            recs["psi_t * psi_f_up"] += [rec("psi_t * psi_f_up", o.n2, f, b)
                                         for f in full[1:1 + K] for b in bins]
            recs["psi_t * psi_f_dn"] += [rec("psi_t * psi_f_dn", o.n2, f, b)
                                         for f in full[1 + K:] for b in bins]
        self._records = recs

    def meta(self, sample_rate: float | None = None) -> dict:
        """What each output channel holds, for the module's ``format``.

        Returns a dict of arrays ``(C,)``: ``pair`` (name), ``spin`` (+1, -1, 0),
        ``direction`` ("rising", "falling", "none": the plain word for the spin), ``n2``
        (time wavelet, -1 for ``phi_t``), ``n1_fr`` (frequential wavelet, -1 for
        ``phi_f``), ``n1`` (the ``n1`` index of the channel's bin, float; NaN where the channel
        has no ``n1`` axis (``S0``, format "joint"); without frequential averaging bins extend
        past ``0..N1-1`` by the filters' spread), ``j`` (log2 scale of the time wavelet, NaN
        for ``phi_t``), ``j_fr``,
        ``xi`` (temporal centre frequency of the time wavelet, cycles per sample, 0 for
        ``phi_t``), ``xi_fr`` (signed frequential centre frequency, cycles per ``n1`` bin),
        ``xi1`` (frequency of the ``n1`` bin, cycles per sample), ``stride`` and
        ``stride_fr``. With ``sample_rate`` (Hz): ``xi_hz``, ``xi1_hz`` (Hz) and
        ``xi_fr_octave`` (cycles per octave, ``xi_fr * Q1``). ``bins`` gives the ``n1`` index
        of each of the ``F_bins`` rows.

        >>> m = TimeFrequencyScattering(6, 4, 8, 4096).meta()
        >>> sorted(set(m["direction"]))
        ['falling', 'none', 'rising']
        """
        pairs = PAIRS if self.format == "time" else PAIRS[2:]
        recs = [r for p in pairs for r in self._records[p]]
        if self.format == "joint":
            seen, kept = set(), []
            for r in recs:
                key = (r["pair"], r["n2"], r["n1_fr"])
                if key not in seen:
                    seen.add(key)
                    kept.append(dict(r, n1=None))
            recs = kept
        psi1, psi2 = self.bank.psi1, self.bank.psi2
        nan = float("nan")
        m = {
            "pair": np.array([r["pair"] for r in recs]),
            "spin": np.array([r["spin"] for r in recs]),
            "direction": np.array([SPIN_DIRECTION[r["spin"]] for r in recs]),
            "n2": np.array([r["n2"] for r in recs]),
            "n1_fr": np.array([r["n1_fr"] for r in recs]),
            "n1": np.array([nan if r["n1"] is None else r["n1"] for r in recs], dtype=float),
            "j": np.array([psi2[r["n2"]].j if r["n2"] >= 0 else nan for r in recs]),
            "j_fr": np.array([r["fr"]["j"] if r["fr"] is not None else nan for r in recs]),
            "xi": np.array([psi2[r["n2"]].xi if r["n2"] >= 0 else 0.0 for r in recs]),
            "xi_fr": np.array([r["fr"]["xi"] if r["fr"] is not None else nan for r in recs]),
            "xi1": np.array([psi1[r["n1"]].xi if r["n1"] is not None and 0 <= r["n1"] < self.N1
                             else nan for r in recs]),
            "stride": 2**self.log2_stride if self._t_mode == "local" else self.shape[0],
            "stride_fr": 2**self.log2_stride_fr if self._f_mode != "global" else self.N1,
            "bins": self.bin_start + np.arange(self.F_bins) * 2**self.log2_stride_fr,
        }
        if sample_rate is not None:
            if not sample_rate > 0:
                raise ValueError(f"sample_rate must be positive (Hz); got {sample_rate!r}.")
            m["xi_hz"] = m["xi"] * sample_rate
            m["xi1_hz"] = m["xi1"] * sample_rate
            m["xi_fr_octave"] = m["xi_fr"] * self.Q[0]
        return m

    def output_size(self) -> int:
        """Number of output channels ``C`` for the module's ``format``."""
        return len(self.meta()["pair"])
