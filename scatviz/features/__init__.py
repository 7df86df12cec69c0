"""Features of audio corpora: every file through a scattering or JTFS transform.

- `extract` (Dask, Zarr store, `xarray.Dataset`): the dataset-scale path, sharded over a
  `LocalCluster` or any Dask cluster, resumable, fault tolerant
  (`scatviz.features.extraction`).
- `extract_features` (one process, one ``.npz``): the small-data path and the oracle the
  Dask path is tested against (`scatviz.features.single`).
- `open_features`: a store written by `extract` as an `xarray.Dataset`.

Importing this package loads neither Dask nor the web stack; `extract` loads Dask when run.

>>> from scatviz.features import extract                          # doctest: +SKIP
>>> ds = extract("recordings/", "fsdd.zarr", labels="fsdd", N=8192)  # doctest: +SKIP
"""

from __future__ import annotations

from scatviz.features.core import AUDIO_SUFFIXES, LABEL_PRESETS, TRANSFORMS, make_config
from scatviz.features.extraction import extract
from scatviz.features.single import _save_npz_atomic, extract_features
from scatviz.features.store import open_features

__all__ = ["extract", "open_features", "extract_features", "make_config", "TRANSFORMS",
           "AUDIO_SUFFIXES", "LABEL_PRESETS", "_save_npz_atomic"]

