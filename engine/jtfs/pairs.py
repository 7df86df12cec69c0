"""JTFS's seven named coefficient pairs, their spins, and the frame's energy ratio."""

from __future__ import annotations

import torch

__all__ = ["PAIRS", "SPIN_DIRECTION", "PAIR_SPIN", "energy_ratio"]

#: The seven pairs, in output order.
PAIRS = ("S0", "S1", "phi_t * phi_f", "phi_t * psi_f", "psi_t * phi_f",
         "psi_t * psi_f_up", "psi_t * psi_f_dn")
#: Plain words for the spins: what a pattern must do to light up that spin.
SPIN_DIRECTION = {1: "rising", -1: "falling", 0: "none"}
#: Spin of each pair.
PAIR_SPIN = {"S0": 0, "S1": 0, "phi_t * phi_f": 0, "phi_t * psi_f": 0, "psi_t * phi_f": 0,
             "psi_t * psi_f_up": 1, "psi_t * psi_f_dn": -1}


def energy_ratio(out: dict, x: torch.Tensor) -> torch.Tensor:
    """Output over input energy per signal, for ``out_type="pairs"`` with ``average=False,
    average_fr=False`` (the frame settings): ``S1`` is left out, as the ``phi_t`` pairs
    decompose it. Returns ``(...)``."""
    e_in = (x.double() ** 2).sum(-1)
    e_out = sum(out[p].double().pow(2).flatten(x.ndim - 1).sum(-1) for p in PAIRS if p != "S1")
    return e_out / e_in

