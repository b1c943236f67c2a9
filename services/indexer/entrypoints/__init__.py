"""nameko entrypoints of the indexer (distributed mode)."""
