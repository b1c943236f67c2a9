"""Use cases of the indexer: applying registry events (handlers.py), publishing indexes (publishing.py) and the
RPC facade (service.py)."""
