"""nameko entrypoint of the auth service (distributed mode)."""
