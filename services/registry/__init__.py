"""Registry service: packages, releases, files, labels, collaborators and staged uploads of every owner namespace.

The EVENT LOG is the source of truth: every command appends versioned events (``services.kernel.events``) to
the ``events`` table and applies them to the read tables (packages, releases, files, file_labels, label_locks,
collaborators) in the same transaction, through the projector that ``rebuild_projections`` replays. The log
doubles as the transactional outbox: ``relay_pending`` publishes committed events in log order through an
``EventPublisher`` and marks them published only after the publisher confirmed.

Streams are owner namespaces. A command locks the stream(s) it appends to; copy and transfer across owners lock
both, in sorted order. A transfer appends ``package_transferred`` to the SOURCE owner's stream and
``package_received`` (every file restated) to the target's, so each stream is self-contained. Changes to a
locked label are refused (Conflict) on every path (``domain/locks.py``).

RPC methods (``RegistryService`` / nameko service ``registry``):
  get_package, list_packages, create_package, update_package, remove_package, transfer_package,
  get_release, create_release, update_release, remove_release,
  get_file, stage, get_staged, commit (idempotent per dist_id), committed_file, remove_file, copy_files,
  list_labels, get_label, label_files, unlabel_files, copy_label, remove_label, lock_label,
  add_collaborator, remove_collaborator, list_collaborators, is_collaborator, collaborator_packages,
  search, recent, read_stream, stream_heads, read_log, relay_pending, rebuild_projections.
In-process only (``wharf verify``, ``wharf gc``): verify_inventory, gc_inventory, blob_references,
expire_stages. Staged uploads expire after ``WHARF_STAGE_TTL`` and are limited per user
(``domain/staging.py``); ``released_blobs`` records which blobs records and stages stopped naming, and when.

Events out (exchange ``registry.events``): package_created, package_updated, package_removed, release_created,
release_updated, release_removed, file_uploaded (``copied_from`` set by copies), file_removed, files_labeled,
files_unlabeled, label_copied, label_removed, label_lock_changed, package_transferred, package_received,
collaborator_added, collaborator_removed.
Events in: none.
"""
