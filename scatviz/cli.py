"""The ``scatviz`` command: serve the dashboard, validate filter banks, render views, extract
features.

    scatviz serve [--port 5006] [--show]
    scatviz validate --J 8 --Q 12 --shape 8192 [--jtfs --J-fr 5 --Q-fr 2] -o report.html
    scatviz render SIGNAL --view scalogram -o out.png
    scatviz features FOLDER -o features.zarr [--scheduler ADDRESS]   (or -o features.npz)

``scatviz COMMAND --help`` explains every option. The functions behind the commands
(`run_validate`, `render`, `extract_features`) are importable for scripts and tests.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine import available_designs
from scatviz.features import (
    TRANSFORMS,
    _save_npz_atomic,  # noqa: F401 (tests patch it there)
    extract_features,
)
from scatviz.render import VIEWS, _draw, render  # noqa: F401 (_draw: tests call it)
from scatviz.signals_io import load_spec

__all__ = ["main", "build_parser", "run_validate", "render", "extract_features", "VIEWS",
           "dashboard_app_path", "load_signal"]

def _q(text: str):
    """``"12"`` -> 12, ``"8,2"`` -> (8, 2)."""
    parts = [int(p) for p in str(text).split(",") if p.strip()]
    if not parts or len(parts) > 2:
        raise argparse.ArgumentTypeError(f"Q must be an integer or 'Q1,Q2'; got {text!r}.")
    return parts[0] if len(parts) == 1 else tuple(parts)


def _T(text: str):
    if text in ("global", "None", "none"):
        return None if text.lower() == "none" else "global"
    return int(text)


# --------------------------------------------------------------------------------------------
# serve
# --------------------------------------------------------------------------------------------

def dashboard_app_path() -> Path:
    """``apps/dashboard.py`` of the repository (the package is installed editable, so it sits
    beside the ``scatviz`` package), or ``$SCATVIZ_APP``."""
    if os.environ.get("SCATVIZ_APP"):
        return Path(os.environ["SCATVIZ_APP"])
    return Path(__file__).resolve().parent.parent / "apps" / "dashboard.py"


#: Largest websocket message the served app accepts: an upload of 200 MB, base64-encoded.
WEBSOCKET_MAX_BYTES = 300_000_000


def serve_command(address: str = "127.0.0.1", port: int = 5006, show: bool = False,
                  extra: list[str] | None = None, apps_dir: Path | None = None) -> list[str]:
    """The ``panel serve`` command line of the app: every page of `scatviz.pages` whose file
    exists (``/dashboard``, ``/why_jtfs``, ``/reconstruction``, ``/digits``, ``/explorer``),
    the dashboard also at ``/``, the server's settings script once at start-up."""
    from scatviz.pages import app_files

    apps = app_files(apps_dir) if apps_dir is not None else app_files(
        dashboard_app_path().parent)
    setup = Path(__file__).resolve().parent / "serve_setup.py"   # process settings, once
    cmd = [sys.executable, "-m", "panel", "serve", *map(str, apps), "--index", "dashboard",
           "--setup", str(setup), "--address", address, "--port", str(port),
           "--allow-websocket-origin", f"127.0.0.1:{port}",
           "--allow-websocket-origin", f"localhost:{port}",
           # uploads up to scatviz.server.uploads.MAX_UPLOAD_BYTES (200 MB) travel in one
           # websocket message: Bokeh's default limit is 20 MB
           "--websocket-max-message-size", str(WEBSOCKET_MAX_BYTES),
           # every page built once before the server listens (imports, templates, filter
           # banks, stored pictures read): the first visitor does not pay for it
           # (`benchmarks/bench_pages.py`)
           "--warm"]
    if address not in ("127.0.0.1", "localhost"):
        cmd += ["--allow-websocket-origin", f"{address}:{port}"]
    if show:
        cmd.append("--show")
    return cmd + list(extra or [])


#: The environment variable through which `scatviz serve --open FILE` names the recording
#: that every new dashboard page opens (`scatviz.views.dashboard.OPEN_FILE_ENV`: the CLI does
#: not import the web stack).
OPEN_FILE_ENV = "SCATVIZ_OPEN_FILE"


def check_recording(path) -> str:
    """The absolute path of a recording soundfile can read; ValueError saying why not."""
    import soundfile as sf

    p = Path(path).expanduser()
    if not p.is_file():
        raise ValueError(f"--open {path}: no such file.")
    try:
        sf.info(str(p))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise ValueError(f"--open {path}: not an audio file soundfile can read ({exc}); "
                         f"use WAV, FLAC or OGG.") from exc
    return str(p.resolve())


