"""Wharf services: gateway, auth, registry, storage, indexer, and the shared kernel."""


def quiet_eventlet(warnings) -> None:
    """Ignore eventlet's import-time deprecation banner (eventlet >= 0.40; nameko 2 depends on eventlet): it is
    not actionable and its multi-line stderr text would break JSON log streams. Every other warning stays."""
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")


import warnings as _warnings  # noqa: E402

quiet_eventlet(_warnings)
