"""nameko entrypoint of the registry (distributed mode)."""
