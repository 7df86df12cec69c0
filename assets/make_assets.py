"""Regenerate the bundled sample signals of `assets/` (run from the repository root).

    .venv/bin/python assets/make_assets.py [--fsdd ../shared/data/fsdd/recordings]

The synthetic signals come from `engine.signals` (the project's generators); the spoken digit
is copied unchanged from the Free Spoken Digit Dataset (CC BY-SA 4.0, see assets/README.md).
`assets.json` lists every asset with its label, sample rate and credit; `scatviz.signals_io`
reads it.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from engine import signals

HERE = Path(__file__).resolve().parent
FSDD_FILE = "7_jackson_0.wav"


def _write(name: str, x: np.ndarray, sr: int) -> str:
    x = np.asarray(x, dtype=np.float64)
    x = 0.9 * x / max(np.abs(x).max(), 1e-12)
    sf.write(HERE / name, x.astype(np.float32), sr, subtype="PCM_16")
    return name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fsdd", default=str(HERE.parent.parent / "shared/data/fsdd/recordings"))
    args = ap.parse_args()

    sr = 8000
    entries: dict[str, dict] = {}
    src = Path(args.fsdd) / FSDD_FILE
    shutil.copyfile(src, HERE / "digit_7_jackson.wav")
    entries["digit"] = {
        "file": "digit_7_jackson.wav", "label": "Spoken digit 'seven' (FSDD, 8 kHz)",
        "credit": "Free Spoken Digit Dataset, recording 7_jackson_0.wav; Zohar Jackson and the "
                  "FSDD contributors; CC BY-SA 4.0"}
    entries["chirp_exp"] = {
        "file": _write("chirp_exponential.wav",
                       signals.exponential_chirp(8192, 40.0, 3200.0, sample_rate=sr), sr),
        "label": "Exponential chirp 40 Hz -> 3.2 kHz (1 s)",
        "credit": "engine.signals.exponential_chirp(8192, 40, 3200, sample_rate=8000)"}
    entries["chirp_sine_pulse"] = {
        "file": _write("chirp_sine_pulse.wav", signals.chirp_sine_pulse(8192, sample_rate=sr), sr),
        "label": "Chirp + sine + pulse (1 s)",
        "credit": "engine.signals.chirp_sine_pulse(8192, sample_rate=8000)"}
    entries["vibrato"] = {
        "file": _write("harmonic_vibrato.wav", signals.harmonic_vibrato(
            16384, 220.0, sample_rate=sr, n_harmonics=8, vibrato_rate=5.0,
            vibrato_depth=0.05), sr),
        "label": "Harmonic tone 220 Hz with vibrato (2 s)",
        "credit": "engine.signals.harmonic_vibrato(16384, 220, sample_rate=8000, n_harmonics=8, "
                  "vibrato_rate=5, vibrato_depth=0.05)"}
    x, xs = signals.fdts(8192, sample_rate=sr)
    gap = np.zeros(1024, dtype=np.float32)
    entries["fdts_pair"] = {
        "file": _write("fdts_pair.wav", np.concatenate([x, gap, xs]), sr),
        "label": "FDTS pair: reference, then frequency-dependent time shifts (2.1 s)",
        "credit": "engine.signals.fdts(8192, sample_rate=8000): x, 1024 zeros, then xs"}
    entries["falling_chirp"] = {
        "file": _write("chirp_falling.wav",
                       signals.exponential_chirp(8192, 3200.0, 40.0, sample_rate=sr), sr),
        "label": "Falling exponential chirp 3.2 kHz -> 40 Hz (1 s)",
        "credit": "engine.signals.exponential_chirp(8192, 3200, 40, sample_rate=8000)"}
    (HERE / "assets.json").write_text(json.dumps(entries, indent=2) + "\n")
    print(f"wrote {len(entries)} assets to {HERE}")


if __name__ == "__main__":
    main()
