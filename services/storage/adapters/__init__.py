"""Storage has no adapters of its own: its only backend is a BlobStore, and both implementations (local disk,
S3 through minio) live in ``services.kernel.adapters`` because the indexer and the gateway use them too."""
