"""nameko entrypoints of the storage service."""
