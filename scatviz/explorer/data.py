"""The dataset explorer's data: a feature store's files as points of a 2D embedding, the
accuracy of the seed's digit classifier on them, and the recording behind a point.

Computing only (numpy, scikit-learn, xarray): the views sit in `scatviz.explorer.app`.

>>> data = ExplorerData.open("fsdd.zarr")                  # doctest: +SKIP
>>> xy = data.embedding("pca")                             # (files, 2)
>>> data.classifier()["accuracy"]                          # doctest: +SKIP
0.99
>>> x, sr, name = data.recording(0)                        # the file behind point 0
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["EMBEDDINGS", "ExplorerData", "resolve_store", "log_features", "bounded_tsne",
           "TSNE_MAX"]

#: 2D embeddings offered: name -> label. PCA is the default (fast, deterministic).
EMBEDDINGS = {"pca": "PCA", "tsne": "t-SNE", "isomap": "Isomap"}

#: Most files that t-SNE itself fits (`bounded_tsne`); the others are placed from their
#: neighbours among them.
TSNE_MAX = 2000


def _digest(*parts) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update(np.ascontiguousarray(p).tobytes() if isinstance(p, np.ndarray) else p)
    return h.hexdigest()[:16]


def _embed(features: np.ndarray, method: str, seed: int) -> np.ndarray:
    from sklearn.preprocessing import StandardScaler

    Z = StandardScaler().fit_transform(features)
    n = len(Z)
    if method == "pca" or n < 5:
        from sklearn.decomposition import PCA
        return PCA(2, random_state=seed).fit_transform(Z)
    if method == "tsne":
        return bounded_tsne(Z, seed)
    from sklearn.manifold import Isomap
    return Isomap(n_neighbors=min(10, n - 1), n_components=2).fit_transform(Z)


def bounded_tsne(Z: np.ndarray, seed: int = 0, max_fit: int | None = None) -> np.ndarray:
    """t-SNE of the rows of ``Z`` (standardised features) in bounded time: the features are
    first reduced to their 50 leading principal components (the usual preprocessing; it
    also makes the neighbour search cheap), and at most ``max_fit`` (default `TSNE_MAX`)
    files, drawn at random (``seed``), are fitted by scikit-learn's t-SNE (PCA-initialised,
    perplexity ``min(30, (m - 1) / 3)``). Each other file is placed at the distance-weighted
    mean position of its 5 nearest fitted files in that 50-dimensional space. Its cost is
    therefore that of ``max_fit`` files plus a neighbour search, whatever the store's size.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from sklearn.neighbors import NearestNeighbors

    max_fit = TSNE_MAX if max_fit is None else int(max_fit)
    n = len(Z)
    P = PCA(min(50, n, Z.shape[1]), random_state=seed).fit_transform(Z)
    fit = (np.arange(n) if n <= max_fit else
           np.sort(np.random.default_rng(seed).choice(n, max_fit, replace=False)))
    m = len(fit)
    Y = np.empty((n, 2))
    Y[fit] = TSNE(2, perplexity=min(30.0, (m - 1) / 3), init="pca",
                  random_state=seed).fit_transform(P[fit])
    rest = np.setdiff1d(np.arange(n), fit)
    if len(rest):
        dist, idx = NearestNeighbors(n_neighbors=min(5, m)).fit(P[fit]).kneighbors(P[rest])
        w = 1.0 / np.maximum(dist, 1e-12)
        Y[rest] = (w[..., None] * Y[fit][idx]).sum(1) / w.sum(1, keepdims=True)
    return Y


def resolve_store(name: str, base: str | Path) -> Path:
    """The store ``name`` (a path relative to ``base``) inside the folder ``base``, or
    ValueError. A visitor's ``?store=`` goes through here: absolute paths, ``..`` and links
    leading out of ``base`` are refused, so only the stores under ``base`` can be opened."""
    base = Path(base).resolve()
    if not name or Path(name).is_absolute():
        raise ValueError(f"store must be a path relative to the stores folder; got {name!r}.")
    path = (base / name).resolve()
    if path != base and base not in path.parents:
        raise ValueError(f"store {name!r} is outside the stores folder.")
    if not (path / ".zgroup").exists():
        raise ValueError(f"No feature store {name!r} in the stores folder; choose one of "
                         f"{', '.join(list_stores(base)) or '(none)'}.")
    return path


