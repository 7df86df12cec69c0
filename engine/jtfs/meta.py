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
        of each of the ``F_bins`` rows. ``sample_rate`` defaults to the constructor's.

        Kymatio's fields beside ours: ``key`` (the path tuples of ``out_type="dict"``),
        ``order`` ``(C,)``, ``n`` ``(C, 2)`` (``n1``, ``n2``; NaN where absent), ``n_fr``
        ``(C,)`` (Kymatio's frequential index: 0 the low-pass ``phi_f``, ``1..K`` spin up,
        ``K+1..2K`` spin down), ``sigma`` ``(C, 2)``, ``sigma_fr``; where Kymatio's names mean
        something else here (our ``xi``/``j`` are the time wavelet's, ``(C,)``; our ``spin``
        is 0 for ``phi_t * psi_f``), Kymatio's values are ``kymatio_xi``, ``kymatio_j``
        ``(C, 2)`` and ``kymatio_spin`` (``sign(xi_fr)``); `kymatio_meta` gives Kymatio's
        dict under Kymatio's names.

        >>> m = TimeFrequencyScattering(6, 4, 8, 4096).meta()
        >>> sorted(set(m["direction"]))
        ['falling', 'none', 'rising']
        """
        recs = self._channel_records()
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
        m.update(self._kymatio_fields(recs))
        sample_rate = self.sample_rate if sample_rate is None else sample_rate
        if sample_rate is not None:
            if not sample_rate > 0:
                raise ValueError(f"sample_rate must be positive (Hz); got {sample_rate!r}.")
            m["xi_hz"] = m["xi"] * sample_rate
            m["xi1_hz"] = m["xi1"] * sample_rate
            m["xi_fr_octave"] = m["xi_fr"] * self.Q[0]
        return m

    def output_size(self) -> int:
        """Number of output channels ``C`` of ``out_type="array"`` for the module's
        ``format``."""
        return len(self._channel_records())

    # ---- Kymatio's paths ----------------------------------------------------------------

    def _channel_records(self) -> list[dict]:
        """The records of the array output's channels, in order (format "joint": one per
        ``(pair, n2, n1_fr)``, without ``n1``)."""
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
        return recs

    def _n_fr(self, r: dict) -> int | None:
        """Kymatio's ``n_fr`` of a record: 0 for ``phi_f``, then spin up, then spin down."""
        if r["fr"] is None:
            return None
        if r["fr"]["name"] == "phi_f":
            return 0
        K = len(self._fr_s1.filters) - 1
        return 1 + r["fr"]["n_fr"] + (K if r["fr"]["spin"] < 0 else 0)

    def _path(self, r: dict) -> dict:
        """Kymatio's path dict (without ``coef``) of a record, plus our ``pair``."""
        pair, n_fr = r["pair"], self._n_fr(r)
        b = None if r["n1"] is None else (0 if self._f_mode == "global" else int(r["n1"]))
        if pair == "S0":
            return dict(n=(), j=(), n_fr=(), j_fr=(), spin=0, order=0, pair=pair)
        if pair == "S1":
            return dict(n=(b,), j=(self.bank.psi1[b].j,), n_fr=(), j_fr=(), spin=0, order=1,
                        pair=pair)
        head = () if b is None else (b,)
        second = r["n2"] >= 0
        n = head + ((r["n2"],) if second else ()) + (n_fr,)
        path = dict(n=n, j=(-1, self.bank.psi2[r["n2"]].j) if second else (-1,),
                    n_fr=(n_fr,), j_fr=(r["fr"]["j"],), spin=int(np.sign(r["fr"]["xi"])),
                    order=2 if second else 1, pair=pair)
        if self.format == "joint":
            path["n1_max"] = next(o.n for o in self._order2 if o.n2 == r["n2"]) if second \
                else self.N1
            path["n1_stride"] = self.N1 if self._f_mode == "global" else 2**self.log2_stride_fr
        return path

    def _kymatio_paths(self) -> list[dict]:
        """Kymatio's paths in the order of ``out_type="list"``: the array's channels (format
        "joint": ``S0`` first, then the joint channels)."""
        recs = self._channel_records()
        if self.format == "joint":
            recs = self._records["S0"] + recs
        return [self._path(r) for r in recs]

    def _kymatio_output(self, out, S0, batch_shape) -> list | dict:
        """``out_type`` "list" or "dict" from the array output ``out`` (``(B, C, t)``, or
        ``(B, C, F_bins, t)`` in format "joint" with ``S0`` ``(B, 1, t)`` apart)."""
        paths = self._kymatio_paths()
        coefs = [S0[:, 0]] if self.format == "joint" else []
        coefs += list(out.unbind(1))
        res = [dict(p, coef=c.reshape(batch_shape + c.shape[1:]))
               for p, c in zip(paths, coefs)]
        if self.out_type == "dict":
            return {p["n"]: p["coef"] for p in res}
        return res

    def _kymatio_fields(self, recs: list[dict], full: bool = False) -> dict:
        """Kymatio's meta fields for the channel records ``recs``: those whose names ours do
        not use, and Kymatio's ``xi``, ``j``, ``spin`` as ``kymatio_*``; ``full``: exactly
        Kymatio's dict."""
        paths = [self._path(r) for r in recs]
        C, nan = len(paths), float("nan")
        n = np.full((C, 2), nan)
        for c, (r, p) in enumerate(zip(recs, paths)):
            if p["pair"] != "S0" and r["n1"] is not None and 0 <= r["n1"] < self.N1:
                n[c, 0] = r["n1"]
            if r["n2"] >= 0:
                n[c, 1] = r["n2"]
        n_fr = np.array([p["n_fr"][0] if p["n_fr"] else nan for p in paths], dtype=float)
        k = dict(key=[p["n"] for p in paths], order=np.array([p["order"] for p in paths]),
                 n=n, n_fr=n_fr)
        banks = (self.bank.psi1, self.bank.psi2)
        for name in ("xi", "sigma", "j"):
            arr = np.full((C, 2), nan)
            for o in range(2):
                ok = ~np.isnan(n[:, o])
                arr[ok, o] = [getattr(banks[o][int(i)], name) for i in n[ok, o]]
            k[name] = arr
            k[name + "_fr"] = np.array([r["fr"][name] if r["fr"] is not None else nan
                                        for r in recs], dtype=float)
        k["spin"] = np.sign(k["xi_fr"])
        if full:
            return k
        key = np.empty(C, dtype=object)
        key[:] = k["key"]
        top = {name: k[name] for name in ("order", "n", "n_fr", "sigma", "sigma_fr")}
        return dict(top, key=key, kymatio_xi=k["xi"], kymatio_j=k["j"], kymatio_spin=k["spin"])

    def kymatio_meta(self) -> dict:
        """``meta()`` with exactly Kymatio's keys and layouts: ``key`` (list of path tuples),
        ``order``, ``n`` ``(C, 2)``, ``n_fr``, ``xi``, ``sigma``, ``j`` ``(C, 2)`` (first-
        and second-order time wavelets), ``xi_fr``, ``sigma_fr``, ``j_fr`` ``(C,)`` and
        ``spin = sign(xi_fr)``; one entry per channel of ``out_type="array"`` (see
        `engine.jtfs.transform` for how the channels differ from Kymatio's).

        >>> m = TimeFrequencyScattering(5, 3, 8, 1024).kymatio_meta()
        >>> m["xi"].shape[1], len(m["key"]) == len(m["spin"])
        (2, True)
        """
        recs = self._channel_records()
        return self._kymatio_fields(recs, full=True)
