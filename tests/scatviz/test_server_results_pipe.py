"""A JTFS result crosses a worker's pipe with its spin arrays once: ``up``/``dn`` are views of
two ``pairs`` entries (not copies), left out of the pickle and made views again on arrival,
and the result that arrives equals the one computed."""

from __future__ import annotations

import pickle
from multiprocessing.reduction import ForkingPickler

import numpy as np
import pytest

from scatviz.analysis import SPIN_DN_KEY, SPIN_UP_KEY
from scatviz.results import JTFSResult
from scatviz.server.workers import compute_in_worker
from scatviz.state import ScatState


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(4096)).astype(np.float32)
    settings = {**ScatState().settings(), "J": 5, "Q1": 4, "J_fr": 2}
    return compute_in_worker(x, 8000.0, "noise", "all", settings)


def _same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    return np.shares_memory(a, b) and a.size == b.size


def test_the_spin_arrays_are_views_of_the_pairs(result):
    jt = result.jtfs
    assert jt is not None and jt.up.size > 0
    assert _same_memory(jt.up, jt.pairs[SPIN_UP_KEY])
    assert _same_memory(jt.dn, jt.pairs[SPIN_DN_KEY])


def test_the_pickled_result_holds_them_once_and_arrives_equal(result):
    jt = result.jtfs
    blob = bytes(ForkingPickler.dumps(result))          # what a worker's pipe carries
    copies = JTFSResult(**{**{f: getattr(jt, f) for f in jt.__dataclass_fields__},
                           "up": jt.up.copy(), "dn": jt.dn.copy()})
    with_copies = len(pickle.dumps(copies, protocol=pickle.HIGHEST_PROTOCOL))
    alone = len(pickle.dumps(jt, protocol=pickle.HIGHEST_PROTOCOL))
    assert with_copies - alone >= jt.up.nbytes + jt.dn.nbytes          # sent once, not twice
    back = pickle.loads(blob)
    bj = back.jtfs
    assert bj.up.shape == jt.up.shape and bj.up.dtype == np.float32
    np.testing.assert_array_equal(bj.up, jt.up)
    np.testing.assert_array_equal(bj.dn, jt.dn)
    assert _same_memory(bj.up, bj.pairs[SPIN_UP_KEY])               # views again
    assert _same_memory(bj.dn, bj.pairs[SPIN_DN_KEY])
    assert bj.pairs.keys() == jt.pairs.keys()
    for k in jt.pairs:
        np.testing.assert_array_equal(bj.pairs[k], jt.pairs[k])
    for f in ("times", "n1_hz", "n2_hz"):
        np.testing.assert_array_equal(getattr(bj, f), getattr(jt, f))
    assert bj.n1_fr_labels == jt.n1_fr_labels
    np.testing.assert_array_equal(back.scalogram.mag, result.scalogram.mag)


def test_spin_arrays_that_are_not_views_are_pickled_as_they_are(result):
    """A result built by other code (copies, or arrays of another dtype) keeps them."""
    jt = result.jtfs
    other = JTFSResult(**{**{f: getattr(jt, f) for f in jt.__dataclass_fields__},
                          "up": jt.up.astype(np.float64), "dn": jt.dn[::-1].copy()})
    back = pickle.loads(pickle.dumps(other))
    assert back.up.dtype == np.float64
    np.testing.assert_array_equal(back.up, other.up)
    np.testing.assert_array_equal(back.dn, other.dn)
    assert not np.shares_memory(back.dn, back.pairs[SPIN_DN_KEY])

