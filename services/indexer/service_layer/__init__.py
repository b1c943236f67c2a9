"""Use cases of the indexer: applying registry events (handlers.py), publishing repodata (publishing.py),
shards (shard_publishing.py) and PyPI pages (pypi_publishing.py), and the RPC facade (service.py)."""
