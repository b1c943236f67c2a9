"""Gateway: the only HTTP entry point (Flask).

Owns nothing durable: an in-memory cache of published index metadata and bytes, dropped on
``index_published``. Routes:

- ``/api/...``: the anaconda.org REST API as anaconda-client 1.16 uses it (views/api_*.py), plus the upload
  receiver ``POST /api/_upload`` (S3-style form POST, authorised by a signed policy).
- ``/conda/[t/<token>/]<owner>[/label/<label>]/<subdir>/<file>``: conda channels (views/conda.py).
- ``/healthz``.
- ``/``, ``/login``, ``/search``, ``/settings/tokens``, ``/<owner>[/-/labels|/-/members]``,
  ``/<owner>/<package>[/files|/history|/settings]``: the browser UI (web/, server-rendered templates).

Views authenticate, validate with marshmallow (schemas.py), call the services through ``clients`` (in-process
facades in embedded mode, nameko RPC in distributed mode: same method names), and dump the result. Domain
errors map to HTTP statuses in one place (errors.py).
"""
