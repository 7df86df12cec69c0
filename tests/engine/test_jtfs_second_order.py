"""Without gradients, a branch's ``Y2`` is folded part by part straight into one array
(`_ForwardPass._second_order_into`): the same outputs, bit for bit, as the concatenation of
its parts (the path kept for gradients)."""

from __future__ import annotations

import torch

from engine.jtfs import PAIRS, TimeFrequencyScattering


def _concatenated(self, o, spec1s):
    ys = [torch.fft.ifft(self._fold(spec1s[p.g][:, :p.count], p.plan, True))
          for p in o.parts]
    return torch.cat(ys, dim=1)


def test_second_order_into_one_array_equals_concatenated_parts(monkeypatch):
    S = TimeFrequencyScattering(J=8, Q=8, J_fr=4, Q_fr=1, F=8, shape=2**13,
                                out_type="pairs")
    assert any(len(o.parts) > 1 for o in S._order2)
    x = torch.randn(3, 2**13, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got = S(x)
        monkeypatch.setattr(TimeFrequencyScattering, "_second_order_into", _concatenated)
        want = S(x)
    for p in PAIRS:
        assert torch.equal(got[p], want[p]), p
    # with gradients (the concatenation, and the first order in one piece): float32 rounding
    y = S(x.requires_grad_())
    for p in PAIRS:
        err = (y[p].detach() - want[p]).norm() / want[p].norm()
        assert err < 1e-6, (p, err)
