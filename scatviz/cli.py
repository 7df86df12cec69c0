"""The ``scatviz`` command: serve the dashboard, validate filter banks, render views, extract
features.

    scatviz serve [--port 5006] [--show]
    scatviz validate --J 8 --Q 12 --shape 8192 [--jtfs --J-fr 5 --Q-fr 2] -o report.html
    scatviz render SIGNAL --view scalogram -o out.png
    scatviz features FOLDER -o features.npz

``scatviz COMMAND --help`` explains every option. The functions behind the commands
(`run_validate`, `render`, `extract_features`) are importable for scripts and tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser", "run_validate", "render", "extract_features", "VIEWS",
           "dashboard_app_path", "load_signal"]

#: Views `render` draws: name -> (description, output formats).
VIEWS = {
    "signal": ("the waveform", ("png",)),
    "scalogram": ("first-order scalogram |x * psi1| (log colour scale)", ("png",)),
    "scattering": ("averaged scattering coefficients, orders 1 and 2", ("png",)),
    "filterbank": ("the filter bank's frequency responses and Littlewood-Paley sum", ("png",)),
    "jtfs": ("JTFS spin up / spin down energies per (n2, n1_fr), averaged over time",
             ("png",)),
    "jtfs_animation": ("JTFS grid over time (the dashboard's animation export)",
                       ("gif", "mp4", "png")),
}


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


def cmd_serve(args) -> int:
    app = dashboard_app_path()
    if not app.exists():
        print(f"scatviz serve: the dashboard app is not at {app}. Run from a clone of the "
              f"repository installed with `pip install -e .`, or set SCATVIZ_APP=/path/to/"
              f"apps/dashboard.py.", file=sys.stderr)
        return 2
    cmd = [sys.executable, "-m", "panel", "serve", str(app), "--address", args.address,
           "--port", str(args.port)]
    if args.address not in ("127.0.0.1", "localhost"):
        cmd += ["--allow-websocket-origin", f"{args.address}:{args.port}"]
    if args.show:
        cmd.append("--show")
    cmd += list(args.panel_args or [])
    print("scatviz serve:", " ".join(cmd), file=sys.stderr)
    env = dict(os.environ)
    root = str(app.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    return subprocess.call(cmd, cwd=root, env=env)


# --------------------------------------------------------------------------------------------
# validate
# --------------------------------------------------------------------------------------------

def run_validate(J: int, Q, shape: int, designs: Sequence[str] = ("kymatio", "tight"),
                 jtfs: bool = False, J_fr: int | None = None, Q_fr: int = 1, T=None, F=None,
                 output: str | None = None, fmt: str = "html") -> tuple[str, list]:
    """Validate the banks of each design; write the HTML (``fmt="html"``, to ``output``) or
    return the text. Returns ``(html or text, [(design, Report or message)])``."""
    from scatviz.report import report_html, reports_text, validate_designs

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
    designs = [d.strip() for d in args.designs.split(",") if d.strip()]
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
    `engine.signals.SIGNALS`; returns ``(x float32 (N,), sample_rate, name)``."""
    from engine.signals import SIGNALS, make_signal

    path = Path(spec)
    if path.exists():
        import soundfile as sf
        x, sr = sf.read(path, dtype="float32", always_2d=True)
        x = x.mean(axis=1)
        if N is not None:
            from engine.datasets import fit_length
            x = fit_length(x, N)
        return np.ascontiguousarray(x, dtype=np.float32), float(sr), path.stem
    if spec in SIGNALS:
        return make_signal(spec, N or 8192, sample_rate), float(sample_rate), spec
    try:
        from scatviz.signals_io import list_assets, load_asset
        if spec in list_assets():
            sig = load_asset(spec)
            x = sig.x
            if N is not None:
                from engine.datasets import fit_length
                x = fit_length(x, N)
            return np.asarray(x, np.float32), float(sig.sample_rate), spec
        assets = sorted(list_assets())
    except ImportError:
        assets = []
    names = ", ".join(sorted(SIGNALS))
    raise ValueError(f"SIGNAL {spec!r} is neither a file, a generator ({names}) "
                     f"nor an asset ({', '.join(assets) or 'none'}).")


