"""engine._parallel: independent tasks on single-threaded CPU workers, differentiable."""

from __future__ import annotations

import multiprocessing
import threading

import pytest
import torch

import engine._parallel as par
from engine._parallel import run_tasks


def _tasks(n_rows: int, step: int):
    """Tasks with a real graph (FFT, modulus, two outputs of different shapes)."""
    def fn(v):
        spec = torch.fft.rfft(v)
        return [spec.abs(), (v.sin() * v).cumsum(-1)]
    return [(fn, slice(a, min(a + step, n_rows))) for a in range(0, n_rows, step)]


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("threads", [1, 2])     # 1: inline, through the same autograd node
def test_results_and_gradients_equal_the_inline_computation(two_threads, threads):
    torch.set_num_threads(threads)
    x = torch.randn(10, 64, dtype=torch.float64, requires_grad=True)
    tasks = _tasks(10, 3)
    assert par.workers_for(x, len(tasks)) == threads
    got = run_tasks(x, tasks)
    want = [fn(x[rows]) for fn, rows in tasks]
    for g, w in zip(got, want):
        for a, b in zip(g, w):
            torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)   # FFT rounding
    w_out = [torch.randn_like(o) for outs in want for o in outs]
    grad_got = torch.autograd.grad([o for outs in got for o in outs], x, w_out)[0]
    grad_want = torch.autograd.grad([o for outs in want for o in outs], x, w_out)[0]
    torch.testing.assert_close(grad_got, grad_want, rtol=1e-12, atol=1e-12)


def test_several_inputs_some_unused_or_without_gradients(two_threads):
    a = torch.randn(6, 8, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    c = torch.randn(6, 3, dtype=torch.float64)                # no gradient wanted
    tasks = [(lambda a, b, c: [a.sin() * c.sum(-1, keepdim=True)], slice(0, 3)),
             (lambda a, b, c: [b.exp(), a.cos()], slice(3, 6)),
             (lambda a, b, c: [c * 2], slice(0, 6))]           # uses neither a nor b
    got = run_tasks((a, b, c), tasks)
    want = [fn(a[rows], b[rows], c[rows]) for fn, rows in tasks]
    outs_g = [o for r in got for o in r]
    outs_w = [o for r in want for o in r]
    for g, w in zip(outs_g, outs_w):
        torch.testing.assert_close(g, w)
    ws = [torch.randn_like(o) for o in outs_w]
    pick = [(o, w) for o, w in zip(outs_g, ws) if o.requires_grad]
    ga, gb = torch.autograd.grad([o for o, _ in pick], (a, b), [w for _, w in pick])
    pick = [(o, w) for o, w in zip(outs_w, ws) if o.requires_grad]
    wa, wb = torch.autograd.grad([o for o, _ in pick], (a, b), [w for _, w in pick])
    torch.testing.assert_close(ga, wa)
    torch.testing.assert_close(gb, wb)


@pytest.mark.parametrize("threads", [1, 2])
def test_gradcheck_with_retained_graphs(two_threads, threads):
    torch.set_num_threads(threads)
    x = torch.randn(4, 16, dtype=torch.float64, requires_grad=True)
    tasks = _tasks(4, 1)
    assert torch.autograd.gradcheck(
        lambda v: torch.cat([torch.cat([o.flatten(1) for o in outs], 1)
                             for outs in run_tasks(v, tasks)]), (x,))


def test_a_second_backward_without_retain_graph_says_what_to_do(two_threads):
    x = torch.randn(4, 16, requires_grad=True)
    loss = sum(o.sum() for outs in run_tasks(x, _tasks(4, 2)) for o in outs)
    loss.backward()
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_workers_are_single_threaded_and_the_callers_count_is_kept(two_threads):
    x = torch.randn(4, 8)
    seen = run_tasks(x, [(lambda v: [torch.tensor(torch.get_num_threads())], slice(0, 2)),
                         (lambda v: [torch.tensor(torch.get_num_threads())], slice(2, 4))])
    assert [int(s[0]) for s in seen] == [1, 1]
    assert torch.get_num_threads() == 2
    # a thread started afterwards gets the caller's count, not the workers' 1
    counts = []
    t = threading.Thread(target=lambda: counts.append(torch.get_num_threads()))
    t.start()
    t.join()
    assert counts == [2]


def test_runs_inline_with_one_thread_inside_workers_and_for_one_task(two_threads):
    x = torch.randn(4, 8)
    assert par.workers_for(x, 1) == 1
    inner = run_tasks(x, [(lambda v: [torch.tensor(par.workers_for(v, 5))], slice(0, 2)),
                          (lambda v: [torch.tensor(par.workers_for(v, 5))], slice(2, 4))])
    assert [int(s[0]) for s in inner] == [1, 1]      # no nested pools
    torch.set_num_threads(1)
    assert par.workers_for(x, 8) == 1


def test_no_grad_and_inference_mode_are_kept_in_the_workers(two_threads):
    x = torch.randn(4, 8, requires_grad=True)
    with torch.no_grad():
        outs = run_tasks(x, _tasks(4, 2))
    assert not any(o.requires_grad for r in outs for o in r)
    with torch.inference_mode():
        y = torch.randn(4, 8)
        outs = run_tasks(y, _tasks(4, 2))
    assert all(o.is_inference() for r in outs for o in r)


def _child(queue):
    x = torch.randn(6, 32)
    outs = run_tasks(x, _tasks(6, 2))
    queue.put(float(sum(o.sum() for r in outs for o in r)))


def test_a_forked_child_gets_its_own_pool(two_threads):
    run_tasks(torch.randn(4, 8), _tasks(4, 2))            # the parent's pool exists
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue,))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == 0, "the child hung or crashed running tasks after fork"
    assert isinstance(queue.get(timeout=5), float)


def test_run_keyed_groups_chunks_in_row_order_whatever_the_costs(two_threads):
    x = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    tasks = [("a", lambda v: [v * 2, v.sum(-1)], slice(0, 3), 1.0),
             ("a", lambda v: [v * 2, v.sum(-1)], slice(3, 7), 5.0),    # costlier: runs first
             ("b", lambda v: [v.exp()], slice(0, 7), 3.0)]
    out = par.run_keyed(x, tasks)
    assert list(out) == ["a", "b"]
    torch.testing.assert_close(out["a"][0], x * 2)
    torch.testing.assert_close(out["a"][1], x.sum(-1))
    torch.testing.assert_close(out["b"][0], x.exp())
    (out["a"][0].sum() + out["b"][0].sum()).backward()
    torch.testing.assert_close(x.grad, 2 + x.detach().exp())
