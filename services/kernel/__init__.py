"""The shared kernel: what every Wharf service agrees on, and nothing service-specific.

- ``errors``: domain errors with their HTTP status (one table, used by the gateway and by RPC translation).
- ``names``: validation of owners, packages, versions, labels, basenames and subdirs.
- ``events``: the versioned event envelope, one marshmallow schema per event type, upcasters.
- ``schemas``: marshmallow wire schemas for RPC payloads shared between services.
- ``ports``: the narrow interfaces (BlobStore, EventPublisher, Clock) whose docstrings are the contract.
- ``clock``: the ``Clock`` implementations (``SystemClock``, and ``FakeClock`` for tests).
- ``bus``: the in-memory event bus of the embedded mode (delivers on a worker thread).
- ``subscriptions``: which service consumes which event types (drives the bus and the nameko handlers).
- ``settings``: configuration from ``WHARF_*`` environment variables (the only module that reads them).
- ``signing``: HMAC helpers (upload policies, token digests) and content addresses.
- ``blob_gc``: how blob writers and ``wharf gc`` stay out of each other's way (freshening, claims).
- ``adapters/``: backends shared by several services (local-disk and S3 blob stores and their one factory
  ``blob_store.make_blob_store``, AMQP publisher, DB engine).

The kernel imports no service package.
"""
