"""Features of audio corpora: every file through a scattering or JTFS transform.

- `extract` (Dask, Zarr store, `xarray.Dataset`): the dataset-scale path, sharded over a
  `LocalCluster` or any Dask cluster, resumable, fault tolerant
  (`scatviz.features.extraction`).
- `extract_features` (one process, one ``.npz``): the small-data path and the oracle the
  Dask path is tested against (`scatviz.features.single`).
- `open_features`: a store written by `extract` as an `xarray.Dataset`.

Importing this package loads neither Dask nor the web stack, nor torch until a name is used
(its names are imported on first use); `extract` loads Dask when run.

>>> from scatviz.features import extract                          # doctest: +SKIP
>>> ds = extract("recordings/", "fsdd.zarr", labels="fsdd", N=8192)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib

#: Public name -> the submodule that defines it. Imported on first use (PEP 562), so that
#: importing one light submodule (`scatviz.features.headers`, which a Dask worker's first
#: tasks import) does not import torch.
_WHERE = {"extract": "extraction", "open_features": "store", "extract_features": "single",
          "_save_npz_atomic": "single", "make_config": "core", "TRANSFORMS": "core",
          "AUDIO_SUFFIXES": "core", "LABEL_PRESETS": "core"}

__all__ = ["extract", "open_features", "extract_features", "make_config", "TRANSFORMS",
           "AUDIO_SUFFIXES", "LABEL_PRESETS", "_save_npz_atomic"]


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"scatviz.features.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scatviz.features' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

