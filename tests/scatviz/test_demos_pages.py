"""The demos' pages without a browser: the stored first pictures, the background jobs (progress,
stop), the page list and navigation, and each page's logic (quick profile, small settings)."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import soundfile as sf

from scatviz import pages
from scatviz.demos import precompute, store
from scatviz.demos.jobs import Job


@pytest.fixture
def quick(monkeypatch, tmp_path):
    """The quick profile and an empty cache folder of the test's own."""
    monkeypatch.setenv("SCATVIZ_DEMO_PROFILE", "quick")
    monkeypatch.setenv("SCATVIZ_DEMO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


# ---- store -----------------------------------------------------------------------------------

def test_store_round_trip_and_keys(quick):
    key = store.result_key("why_jtfs", {"N": 4096, "pair": "x"})
    assert store.load_result(key) is None
    path = store.store_result(key, {"d": np.arange(3)})
    assert path.parent == quick and key in store.cached_keys()
    np.testing.assert_array_equal(store.load_result(key)["d"], np.arange(3))
    assert store.result_key("why_jtfs", {"N": 2048, "pair": "x"}) != key     # the setting
    assert store.result_key("digits", {"N": 4096, "pair": "x"}) != key       # the demo
    (quick / key).write_bytes(b"not a pickle")
    assert store.load_result(key) is None                                    # recomputed


def test_store_key_follows_the_code(quick, tmp_path, monkeypatch):
    code = tmp_path / "pkg"
    code.mkdir()
    (code / "m.py").write_text("x = 1\n")
    (code / "page.py").write_text("y = 1\n")
    monkeypatch.setattr(store.code_digest, "__defaults__", ((code,), ()))
    before = store.result_key("digits", {"J": 8})
    (code / "m.py").write_text("x = 2\n")
    assert store.result_key("digits", {"J": 8}) != before
    # a page's drawing code is not part of the key
    monkeypatch.setattr(store.code_digest, "__defaults__", ((), (code / "m.py",)))
    before = store.result_key("digits", {"J": 8})
    (code / "page.py").write_text("y = 2\n")
    assert store.result_key("digits", {"J": 8}) == before


def test_cache_dir_is_ignored_by_git(monkeypatch):
    monkeypatch.delenv("SCATVIZ_DEMO_CACHE", raising=False)
    import subprocess
    d = store.cache_dir()
    if d.parts[-2:] != (".cache", "demos"):
        pytest.skip(f"the repository is not writable: the cache is {d}")
    res = subprocess.run(["git", "check-ignore", "-q", str(d / "x.pkl")], cwd=d.parent.parent)
    assert res.returncode == 0, f"{d} is not ignored by git"


# ---- jobs ------------------------------------------------------------------------------------

def test_job_reports_progress_and_result():
    seen = []

    def work(progress):
        for k in range(5):
            progress(k + 1, 5, f"step {k + 1}", partial=list(range(k + 1)))
            seen.append(k)
        return "finished"

    job = Job(work, "count").start()
    assert job.wait(10) == "done"
    assert (job.result, job.done, job.total, job.fraction) == ("finished", 5, 5, 1.0)
    assert job.partial == [0, 1, 2, 3, 4] and job.message == "step 5" and seen == list(range(5))


def test_job_stops_at_its_next_report_and_failures_are_kept():
    def slow(progress):
        for k in range(1000):
            progress(k, 1000)
            time.sleep(0.01)
        return "never"

    job = Job(slow, "slow").start()
    while job.done < 2:
        time.sleep(0.01)
    job.stop()
    assert job.wait(10) == "stopped" and job.result is None and job.done < 1000
    with pytest.raises(RuntimeError, match="started already"):
        job.start()

    bad = Job(lambda progress: 1 / 0, "bad").start()
    assert bad.wait(10) == "failed" and "ZeroDivisionError" in bad.error


# ---- pages and navigation ---------------------------------------------------------------------

def test_pages_list_explorer_only_when_its_file_exists(tmp_path):
    for p in pages.PAGES:
        if not p.optional:
            (tmp_path / f"{p.slug}.py").write_text("")
    assert [p.slug for p in pages.served_pages(tmp_path)] == ["dashboard", "why_jtfs",
                                                               "reconstruction", "digits"]
    (tmp_path / "explorer.py").write_text("")
    assert pages.app_files(tmp_path)[-1] == tmp_path / "explorer.py"
    (tmp_path / "digits.py").unlink()
    with pytest.raises(FileNotFoundError, match="digits.py"):
        pages.served_pages(tmp_path)


def test_serve_command_serves_every_page(tmp_path):
    from scatviz.cli import serve_command

    cmd = serve_command(port=5123, apps_dir=pages.APPS_DIR)
    files = [c for c in cmd if c.endswith(".py") and "/apps/" in c]
    assert [f.rsplit("/", 1)[1] for f in files][:4] == ["dashboard.py", "why_jtfs.py",
                                                        "reconstruction.py", "digits.py"]
    assert cmd[cmd.index("--index") + 1] == "dashboard" and "5123" in cmd


def test_nav_links_keep_the_theme():
    from scatviz.views.nav import nav_header, nav_links, theme_from_query

    links = nav_links("digits", "dark")
    assert ("Spoken digits", "./digits?theme=dark", True) in links
    assert all(href.endswith("?theme=dark") for _, href, _ in links)
    assert nav_links("digits", "default")[0] == ("Dashboard", "./dashboard", False)
    html = nav_header("why_jtfs", "default").object
    assert 'href="./digits"' in html and html.count('class="current"') == 1
    assert theme_from_query({"theme": [b"dark"]}) == ("dark", [])
    theme, notes = theme_from_query({"theme": [b"bogus"]})
    assert theme == "default" and "bogus" in notes[0]


def test_every_page_has_the_navigation():
    from scatviz.demos.apps import page_class
    from scatviz.views.dashboard import Dashboard

    for cls in (Dashboard, *(page_class(s) for s in ("why_jtfs", "reconstruction",
                                                     "digits"))):
        assert cls.slug in [p.slug for p in pages.PAGES]
    tmpl = Dashboard(live=False).template()
    assert any("scatviz-nav" in getattr(h, "object", "") for h in tmpl.header)


# ---- the demos' pages -------------------------------------------------------------------------

def _finish(page):
    assert page.job is not None
    assert page.job.wait(120) in ("done", "stopped", "failed")
    page.poll()


def test_reconstruction_page_runs_stores_and_reopens_from_the_store(quick):
    from scatviz.demos.ui_reconstruction import ReconstructionPage

    page = ReconstructionPage(compute_first=False)
    assert page.shown == 0 and page.first_picture_s is None     # nothing stored yet
    setting = dict(transforms=["Scattering1D", "JTFS"], n_iterations=3, lr=0.1, N=1024)
    page.run(setting)
    _finish(page)
    assert page.shown == 1 and "final loss" in page.status, page.status
    assert [len(s.data["k"]) for s in page.loss_sources.values()] == [3, 3]
    for name in ("original", "Scattering1D", "JTFS"):
        st = page.states[name]
        assert len(st.signal) == 1024 and st.result is not None
    # stored: the same setting is shown at once, without a job
    again = ReconstructionPage(compute_first=False)
    assert again.run(setting) is None and again.shown == 1


def test_reconstruction_page_stop(quick):
    from scatviz.demos.ui_reconstruction import ReconstructionPage

    page = ReconstructionPage(compute_first=False)
    page.run(dict(transforms=["Scattering1D"], n_iterations=400, lr=0.1, N=1024))
    assert page.stop_button.disabled is False and page.run_button.disabled is True
    while page.job.done < 1:
        time.sleep(0.01)
    page.stop()
    _finish(page)
    assert page.status.startswith("Stopped at") and page.shown == 0
    assert page.run_button.disabled is False and not page.progress.visible


def test_first_picture_computed_when_missing_then_stored(quick):
    from scatviz.demos.ui_why_jtfs import WhyJTFSPage

    assert precompute.missing(["why_jtfs"]) == ["why_jtfs"]
    page = WhyJTFSPage()                                # computes its first picture
    assert page.job is not None and "first picture" in page.status
    _finish(page)
    assert page.shown == 1 and precompute.missing(["why_jtfs"]) == []
    d = dict(zip(page.src_dist.data["name"], page.src_dist.data["d"]))
    assert d["time scattering"] < 1e-3 < 0.5 < d["JTFS (spinned pairs)"]   # the chirps
    assert page.states[0].result.jtfs is not None            # the spin inspector's input
    opened = WhyJTFSPage()
    assert opened.job is None and opened.shown == 1          # from the store


def _wav(freq, sr=8000, n=3000):
    buf = io.BytesIO()
    sf.write(buf, 0.5 * np.sin(2 * np.pi * freq * np.arange(n) / sr).astype(np.float32), sr,
             format="WAV")
    return buf.getvalue()


def test_why_jtfs_page_compares_two_uploads(quick):
    from scatviz.demos.ui_why_jtfs import UPLOADED, WhyJTFSPage

    page = WhyJTFSPage(compute_first=False)
    page.w_pair.value = UPLOADED
    assert page.run(None) is None and "Upload two" in page.status
    assert page.load_upload(0, _wav(440), "a440.wav")
    assert not page.load_upload(1, b"not audio" * 50, "b.wav")
    assert "not a readable audio file" in page.upload_msg.object
    assert page.load_upload(1, _wav(880), "b880.wav") and page.w_pair.value == UPLOADED
    page.run(None)
    _finish(page)
    assert page.shown == 1 and [len(s.signal) for s in page.states] == [4096, 4096]
    assert page.labels[1].object.endswith("b880.wav")


def test_digits_page_lists_the_recordings_of_a_cell(quick, fsdd_sample_dir):
    from scatviz.demos.ui_digits import DigitsPage, confusion_columns, worst_cell

    M = np.diag([3, 2]) + np.array([[0, 1], [0, 0]])
    assert worst_cell(M) == (0, 1) and worst_cell(np.eye(3)) == (0, 0)
    cols = confusion_columns(M)
    assert cols["count"].tolist() == [3, 1, 0, 2] and cols["label"][2] == ""

    page = DigitsPage(compute_first=False)
    page.run(dict(path=str(fsdd_sample_dir), transforms=["scattering"], J=5, Q=4, N=4096))
    _finish(page)
    assert page.shown == 1, page.status
    res = page.result
    assert res.confusion["scattering"].sum() == res.n_test == len(res.test_files)
    true, pred = worst_cell(res.confusion["scattering"])
    assert page.cell == (true, pred)
    files = page.select_cell(true, pred)
    assert len(files) == res.confusion["scattering"][true, pred]
    assert all(f"/{true}_" in f for f in files)
    if files:
        assert page.state.signal_name == files[0].rsplit("/", 1)[1].removesuffix(".wav")
    diag = page.select_cell(3, 3)
    assert len(diag) == res.confusion["scattering"][3, 3]
    assert "correctly classified" in page.cell_title.object
