"""Storage service: package blobs and the upload staging area.

Owns: content-addressed blobs (``blobs/sha256/..``, keyed by ``signing.blob_key_for``), staged uploads
(``staging/<dist_id>``), core-metadata blobs of wheels (PEP 658), and package inspection (conda ``info/``
through conda-package-streaming; wheel ``METADATA``; sdist ``PKG-INFO``). It keeps no database: the registry
records which blob a file uses.

RPC methods (``StorageService`` in ``service_layer/service.py``; nameko service ``storage``):
``upload_form``, ``check_upload``, ``staging_url``, ``finalize``, ``drop_stage``, ``blob_url``; in-process only:
``put_staging``, ``open_blob``.

Events: emits none, consumes none.
"""
