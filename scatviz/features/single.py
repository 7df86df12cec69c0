"""Features of a folder of audio files in one process: every file through a transform, in
batches, into one resumable ``.npz`` (``scatviz features FOLDER -o features.npz``).

This is the oracle of the Dask path (`scatviz.features.extract`): both run
`scatviz.features.long.transform_files` (short files batched through
`scatviz.features.core.transform_batch`, long ones in blocks) on the same modules. It
rewrites the whole ``.npz`` after each batch, so its cost grows with the square of the
data set: use a ``.zarr`` output for corpora.

>>> summary = extract_features("recordings/", "features.npz", J=6, Q=8, N=4096)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from scatviz.features.core import (
    AUDIO_SUFFIXES,
    TRANSFORMS,
    config_key,
    list_audio,
    make_config,
)

__all__ = ["extract_features", "AUDIO_SUFFIXES", "TRANSFORMS"]


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
    (centre zero-padding, `engine.datasets.fit_length`) and transformed:
    ``Scattering1D(J, N, Q, T)`` or ``TimeFrequencyScattering(J, J_fr, Q, N, T, Q_fr=Q_fr,
    F=F)`` (array output, format "time"), with ``design`` (default: the transform's own,
    `scatviz.pipeline.default_design`). ``pool="mean"`` averages over time
    (features ``(n, C)``), ``"none"`` keeps ``(n, C, L)``; ``log=True`` stores ``log1p``.
    A file longer than ``N`` is transformed whole, block by block (its mean over all its
    frames, or the ``L`` frames at its centre: `scatviz.features.long`).

    The ``.npz`` holds ``features``, ``files`` (relative paths), ``sample_rates`` and
    ``config`` (JSON). It is rewritten atomically after every batch, so an interrupted run
    resumes where it stopped: files already in ``output`` are skipped, provided the
    configuration is the same (else pass ``overwrite=True``). Files that cannot be read are
    listed in ``failed`` and skipped.

    Returns a summary dict: ``done`` (files transformed now), ``skipped`` (already in
    ``output``), ``failed`` (unreadable), ``total`` (files in ``output``), ``output``.
    """
    from scatviz.features.headers import read_headers
    from scatviz.features.long import transform_files

    folder, output = Path(folder), Path(output)
    config = make_config(transform, J=J, Q=Q, N=N, T=T, J_fr=J_fr, Q_fr=Q_fr, F=F,
                         design=design, pool=pool, log=log)
    folder, files = list_audio(folder, pattern)
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
    key = config_key(config)
    from tqdm.auto import tqdm
    bar = tqdm(total=len(files), initial=len(files) - len(todo), disable=not progress,
               unit="file", desc=f"{transform} features")
    for a in range(0, len(todo), batch_size):
        chunk = todo[a:a + batch_size]
        rels = [str(p.relative_to(folder)) for p in chunk]
        sr, frames, _ = read_headers(chunk)
        rows, ok, _ = transform_files(key, chunk, rels, frames)   # long files in blocks
        failed += [r for r, o in zip(rels, ok) if not o]          # unreadable: never fatal
        if rows is not None:
            feats.extend(rows[ok])
            names += [r for r, o in zip(rels, ok) if o]
            rates += [float(r) for r in sr[ok]]
        _save_npz_atomic(output, features=np.asarray(feats, dtype=np.float32)
                         if feats else np.zeros((0,), np.float32),
                         files=np.array(names), sample_rates=np.array(rates),
                         failed=np.array(failed), config=json.dumps(config))
        bar.update(len(todo[a:a + batch_size]))
    bar.close()
    return dict(done=len(names) - n_before, skipped=len(files) - len(todo), failed=failed,
                total=len(names), output=str(output))
