"""The dataset explorer: a feature store (`scatviz.features`) as a 2D map of its files.

`scatviz.explorer.data` computes (embedding, classifier, recordings; no web stack);
`scatviz.explorer.app` draws (`Explorer`, served by ``apps/explorer.py``).
"""

from scatviz.explorer.data import EMBEDDINGS, ExplorerData, list_stores, resolve_store

__all__ = ["EMBEDDINGS", "ExplorerData", "list_stores", "resolve_store"]
