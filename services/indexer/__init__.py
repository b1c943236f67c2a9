"""indexer: turns registry events into conda channel indexes, asynchronously, at a cost proportional to the change.

Owns (its own database): one row per conda file it knows (owner, package, version, basename, filename, subdir,
public, the canonical JSON of its repodata record), the labels of each file, the last applied sequence of every
registry stream, the set of dirty (owner, label, subdir) channels and the published index pointers
(owner, label, subdir, audience, file name -> content-addressed blob key, sha256, size).

RPC methods (``IndexerService`` in service_layer/service.py, nameko service ``indexer``):
``get_index(owner, label, subdir, audience)``, ``lookup_file(owner, label, subdir, filename, audience)`` (the
gateway's package downloads), ``list_subdirs(owner, label)``; in-process only: ``handle``,
``publish_pending``, ``publish_all``, ``reset``.

Events in: every registry event (one durable queue ``evt-registry--indexer.handle`` on ``registry.events``),
applied per stream strictly in sequence order; gaps are filled from the registry's ``read_stream``.
Events out: ``index_published`` (one per owner, label, subdir and audience; ``files`` keys are
``"<audience>/repodata.json"`` and ``"<audience>/repodata.json.zst"``).
"""
