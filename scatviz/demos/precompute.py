"""The demos' first pictures: their settings, how each is computed, and the command that
stores them all.

``python -m scatviz.demos.precompute`` computes every first picture that is not stored yet
(`scatviz.demos.store`: keyed by the setting and the code) with a progress bar;
``--force`` recomputes them, ``--only digits`` one of them, ``--list`` says what is stored.
``scatviz serve`` and ``scripts/serve.sh`` run it in the background when the server starts
(``SCATVIZ_PRECOMPUTE=0`` turns that off); a page whose picture is missing computes it
itself, with a progress bar.

Two profiles (``SCATVIZ_DEMO_PROFILE``): ``full`` (the default: the published settings,
minutes for the spoken digits) and ``quick`` (small settings for tests and CI: seconds).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from scatviz.demos import store

__all__ = ["DEMOS", "PROFILES", "profile", "first_setting", "compute", "first_key",
           "load_first", "missing", "precompute_missing", "start_in_background", "main"]

DEMOS = ("why_jtfs", "reconstruction", "digits")
_SAMPLE_FSDD = Path(__file__).resolve().parent.parent.parent / "tests" / "data" / "fsdd"

#: The first picture's setting of each demo, per profile.
PROFILES: dict[str, dict[str, dict]] = {
    "full": {
        "why_jtfs": dict(pair="rising vs falling chirp", N=4096, J=8, Q=8, J_fr=4),
        "reconstruction": dict(transforms=["Scattering1D", "JTFS"], n_iterations=200,
                               lr=0.1, N=8192),
        "digits": dict(path=None, transforms=["scattering"], J=8, Q=12, N=8192),
    },
    "quick": {
        "why_jtfs": dict(pair="rising vs falling chirp", N=2048, J=7, Q=8, J_fr=3),
        "reconstruction": dict(transforms=["Scattering1D", "JTFS"], n_iterations=12,
                               lr=0.1, N=2048),
        "digits": dict(path=str(_SAMPLE_FSDD), transforms=["scattering"], J=6, Q=8,
                       N=8192),
    },
}


def profile() -> str:
    """``$SCATVIZ_DEMO_PROFILE`` ("full" or "quick"; default "full")."""
    name = os.environ.get("SCATVIZ_DEMO_PROFILE", "full") or "full"
    if name not in PROFILES:
        raise ValueError(f"SCATVIZ_DEMO_PROFILE={name!r}: use one of {list(PROFILES)}.")
    return name


def first_setting(demo: str) -> dict:
    """The setting of ``demo``'s first picture in the current profile (a copy)."""
    if demo not in DEMOS:
        raise ValueError(f"No demo {demo!r}; the demos are {list(DEMOS)}.")
    return dict(PROFILES[profile()][demo])


def compute(demo: str, setting: dict, progress: Callable | None = None) -> Any:
    """Compute ``demo``'s result for ``setting`` (what the page draws).
    ``progress(done, total, message="", partial=None)`` reports and may raise to stop."""
    report = progress or (lambda *a, **k: None)
    if demo == "why_jtfs":
        from scatviz.demos.why_jtfs import PAIR_RATE, PAIRS, compare_pair, pair_signals
        report(0, 1, f"comparing {setting['pair']}")
        a, b = pair_signals(setting["pair"], setting["N"])
        res = compare_pair(a, b, PAIR_RATE, setting["J"], setting["Q"], setting["J_fr"])
        report(1, 1, "done")
        return dict(a=a, b=b, sample_rate=PAIR_RATE, names=PAIRS[setting["pair"]],
                    comparison=res)
    if demo == "reconstruction":
        from scatviz.demos.reconstruction import run_reconstructions
        return run_reconstructions(tuple(setting["transforms"]), setting["n_iterations"],
                                   setting["lr"], setting["N"], progress=report)
    if demo == "digits":
        from scatviz.demos.digits import run_digits
        return run_digits(setting.get("path"), tuple(setting["transforms"]), J=setting["J"],
                          Q=setting["Q"], N=setting["N"], progress=False,
                          callback=lambda d, t, m="": report(d, t, m))
    raise ValueError(f"No demo {demo!r}; the demos are {list(DEMOS)}.")


def first_key(demo: str, setting: dict | None = None) -> str:
    return store.result_key(demo, setting if setting is not None else first_setting(demo))


def load_first(demo: str, setting: dict | None = None) -> Any | None:
    """The stored result of ``setting`` (default: the first picture), or None."""
    return store.load_result(first_key(demo, setting))


def missing(demos: Sequence[str] = DEMOS) -> list[str]:
    """The demos whose first picture is not stored for the current code and profile."""
    return [d for d in demos if not (store.cache_dir() / first_key(d)).exists()]


def precompute_missing(demos: Sequence[str] = DEMOS, force: bool = False,
                       bar: bool = False) -> dict[str, str]:
    """Compute and store each first picture not stored yet (all with ``force``); the
    stored path of each, or the error that stopped it."""
    from tqdm.auto import tqdm

    out = {}
    for demo in (demos if force else missing(demos)):
        setting = first_setting(demo)
        with tqdm(total=1, desc=demo, disable=not bar) as pbar:
            def progress(done, total, message="", partial=None, pbar=pbar):
                pbar.total = max(total, 1)
                pbar.n = done
                pbar.set_postfix_str(message[:40])
                pbar.refresh()
            try:
                res = compute(demo, setting, progress)
            except Exception as exc:        # one demo failing leaves the others to compute
                out[demo] = f"failed: {type(exc).__name__}: {exc}"
                continue
        out[demo] = str(store.store_result(first_key(demo, setting), res))
    return out


def start_in_background(env: dict | None = None, log: Path | None = None):
    """``python -m scatviz.demos.precompute`` in a background process (the server's start),
    unless ``SCATVIZ_PRECOMPUTE=0``; the process, or None. Its output goes to ``log``
    (default: ``precompute.log`` in the cache folder)."""
    import subprocess

    env = dict(os.environ if env is None else env)
    if env.get("SCATVIZ_PRECOMPUTE", "1") in ("0", "false", "no", "off"):
        return None
    log = log or store.cache_dir() / "precompute.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "scatviz.demos.precompute"],
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scatviz.demos.precompute",
                                description="Compute and store the demos' first pictures "
                                            "(those not stored yet).")
    p.add_argument("--only", choices=DEMOS, action="append", help="this demo (repeatable)")
    p.add_argument("--force", action="store_true", help="recompute even when stored")
    p.add_argument("--list", action="store_true", help="say what is stored, compute nothing")
    args = p.parse_args(argv)
    demos = args.only or list(DEMOS)
    print(f"[precompute] profile {profile()!r}, cache {store.cache_dir()}", flush=True)
    if args.list:
        gone = missing(demos)
        for d in demos:
            print(f"{d}: {'missing' if d in gone else 'stored'} ({first_key(d)})")
        return 0
    out = precompute_missing(demos, force=args.force, bar=True)
    if not out:
        print(f"[precompute] stored already: {', '.join(demos)}", flush=True)
    for d, where in out.items():
        print(f"[precompute] {d}: {where}", flush=True)
    return 1 if any(v.startswith("failed") for v in out.values()) else 0


if __name__ == "__main__":      # pragma: no cover
    sys.exit(main())