def _figure(w=9.0, h=4.5):
    from matplotlib.figure import Figure
    return Figure(figsize=(w, h), dpi=110, layout="constrained")


def render(spec: str, view: str, output: str, J: int = 8, Q=(12, 1), T=None, J_fr: int = 4,
           Q_fr: int = 1, F=None, design: str | None = None, N: int | None = None,
           sample_rate: float = 8000.0, db_range: float = 60.0, fps: float = 8.0) -> Path:
    """Draw one view of ``spec`` (see `load_signal`) into ``output`` (.png, .gif, .mp4).

    The JTFS animation is the dashboard's own export (``scatviz.views.jtfs_animation``); the
    static views are matplotlib figures of the engine's outputs (the dashboard's views are
    Bokeh models, which need a browser driver to become PNGs). ``design`` defaults to each
    transform's own default: ``"kymatio"`` for Scattering1D, ``"tight"`` for JTFS.
    """
    if view not in VIEWS:
        raise ValueError(f"--view {view!r} is not known; choose one of {sorted(VIEWS)}.")
    if not db_range > 0:
        raise ValueError(f"--db-range must be a positive number of dB; got {db_range}.")
    out = Path(output)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in VIEWS[view][1]:
        raise ValueError(f"--view {view} writes {', '.join(VIEWS[view][1])}; got {out.name!r}.")
    x, sr, name = load_signal(spec, N, sample_rate)
    Q = (Q, 1) if isinstance(Q, int) else tuple(Q)
    design = design or ("tight" if view.startswith("jtfs") else "kymatio")
    if view == "jtfs_animation":
        from scatviz.state import compute_transforms
        from scatviz.views.jtfs_animation import export_jtfs_animation, render_frames
        tr = compute_transforms(x, sr, J=J, Q1=Q[0], Q2=Q[1], T=T or 0, J_fr=J_fr, Q_fr=Q_fr,
                                F=F or 0, design=design, name=name)
        if tr.jtfs is None:
            raise ValueError(tr.jtfs_error or "JTFS is not available in this build.")
        if fmt == "png":
            frames = render_frames(tr, max_frames=3)
            import imageio.v3 as iio
            iio.imwrite(out, frames[len(frames) // 2])
            return out
        export_jtfs_animation(tr, out, fps=fps)
        return out
    fig = _draw(view, x, sr, name, J, Q, T, J_fr, Q_fr, F, design, db_range)
    fig.savefig(out)
    return out


def _draw(view, x, sr, name, J, Q, T, J_fr, Q_fr, F, design, db_range=60.0):
    import torch

    from engine import Scattering1D
    N = len(x)
    t = np.arange(N) / sr
    fig = _figure()
    if view == "signal":
        ax = fig.add_subplot(1, 1, 1)
        ax.plot(t, x, lw=0.5, color="k")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("amplitude")
        ax.set_title(f"{name}: {N} samples at {sr:g} Hz")
        return fig
    if view == "filterbank":
        from engine.toolkit import validate_filterbank
        from scatviz.report import filter_figure
        S = Scattering1D(J, N, Q, T=T, filterbank=design)
        return filter_figure(validate_filterbank(S, families=["psi1"]), "psi1",
                             f"{design} design, J={J}, Q={Q}: psi1 (offending in red)")
    if view == "scalogram":
        from scatviz.demos.common import draw_scalogram, scalogram
        ax = fig.add_subplot(1, 1, 1)
        img, f1 = scalogram(x, J, Q, design, sr)
        im = draw_scalogram(ax, img, f1, N / sr, dynamic_range_db=db_range)
        fig.colorbar(im, ax=ax, label="dB")
        ax.set_title(f"{name}: scalogram |x * psi1|, J={J}, Q={Q[0]}")
        ax.set_xlabel("time (s)")
        return fig
    if view == "scattering":
        S = Scattering1D(J, N, Q, T=T, filterbank=design)
        with torch.no_grad():
            Sx = S(torch.from_numpy(x)).numpy()
        order = S.meta()["order"]
        ax = fig.add_subplot(1, 1, 1)
        sel = order > 0
        im = ax.imshow(np.log1p(Sx[sel] / (Sx[sel].mean() + 1e-30)), aspect="auto",
                       origin="upper", extent=(0, N / sr, sel.sum(), 0), cmap="viridis")
        n1 = int((order == 1).sum())
        ax.axhline(n1, color="w", lw=0.8)
        ax.set_ylabel(f"channel (order 1: 0..{n1 - 1}, then order 2)")
        fig.colorbar(im, ax=ax, label="log1p(S / mean)")
        ax.set_title(f"{name}: scattering orders 1-2, J={J}, Q={Q}, T={S.T}")
        ax.set_xlabel("time (s)")
        return fig
    if view == "jtfs":
        try:
            from engine.jtfs import TimeFrequencyScattering
        except ImportError as exc:
            raise ValueError(f"JTFS is not available in this build: {exc}") from exc
        tf = TimeFrequencyScattering(J, J_fr, Q, N, T=T, Q_fr=Q_fr, F=F, out_type="pairs",
                                     filterbank=design)
        with torch.no_grad():
            out = tf(torch.from_numpy(x))
        up = out["psi_t * psi_f_up"].double().pow(2).sum((-1, -2)).numpy()   # (n2, n_fr)
        dn = out["psi_t * psi_f_dn"].double().pow(2).sum((-1, -2)).numpy()
        grid = np.vstack([up.T[::-1], dn.T])              # rows: up (high n_fr top), down
        ax = fig.add_subplot(1, 1, 1)
        im = ax.imshow(np.log10(grid + 1e-12 * grid.max() + 1e-30), aspect="auto",
                       cmap="magma", interpolation="nearest")
        nfr = up.shape[1]
        ax.axhline(nfr - 0.5, color="w", lw=1)
        ax.set_yticks([nfr / 2 - 0.5, nfr + nfr / 2 - 0.5], ["spin up\n(rising)",
                                                            "spin down\n(falling)"])
        ax.set_xlabel("n2 (temporal modulation, high to low)")
        fig.colorbar(im, ax=ax, label="log10 energy")
        ax.set_title(f"{name}: JTFS energy per (n2, n1_fr); up {up.sum():.3g}, "
                     f"down {dn.sum():.3g}")
        return fig
    raise ValueError(view)


def cmd_render(args) -> int:
    try:
        out = render(args.signal, args.view, args.output, J=args.J, Q=args.Q, T=args.T,
                     J_fr=args.J_fr, Q_fr=args.Q_fr, F=args.F, design=args.design, N=args.N,
                     sample_rate=args.sample_rate, db_range=args.db_range, fps=args.fps)
    except (ValueError, TypeError) as exc:
        print(f"scatviz render: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


# --------------------------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------------------------

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".au")


def _save_npz_atomic(path: Path, **arrays) -> None:
    tmp = path.with_name(path.name + ".partial.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def extract_features(folder, output, transform: str = "scattering", J: int = 8, Q=12,
                     N: int = 8192, T=None, J_fr: int = 4, Q_fr: int = 1, F=None,
                     design: str | None = None, pool: str = "mean", log: bool = False,
                     batch_size: int = 32, pattern: str = "**/*", progress: bool = True,
                     overwrite: bool = False) -> dict:
    """Every audio file under ``folder`` through a transform, in batches, into ``output``.

    Each file is read (mono mix-down, its own sample rate), fitted to ``N`` samples
    (centre zero-padding or centre crop, `engine.datasets.fit_length`) and transformed:
    ``Scattering1D(J, N, Q, T)`` or ``TimeFrequencyScattering(J, J_fr, Q, N, T, Q_fr=Q_fr,
    F=F)`` (array output, format "time"), with ``design`` (default: the transform's own,
    ``"kymatio"`` for Scattering1D, ``"tight"`` for JTFS). ``pool="mean"`` averages over time
    (features ``(n, C)``), ``"none"`` keeps ``(n, C, L)``; ``log=True`` stores ``log1p``.

    The ``.npz`` holds ``features``, ``files`` (relative paths), ``sample_rates`` and
    ``config`` (JSON). It is rewritten atomically after every batch, so an interrupted run
    resumes where it stopped: files already in ``output`` are skipped, provided the
    configuration is the same (else pass ``overwrite=True``). Files that cannot be read are
    listed in ``failed`` and skipped.

    Returns a summary dict: ``done`` (files transformed now), ``skipped`` (already in
    ``output``), ``failed`` (unreadable), ``total`` (files in ``output``), ``output``.
    """
    import soundfile as sf
    import torch

    from engine.datasets import fit_length

    folder, output = Path(folder), Path(output)
    design = design or ("tight" if transform == "jtfs" else "kymatio")
    if not folder.is_dir():
        raise ValueError(f"FOLDER {folder} is not a directory.")
    if pool not in ("mean", "none"):
        raise ValueError(f"pool must be 'mean' or 'none'; got {pool!r}.")
    files = sorted(p for p in folder.glob(pattern)
                   if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise ValueError(f"No audio files ({', '.join(AUDIO_SUFFIXES)}) under {folder} "
                         f"matching {pattern!r}.")
    config = dict(transform=transform, J=J, Q=Q if isinstance(Q, int) else list(Q), N=N,
                  T=T, J_fr=J_fr, Q_fr=Q_fr, F=F, design=design, pool=pool, log=log)
    feats: list[np.ndarray] = []
    names: list[str] = []
    rates: list[float] = []
    failed: list[str] = []
    if output.exists() and not overwrite:
        with np.load(output, allow_pickle=False) as old:
            old_cfg = json.loads(str(old["config"]))
            if old_cfg != config:
                raise ValueError(f"{output} was made with {old_cfg}, not {config}; pass "
                                 f"--overwrite to start again, or another -o.")
            feats = list(old["features"])
            names = [str(s) for s in old["files"]]
            rates = [float(r) for r in old["sample_rates"]]
            failed = [str(s) for s in old["failed"]] if "failed" in old else []
    n_before = len(names)
    done = set(names) | set(failed)
    todo = [p for p in files if str(p.relative_to(folder)) not in done]
    if transform == "scattering":
        from engine import Scattering1D
        module = Scattering1D(J, N, Q, T=T, filterbank=design)
    elif transform == "jtfs":
        from engine.jtfs import TimeFrequencyScattering
        module = TimeFrequencyScattering(J, J_fr, Q, N, T=T, Q_fr=Q_fr, F=F,
                                         filterbank=design)
    else:
        raise ValueError(f"transform must be 'scattering' or 'jtfs'; got {transform!r}.")
    from tqdm.auto import tqdm
    bar = tqdm(total=len(files), initial=len(files) - len(todo), disable=not progress,
               unit="file", desc=f"{transform} features")
    for a in range(0, len(todo), batch_size):
        batch, xs = [], []
        for p in todo[a:a + batch_size]:
            rel = str(p.relative_to(folder))
            try:
                y, sr = sf.read(p, dtype="float32", always_2d=True)
            except Exception:          # unreadable file: recorded, never fatal
                failed.append(rel)
                continue
            xs.append(fit_length(y.mean(axis=1), N).astype(np.float32))
            batch.append((rel, float(sr)))
        if xs:
            with torch.no_grad():
                S = module(torch.from_numpy(np.stack(xs))).double().numpy()
            if pool == "mean":
                S = S.mean(axis=-1)
            if log:
                S = np.log1p(S)
            feats.extend(S.astype(np.float32))
            names += [b[0] for b in batch]
            rates += [b[1] for b in batch]
        _save_npz_atomic(output, features=np.asarray(feats, dtype=np.float32)
                         if feats else np.zeros((0,), np.float32),
                         files=np.array(names), sample_rates=np.array(rates),
                         failed=np.array(failed), config=json.dumps(config))
        bar.update(len(todo[a:a + batch_size]))
    bar.close()
    return dict(done=len(names) - n_before, skipped=len(files) - len(todo), failed=failed,
                total=len(names), output=str(output))


def cmd_features(args) -> int:
    try:
        res = extract_features(args.folder, args.output, args.transform, J=args.J, Q=args.Q,
                               N=args.N, T=args.T, J_fr=args.J_fr, Q_fr=args.Q_fr, F=args.F,
                               design=args.design, pool=args.pool, log=args.log,
                               batch_size=args.batch_size, pattern=args.pattern,
                               progress=not args.quiet, overwrite=args.overwrite)
    except (ValueError, TypeError, ImportError) as exc:
        print(f"scatviz features: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {res['output']}: {res['total']} files ({res['skipped']} already done, "
          f"{len(res['failed'])} unreadable)")
    return 0


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

    p = sub.add_parser("serve", help="serve the dashboard (panel serve apps/dashboard.py)",
                       description="Serve the Panel dashboard at http://ADDRESS:PORT/dashboard. "
                                   "Arguments after `--` go to `panel serve` unchanged.")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", 5006)),
                   help="TCP port (default $PORT or 5006)")
    p.add_argument("--address", default="127.0.0.1",
                   help="interface to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--show", action="store_true", help="open a browser tab once it is up")
    p.add_argument("--dry-run", action="store_true",
                   help="print the panel command instead of running it")
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
    p.add_argument("--designs", default="kymatio,tight",
                   help="comma-separated filter bank designs shown side by side "
                        "(default kymatio,tight)")
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
    p.add_argument("--design", default=None, choices=("kymatio", "tight"),
                   help="filter bank design (default: kymatio for the Scattering1D views, "
                        "tight for the JTFS ones)")
    p.add_argument("--N", type=int, default=None,
                   help="fit the signal to N samples (centre pad/crop); generators default "
                        "to 8192")
    p.add_argument("--sample-rate", dest="sample_rate", type=float, default=8000.0,
                   help="sample rate (Hz) of generated signals (default 8000)")
    p.add_argument("--db-range", dest="db_range", type=float, default=60.0,
                   help="scalogram: colour range in dB below the loudest point (default 60, "
                        "as the dashboard)")
    p.add_argument("--fps", type=float, default=8.0, help="frames per second of animations")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser(
        "features", help="every audio file of a folder through a transform, into one .npz",
        description="Read every audio file under FOLDER (recursively; mono mix-down; fitted "
                    "to N samples by centre zero-padding / centre crop), transform them in "
                    "batches with a progress bar, and save features, file names, sample "
                    "rates and the configuration to OUTPUT. The file is rewritten atomically "
                    "after each batch: re-running the same command resumes where it stopped.")
    p.add_argument("folder", metavar="FOLDER", help="folder of audio files")
    p.add_argument("-o", "--output", default="features.npz",
                   help="output .npz (default features.npz)")
    p.add_argument("--transform", choices=("scattering", "jtfs"), default="scattering",
                   help="Scattering1D or TimeFrequencyScattering (default scattering)")
    _transform_args(p)
    p.add_argument("--N", type=int, default=8192,
                   help="length every file is fitted to (default 8192)")
    p.add_argument("--design", default=None, choices=("kymatio", "tight"),
                   help="filter bank design (default: kymatio for scattering, tight for jtfs)")
    p.add_argument("--pool", choices=("mean", "none"), default="mean",
                   help="mean: average over time, features (n, C); none: keep (n, C, time)")
    p.add_argument("--log", action="store_true", help="store log1p of the coefficients")
    p.add_argument("--batch-size", dest="batch_size", type=int, default=32,
                   help="files per batch, and per checkpoint (default 32)")
    p.add_argument("--pattern", default="**/*",
                   help="glob of files under FOLDER (default **/*: all, recursively)")
    p.add_argument("--overwrite", action="store_true",
                   help="start again even if OUTPUT exists with another configuration")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_features)
    return parser


def _signal_names():
    try:
        from engine.signals import SIGNALS
        return SIGNALS
    except ImportError:
        return {}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``scatviz`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "panel_args", None) and args.panel_args[:1] == ["--"]:
        args.panel_args = args.panel_args[1:]
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