def list_stores(base: str | Path) -> list[str]:
    """The feature stores directly under ``base`` (names relative to it)."""
    base = Path(base)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / ".zgroup").exists())


def log_features(S: np.ndarray) -> np.ndarray:
    """The seed classifier's features (`scatviz.demos.digits`): ``(n, C, L)`` coefficients
    give ``log(max(S, 0) + 1e-4)`` pooled to 4 segment means and the standard deviation over
    time, ``(n, 5 C)``; already pooled ``(n, C)`` ones give ``log(max(S, 0) + 1e-4)``."""
    from scatviz.demos.digits import EPS, pool_features

    if S.ndim == 3:
        return pool_features(S)
    return np.log(np.maximum(S.astype(np.float64), 0.0) + EPS)


@dataclass(eq=False)
class ExplorerData:
    """The readable files of one store: ``features`` ``(n, D)`` (`log_features`), ``paths``
    (absolute), ``names`` (as stored), ``labels`` ``{name: (n,)}`` from the store's label
    coordinates, ``sample_rates`` (Hz), and the store's ``config``."""

    store: Path
    features: np.ndarray
    paths: list[Path]
    names: list[str]
    labels: dict
    sample_rates: np.ndarray
    config: dict

    @classmethod
    def open(cls, store) -> ExplorerData:
        """Read a store written by `scatviz.features.extract` (its ``ok`` files only). The
        same store, unchanged since, gives the same object: its embeddings and classifier
        are computed once per server process, not once per visitor."""
        path = Path(store).resolve()
        zattrs = path / ".zattrs"
        stamp = zattrs.stat().st_mtime_ns if zattrs.exists() else 0
        return _open_cached(cls, path, stamp)

    @classmethod
    def _read(cls, store) -> ExplorerData:
        from scatviz.features.store import open_features

        ds = open_features(store)
        ok = ds.ok.values
        if not ok.any():
            raise ValueError(f"{store} holds no transformed file yet: run `scatviz features` "
                             f"to completion first.")
        ds = ds.isel(file=np.flatnonzero(ok))
        root = Path(ds.attrs["root"])
        names = [str(p) for p in ds.path.values]
        label_names = [k for k, v in ds.coords.items()
                       if v.dims == ("file",) and k not in ("path", "sample_rate", "frames",
                                                            "duration", "blocked")]
        return cls(Path(store), log_features(ds.coefficients.values), [root / n for n in names],
                   names, {k: ds[k].values for k in label_names}, ds.sample_rate.values,
                   ds.attrs["config_dict"])

    # ---- what colours the points ------------------------------------------------------------

    @property
    def colour_label(self) -> str | None:
        """The label that colours the points: ``digit`` when there is one, else the first."""
        if "digit" in self.labels:
            return "digit"
        return next(iter(self.labels), None)

    # ---- embedding ---------------------------------------------------------------------------

    @functools.lru_cache(maxsize=8)  # noqa: B019 (one instance per store, kept by the app)
    def embedding(self, method: str = "pca", seed: int = 0) -> np.ndarray:
        """The files in 2D, ``(n, 2)``, from their standardised features: ``"pca"``,
        ``"tsne"`` (scikit-learn's t-SNE, PCA-initialised, ``random_state=seed``; bounded:
        see `bounded_tsne`) or ``"isomap"``. t-SNE and Isomap, which take seconds to minutes
        on thousands of files, are kept beside the store (``.explorer/``), keyed by the
        features, so that each is paid once per store, not once per server process."""
        if method not in EMBEDDINGS:
            raise ValueError(f"embedding must be one of {', '.join(EMBEDDINGS)}; got "
                             f"{method!r}.")
        if method == "pca" or len(self.features) < 5:
            return _embed(self.features, "pca", seed)
        key = _digest(self.features, method.encode(), repr((seed, TSNE_MAX)).encode())
        return self._kept(f"embedding-{method}-{key}", lambda: _embed(self.features, method,
                                                                      seed))

    def _kept(self, name: str, compute) -> np.ndarray:
        """``compute()``, kept in ``<store>/.explorer/<name>.npy`` (a read-only store: not
        kept, computed again next time)."""
        path = self.store / ".explorer" / f"{name}.npy"
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            out = compute()
        try:
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, out)
            os.replace(tmp, path)
        except OSError:
            pass
        return out

    # ---- classifier --------------------------------------------------------------------------

    def split(self) -> np.ndarray | None:
        """The test files of the official FSDD split (``index`` 0-4), or None when the store
        has no ``index`` label."""
        if "index" not in self.labels:
            return None
        return np.asarray(self.labels["index"]) < 5

    @functools.lru_cache(maxsize=2)  # noqa: B019
    def classifier(self, label: str | None = None, weight_decay: float = 1e-3) -> dict | None:
        """The seed's digit classifier (`scatviz.demos.digits.fit_linear`): multinomial
        logistic regression on the training files' standardised log-scattering features, L2
        weight ``weight_decay`` on the mean cross-entropy, scored on the test files of the
        official split. Returns ``accuracy``, ``n_train``, ``n_test``, ``label``, ``classes``,
        ``predicted`` (every file's class index) and ``test`` (mask); None without a label or
        a split."""
        label = label or self.colour_label
        test = self.split()
        if label is None or test is None or test.all() or not test.any():
            return None
        classes, y = np.unique(np.asarray(self.labels[label]), return_inverse=True)
        # Fitting takes a minute or more on 3000 files: the result is kept beside the store,
        # keyed by what it is computed from, so that it is paid once per store, not per server.
        key = hashlib.sha1(np.ascontiguousarray(self.features).tobytes())
        key.update(np.ascontiguousarray(y).tobytes() + test.tobytes() + repr(weight_decay).encode()
                   + b"fit_linear")
        cache = self.store / ".explorer" / f"classifier-{key.hexdigest()[:16]}.npz"
        try:
            with np.load(cache, allow_pickle=False) as f:
                pred, accuracy = f["predicted"], float(f["accuracy"])
        except (OSError, KeyError, ValueError):
            pred, accuracy = self._fit_classifier(y, test, weight_decay)
            try:
                cache.parent.mkdir(exist_ok=True)
                tmp = cache.with_suffix(".tmp.npz")
                np.savez(tmp, predicted=pred, accuracy=accuracy)
                os.replace(tmp, cache)
            except OSError:         # a read-only store: compute again next time
                pass
        return dict(accuracy=accuracy, n_train=int((~test).sum()), n_test=int(test.sum()),
                    label=label, predicted=pred, classes=classes, test=test)

    def _fit_classifier(self, y: np.ndarray, test: np.ndarray, weight_decay: float):
        from scatviz.demos.digits import fit_linear

        train = ~test
        model = fit_linear(self.features[train], y[train], weight_decay=weight_decay,
                           n_classes=int(y.max()) + 1)
        pred = model.predict(self.features)
        return pred, float((pred[test] == y[test]).mean())

    # ---- the recording behind a point --------------------------------------------------------

    def recording(self, i: int) -> tuple[np.ndarray, float, str]:
        """``(x float32 (N,), sample rate Hz, name)`` of file ``i`` (as on disk, not fitted)."""
        from scatviz.signals_io import read_audio

        if not 0 <= int(i) < len(self.paths):
            raise IndexError(f"point {i} is not one of the {len(self.paths)} files.")
        x, sr, _ = read_audio(self.paths[int(i)])
        return x, sr, self.names[int(i)]


@functools.lru_cache(maxsize=8)
def _open_cached(cls, path: Path, stamp: int) -> ExplorerData:
    return cls._read(path)
