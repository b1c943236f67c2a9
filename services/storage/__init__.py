"""Storage service: package blobs and the upload staging area.

Owns: content-addressed blobs (``blobs/sha256/..``, keyed by ``signing.blob_key_for``), staged uploads
(``staging/<dist_id>``), core-metadata blobs of wheels (PEP 658), and package inspection (conda ``info/``
through conda-package-streaming; wheel ``METADATA``; sdist ``PKG-INFO``). It keeps no database: the registry
records which blob a file uses.

RPC methods (``StorageService`` in ``service_layer/service.py``; nameko service ``storage``):
``upload_form``, ``check_upload``, ``staging_url``, ``finalize``, ``drop_stage``, ``blob_url``; in-process only:
``put_staging``, ``open_blob``, and for ``wharf verify`` / ``wharf gc`` ``list_blobs``, ``blob_digest``,
``blob_entries``, ``used_markers``, ``collect``, ``drop_staged``, ``sweep_stale_claims``. Blobs are written
through ``kernel/blob_gc.write_once``, so a collection in progress never takes a blob an upload re-uses.

Events: emits none, consumes none.
"""
