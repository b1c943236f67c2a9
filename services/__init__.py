"""Wharf services: gateway, auth, registry, storage, indexer, and the shared kernel."""
