"""The dataset explorer's data and page model, without a browser: on a feature store of 60
shipped FSDD recordings (digits 0-4), the embedding, the classifier's accuracy, a click opening the
recording in the dashboard's views, and `?store=` confined to the stores folder."""

from __future__ import annotations

import numpy as np
import pytest

from scatviz.explorer import ExplorerData, list_stores, resolve_store
from scatviz.features import extract


@pytest.fixture(scope="module")
def stores(tmp_path_factory, fsdd_sample_dir):
    """A stores folder holding ``fsdd.zarr``: 60 of the shipped recordings (digits 0-4, takes 0 and 5), Scattering1D
    J=6, Q=8, N=4096, unpooled (the seed classifier's setting, smaller), FSDD labels.
    Computed on an in-process cluster (threads: no worker start-up to pay)."""
    from distributed import Client, LocalCluster

    base = tmp_path_factory.mktemp("stores")
    files = sorted(fsdd_sample_dir.glob("*.wav"))[:60]            # digits 0-4
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        extract(files, base / "fsdd.zarr", client=client, labels="fsdd",
                pool="none", progress=False, J=6, Q=8, N=4096)
    return base


@pytest.fixture(scope="module")
def data(stores):
    return ExplorerData.open(stores / "fsdd.zarr")


def test_features_labels_and_split(data):
    assert data.features.shape[0] == 60 and np.isfinite(data.features).all()
    assert data.colour_label == "digit"
    assert sorted(set(data.labels["digit"].tolist())) == list(range(5))
    test = data.split()
    assert test.sum() == 30 and set(np.asarray(data.labels["index"])[test]) == {0}


@pytest.mark.parametrize("method", ["pca", "isomap", "tsne"])
def test_embedding_is_2d(data, method):
    xy = data.embedding(method)
    assert xy.shape == (60, 2) and np.isfinite(xy).all() and xy.std(0).min() > 0
    np.testing.assert_array_equal(xy, data.embedding(method))      # cached, deterministic
    if method == "pca":                 # components in order of explained variance
        assert xy[:, 0].var() >= xy[:, 1].var()


def test_classifier_beats_chance_on_the_small_split(data):
    clf = data.classifier()
    # 30 training files (one take per speaker and digit): far from the full FSDD's >= 98 %
    # (benchmarks/RESULTS.md), but far above chance (1/5)
    assert clf["n_train"] == 30 and clf["n_test"] == 30
    assert clf["accuracy"] > 0.5
    assert clf["predicted"].shape == (60,)


def test_classifier_is_fitted_once_per_store_and_kept_beside_it(data, monkeypatch):
    first = data.classifier()                       # fitted, or read from the first test's
    assert list((data.store / ".explorer").glob("classifier-*.npz"))

    def refit(*a, **k):
        raise AssertionError("the stored classifier result was not used")
    monkeypatch.setattr(ExplorerData, "_fit_classifier", refit)
    again = data.classifier()
    assert again["accuracy"] == first["accuracy"]
    np.testing.assert_array_equal(again["predicted"], first["predicted"])
    with pytest.raises(AssertionError, match="not used"):      # another setting: fitted anew
        data.classifier(weight_decay=1e-2)


def test_page_click_opens_the_recording_in_the_dashboard_views(stores, data):
    pytest.importorskip("panel")
    from scatviz.explorer.app import Explorer

    page = Explorer(data)
    assert len(page.source.data["x"]) == 60
    np.testing.assert_allclose(page.embedding_xy(), data.embedding("pca"))
    assert "Classifier accuracy" in page.accuracy.object
    page.embedding = "isomap"
    np.testing.assert_allclose(page.embedding_xy(), data.embedding("isomap"))
    page.select(7)
    x, sr, name = data.recording(7)
    assert page.state.signal_name == name and sr == 8000
    np.testing.assert_array_equal(page.state.signal, x)
    db = page.scalogram_view.image_data()["db"]
    assert db.ndim == 2 and db.shape[1] > 1
    assert page.signal_view.audio.object is not None
    assert name in page.status.object
    page.__panel__()


def test_store_query_is_confined_to_the_stores_folder(stores, tmp_path):
    from scatviz.explorer.app import Explorer

    assert list_stores(stores) == ["fsdd.zarr"]
    assert resolve_store("fsdd.zarr", stores) == (stores / "fsdd.zarr").resolve()
    for bad in ["../fsdd.zarr", str(stores / "fsdd.zarr"), "/etc", "nothing.zarr", ""]:
        with pytest.raises(ValueError):
            resolve_store(bad, stores)
    assert isinstance(Explorer.from_query({"store": [b"fsdd.zarr"]}, stores), Explorer)
    assert isinstance(Explorer.from_query({}, stores), Explorer)      # the only store
    refused = Explorer.from_query({"store": [b"../../etc"]}, stores)
    assert not isinstance(refused, Explorer) and "outside" in refused[0].object


def test_tsne_fits_at_most_max_fit_files_and_places_the_others(data, monkeypatch):
    import sklearn.manifold
    from sklearn.preprocessing import StandardScaler

    from scatviz.explorer.data import bounded_tsne

    fitted = []
    real = sklearn.manifold.TSNE

    class Recording(real):
        def fit_transform(self, X, y=None):
            fitted.append(len(X))
            return super().fit_transform(X)

    monkeypatch.setattr(sklearn.manifold, "TSNE", Recording)
    Z = StandardScaler().fit_transform(data.features)
    Y = bounded_tsne(Z, seed=0, max_fit=25)
    assert fitted == [25]                      # the cost of 25 files, not 60
    assert Y.shape == (60, 2) and np.isfinite(Y).all()
    np.testing.assert_array_equal(Y, bounded_tsne(Z, seed=0, max_fit=25))  # deterministic
    # the files placed from their neighbours lie among the fitted ones, not at one spot
    fit = np.sort(np.random.default_rng(0).choice(60, 25, replace=False))
    rest = np.setdiff1d(np.arange(60), fit)
    lo, hi = Y[fit].min(0), Y[fit].max(0)
    assert ((Y[rest] >= lo) & (Y[rest] <= hi)).all()
    assert Y[rest].std(0).min() > 0.1 * Y[fit].std(0).min()


def test_slow_embeddings_are_kept_beside_the_store(data, monkeypatch):
    import sklearn.manifold

    first = data.embedding("tsne")
    assert list((data.store / ".explorer").glob("embedding-tsne-*.npy"))

    class Refuse:
        def __init__(self, *a, **k):
            raise AssertionError("t-SNE was fitted again")
    monkeypatch.setattr(sklearn.manifold, "TSNE", Refuse)
    fresh = ExplorerData._read(data.store)     # another server process: no memory cache
    np.testing.assert_array_equal(fresh.embedding("tsne"), first)
    with pytest.raises(AssertionError, match="fitted again"):    # another seed: fitted anew
        fresh.embedding("tsne", seed=1)
