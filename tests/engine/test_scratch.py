"""engine._scratch: per-thread, per-role reusable buffers for temporaries."""

from __future__ import annotations

import threading

import torch

from engine._scratch import release, scratch, scratch_allowed


def test_a_role_reuses_its_memory_and_grows_to_the_largest_request():
    release()
    a = scratch("t", (4, 8), torch.float32)
    b = scratch("t", (2, 3), torch.float32)
    assert b.data_ptr() == a.data_ptr() and b.shape == (2, 3)
    big = scratch("t", (100,), torch.float32)
    assert big.numel() == 100
    assert scratch("t", (10,), torch.float32).data_ptr() == big.data_ptr()
    assert scratch("other", (10,), torch.float32).data_ptr() != big.data_ptr()
    assert scratch("t", (10,), torch.complex64).dtype == torch.complex64


def test_huge_requests_are_not_kept():
    import engine._scratch as sc
    release()
    n = sc.KEEP_BYTES // 4 + 1
    a = scratch("huge", (n,), torch.float32)
    b = scratch("huge", (n,), torch.float32)
    assert a.data_ptr() != b.data_ptr() and a.shape == (n,)


def test_threads_have_their_own_buffers():
    mine = scratch("t", (16,), torch.float32).data_ptr()
    theirs = []
    t = threading.Thread(target=lambda: theirs.append(scratch("t", (16,), torch.float32)
                                                      .data_ptr()))
    t.start()
    t.join()
    assert theirs[0] != mine


def test_only_for_cpu_temporaries_that_carry_no_gradient():
    x = torch.randn(3)
    assert scratch_allowed(x)
    xg = x.clone().requires_grad_()
    assert not scratch_allowed(xg)
    with torch.no_grad():
        assert scratch_allowed(xg)
