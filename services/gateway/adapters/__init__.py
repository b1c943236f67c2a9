"""Gateway adapters for the distributed mode: nameko RPC clients and the index_published listener (kombu)."""