def cmd_serve(args) -> int:
    app = dashboard_app_path()
    if not app.exists():
        print(f"scatviz serve: the dashboard app is not at {app}. Run from a clone of the "
              f"repository installed with `pip install -e .`, or set SCATVIZ_APP=/path/to/"
              f"apps/dashboard.py.", file=sys.stderr)
        return 2
    extra = [a for a in (args.panel_args or []) if a != "--"]
    try:
        cmd = serve_command(args.address, args.port, args.show, extra, app.parent)
    except FileNotFoundError as exc:
        print(f"scatviz serve: {exc}", file=sys.stderr)
        return 2
    print("scatviz serve:", " ".join(cmd), file=sys.stderr)
    env = dict(os.environ)
    root = str(app.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if args.file:
        try:
            env[OPEN_FILE_ENV] = check_recording(args.file)
        except ValueError as exc:
            print(f"scatviz serve: {exc}", file=sys.stderr)
            return 2
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    # the demos' missing first pictures, computed beside the server (SCATVIZ_PRECOMPUTE=0:
    # not); a process of its own, which ends when they are stored
    from scatviz.demos.precompute import start_in_background
    start_in_background(env)
    # the server replaces this process: Ctrl+C and a SIGTERM reach it directly
    os.chdir(root)
    os.execve(cmd[0], cmd, env)
    return 0    # pragma: no cover (execve does not return)


# --------------------------------------------------------------------------------------------
# validate
# --------------------------------------------------------------------------------------------

def run_validate(J: int, Q, shape: int, designs: Sequence[str] | None = None,
                 jtfs: bool = False, J_fr: int | None = None, Q_fr: int = 1, T=None, F=None,
                 output: str | None = None, fmt: str = "html") -> tuple[str, list]:
    """Validate the banks of each design (default: every one of `engine.available_designs()`);
    write the HTML (``fmt="html"``, to ``output``) or return the text. Returns
    ``(html or text, [(design, Report or message)])``."""
    from scatviz.report import report_html, reports_text, validate_designs

    designs = list(available_designs() if designs is None else designs)

    reports = validate_designs(J, Q, shape, designs, jtfs=jtfs, J_fr=J_fr, Q_fr=Q_fr, T=T, F=F)
    params = dict(J=J, Q=Q, shape=shape, T=T if T is not None else f"2**J = {2**J}",
                  designs=", ".join(designs))
    if jtfs:
        params.update(jtfs=True, J_fr=J_fr, Q_fr=Q_fr, F=F)
    if fmt == "text":
        return reports_text(reports), reports
    title = f"Filter bank validation: J={J}, Q={Q}, N={shape}" + (
        f", JTFS J_fr={J_fr}, Q_fr={Q_fr}" if jtfs else "")
    page = report_html(reports, title, params)
    if output:
        Path(output).write_text(page, encoding="utf-8")
    return page, reports


def cmd_validate(args) -> int:
    designs = [d.strip() for d in (args.designs or ",".join(available_designs())).split(",")
               if d.strip()]
    J_fr = args.J_fr
    if args.jtfs and J_fr is None:
        J_fr = max(1, args.J - 3)
    try:
        out, reports = run_validate(args.J, args.Q, args.shape, designs, jtfs=args.jtfs,
                                    J_fr=J_fr, Q_fr=args.Q_fr, T=args.T, F=args.F,
                                    output=args.output if args.format == "html" else None,
                                    fmt=args.format)
    except (ValueError, TypeError) as exc:
        print(f"scatviz validate: {exc}", file=sys.stderr)
        return 2
    if args.format == "text":
        if args.output:
            Path(args.output).write_text(out + "\n", encoding="utf-8")
        print(out)
    else:
        target = args.output or "report.html"
        if not args.output:
            Path(target).write_text(out, encoding="utf-8")
        n = sum(len(r.problems) for _, r in reports if not isinstance(r, str))
        print(f"wrote {target}: {n} problem(s) over {len(reports)} design(s)")
    missing = [d for d, r in reports if isinstance(r, str)]
    for d in missing:
        print(f"note: {dict(reports)[d]}", file=sys.stderr)
    if args.strict and any(not isinstance(r, str) and r.problems for _, r in reports):
        return 1
    return 0


# --------------------------------------------------------------------------------------------
# render
# --------------------------------------------------------------------------------------------

def load_signal(spec: str, N: int | None = None, sample_rate: float = 8000.0
                ) -> tuple[np.ndarray, float, str]:
    """A signal from an audio file path, a bundled asset key or a generator name of
    `engine.signals.SIGNALS` (`scatviz.signals_io.load_spec`, with its checks); returns
    ``(x float32 (N,), sample_rate, name)``."""
    sig = load_spec(spec, N, sample_rate)
    return sig.x, sig.sample_rate, sig.name


def cmd_render(args) -> int:
    try:
        out = render(args.signal, args.view, args.output, J=args.J, Q=args.Q, T=args.T,
                     J_fr=args.J_fr, Q_fr=args.Q_fr, F=args.F, design=args.design, N=args.N,
                     sample_rate=args.sample_rate, db_range=args.db_range, fps=args.fps,
                     n1=args.n1, frame=args.frame, pitch=args.pitch, part=args.part)
    except (ValueError, TypeError) as exc:
        print(f"scatviz render: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


# --------------------------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------------------------

def cmd_features(args) -> int:
    """``scatviz features``: `scatviz.features.command.cmd_features`."""
    from scatviz.features.command import cmd_features as run

    return run(args)


# --------------------------------------------------------------------------------------------
# parser
# --------------------------------------------------------------------------------------------

def _transform_args(p, J=8, Q="12"):
    p.add_argument("--J", type=int, default=J,
                   help=f"octaves of the time wavelets; the low-pass averages 2**J samples by "
                        f"default (default {J})")
    p.add_argument("--Q", type=_q, default=_q(Q),
                   help=f"wavelets per octave, 'Q1' or 'Q1,Q2' for orders 1 and 2 (default {Q})")
    p.add_argument("--T", type=_T, default=None,
                   help="low-pass support in samples, or 'global' (default 2**J)")
    p.add_argument("--J-fr", dest="J_fr", type=int, default=4,
                   help="JTFS: octaves of the frequential wavelets along n1 (default 4)")
    p.add_argument("--Q-fr", dest="Q_fr", type=int, default=1,
                   help="JTFS: frequential wavelets per octave (default 1)")
    p.add_argument("--F", type=_T, default=None,
                   help="JTFS: frequential averaging width in n1 bins, or 'global' "
                        "(default 2**J_fr)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scatviz",
        description="See wavelet scattering and JTFS: serve the dashboard, validate filter "
                    "banks, render views to files, extract features from audio folders.",
        epilog="Run `scatviz COMMAND --help` for the options of each command.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("serve", help="serve the app: the dashboard and the teaching demos",
                       description="Serve the app at http://ADDRESS:PORT/: /dashboard, "
                                   "/why_jtfs, /reconstruction, /digits (and /explorer when "
                                   "apps/explorer.py exists), one theme and navigation. The "
                                   "demos' missing first pictures are computed in the "
                                   "background (SCATVIZ_PRECOMPUTE=0: not). Arguments after "
                                   "`--` go to `panel serve` unchanged.")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", 5006)),
                   help="TCP port (default $PORT or 5006)")
    p.add_argument("--address", default="127.0.0.1",
                   help="interface to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--show", action="store_true", help="open a browser tab once it is up")
    p.add_argument("--dry-run", action="store_true",
                   help="print the panel command instead of running it")
    p.add_argument("--open", dest="file", metavar="FILE", default=None,
                   help="a recording (WAV, FLAC, OGG, any length) the dashboard opens instead "
                        "of its bundled signal; a long one as an overview plus a detail window")
    p.add_argument("panel_args", nargs=argparse.REMAINDER,
                   help="extra arguments for panel serve, after `--`")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "validate", help="check filter banks; write an HTML report or print the findings",
        description="Build the transform for each filter bank design and check its banks "
                    "(analyticity, zero mean, Littlewood-Paley sum, redundancy, decay, "
                    "spacing/aliasing, constant-Q tiling, single temporal peak; see "
                    "engine.toolkit.validate_filterbank for the thresholds). The HTML report "
                    "is one self-contained file (plots inlined) that opens offline.")
    p.add_argument("--J", type=int, default=8, help="octaves (default 8)")
    p.add_argument("--Q", type=_q, default=12,
                   help="wavelets per octave, 'Q1' or 'Q1,Q2' (default 12)")
    p.add_argument("--shape", type=int, default=8192, help="signal length N (default 8192)")
    p.add_argument("--T", type=_T, default=None,
                   help="low-pass support in samples or 'global' (default 2**J)")
    p.add_argument("--designs", default=None,
                   help="comma-separated filter bank designs shown side by side (default: "
                        "every registered design, " + ",".join(available_designs()) + ")")
    p.add_argument("--jtfs", action="store_true",
                   help="validate the JTFS transform: adds the frequential family psi_fr")
    p.add_argument("--J-fr", dest="J_fr", type=int, default=None,
                   help="with --jtfs: frequential octaves (default J - 3)")
    p.add_argument("--Q-fr", dest="Q_fr", type=int, default=1,
                   help="with --jtfs: frequential wavelets per octave (default 1)")
    p.add_argument("--F", type=_T, default=None,
                   help="with --jtfs: frequential averaging (default 2**J_fr)")
    p.add_argument("-o", "--output", default=None,
                   help="output file (default report.html for --format html; stdout only "
                        "for --format text)")
    p.add_argument("--format", choices=("html", "text"), default="html",
                   help="html: the self-contained report; text: print the findings")
    p.add_argument("--strict", action="store_true",
                   help="exit with status 1 when any design has a problem")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "render", help="draw one view of a signal to PNG, GIF or MP4",
        description="SIGNAL is an audio file, a bundled asset key or a generator of "
                    "engine.signals (" + ", ".join(sorted(_signal_names())) + "). Views: "
                    + "; ".join(f"{k} ({', '.join(v[1])}): {v[0]}" for k, v in VIEWS.items()))
    p.add_argument("signal", metavar="SIGNAL", help="file, asset key or generator name")
    p.add_argument("--view", choices=sorted(VIEWS), default="scalogram",
                   help="what to draw (default scalogram)")
    p.add_argument("-o", "--output", required=True,
                   help="output file; its suffix picks the format (.png, .gif, .mp4)")
    _transform_args(p)
    p.add_argument("--design", default=None, choices=available_designs(),
                   help="filter bank design (default: each transform's own, "
                        + _default_designs() + ")")
    p.add_argument("--N", type=int, default=None,
                   help="fit the signal to N samples (centre pad/crop); generators default "
                        "to 8192")
    p.add_argument("--sample-rate", dest="sample_rate", type=float, default=8000.0,
                   help="sample rate (Hz) of generated signals (default 8000)")
    p.add_argument("--db-range", dest="db_range", type=float, default=60.0,
                   help="scalogram: colour range in dB below the loudest point (default 60, "
                        "as the dashboard)")
    p.add_argument("--fps", type=float, default=8.0, help="frames per second of animations")
    p.add_argument("--n1", type=int, default=None,
                   help="scattering2: the first-order wavelet (engine order, 0 = highest "
                        "frequency; default the loudest)")
    p.add_argument("--frame", type=int, default=None,
                   help="scattering2, jtfs_grid: the time frame shown (default the loudest)")
    p.add_argument("--pitch", action="store_true",
                   help="note names (A4 = 440 Hz) on the first-order frequency axes")
    p.add_argument("--part", choices=("re", "im", "abs"), default="re",
                   help="joint_wavelets, filterbank_heatmap: part of the complex filters")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser(
        "features", help="every audio file of a folder through a transform, into a Zarr "
                         "store (Dask) or one .npz",
        description="Read every audio file under FOLDER (recursively; mono mix-down; fitted "
                    "to N samples by centre zero-padding / centre crop) and transform it. A "
                    ".zarr OUTPUT runs on Dask (a local cluster sized to the machine, or "
                    "--scheduler), shard by shard into a store that opens as an "
                    "xarray.Dataset; a .npz OUTPUT runs in this process. Re-running the same "
                    "command resumes where it stopped; unreadable files are listed, not "
                    "fatal.")
    from scatviz.features.command import add_arguments
    add_arguments(p, _transform_args, available_designs(), _default_designs(), TRANSFORMS)
    p.set_defaults(func=cmd_features)
    return parser


def _signal_names():
    from engine.signals import SIGNALS
    return SIGNALS


def _default_designs() -> str:
    from scatviz.pipeline import default_design
    return ", ".join(f"{default_design(t)} for {t}" for t in TRANSFORMS)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``scatviz`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "panel_args", None) and args.panel_args[:1] == ["--"]:
        args.panel_args = args.panel_args[1:]
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
