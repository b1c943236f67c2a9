"""indexer: turns registry events into conda channel indexes (repodata.json, .zst and CEP-16 shards) and PyPI
simple pages, asynchronously, at a cost proportional to the change.

Owns (its own database): one row per conda file it knows (owner, package, version, basename, filename, subdir,
public, package name, run_exports, the canonical JSON of its repodata record) and per PyPI distribution (project,
hashes, requires_python, core metadata, upload time), the labels of each file, the last applied sequence of
every registry stream, the dirty channels / package names / PyPI projects, the current shard of every
(owner, label, subdir, audience, name), the published pointers (content-addressed blob key, sha256, size) and
the publication log (which replica published which generation of a channel, when), and the dead letters (per
stream, the event it is stopped at because this code cannot apply it: service_layer/dead_letters.py).

RPC methods (``IndexerService`` in service_layer/service.py, nameko service ``indexer``):
``get_index(owner, label, subdir, audience)``, ``get_shard(owner, label, subdir, audience, sha256)``,
``lookup_file(owner, label, subdir, filename, audience)`` (the gateway's package downloads),
``list_subdirs(owner, label)``, ``get_pypi_page(owner, label, project_or_None, audience)``,
``lookup_pypi_file(owner, label, filename, audience)``; in-process only: ``handle``, ``publish_pending``,
``publish_all``, ``publication_log``, ``reset``, ``verify_inventory``, ``blob_references`` (``wharf gc``),
``dead_letters``, ``retry_parked`` (``wharf events list-stuck|retry``).

Replicas: any number of processes share the queue (competing consumers); the stream row lock keeps each
stream in order, a PostgreSQL advisory lock per index (``UnitOfWork.exclusive``) lets one replica at a time
publish it (ARCHITECTURE.md "Scaling the indexer").

Events in: every registry event (one durable queue ``evt-registry--indexer.handle`` on ``registry.events``),
applied per stream strictly in sequence order; gaps are filled from the registry's ``read_stream``.
Events out: ``index_published``, one per audience and
- conda channel subdir: ``subdir`` = the subdir; ``files`` keys ``"<audience>/repodata.json"``,
  ``"<audience>/repodata.json.zst"``, ``"<audience>/repodata_shards.msgpack.zst"`` (shards themselves are
  looked up with ``get_shard``);
- PyPI page: ``subdir`` = ``"pypi/<project>"`` (or ``"pypi"`` for a label's project list); ``files`` keys
  ``"<audience>/simple.json"`` and ``"<audience>/simple.html"``, empty when the audience no longer has the page.
"""
