"""Wharf services: gateway, auth, registry, storage, indexer, and the shared kernel.

Importing this package sets up how Python warnings reach the operator, in every process (CLI, gateway, each
nameko service), before any library is imported:

- warnings become log records (``logging.captureWarnings``), so they are written by the process's log handler in
  its format: one JSON object per line under ``WHARF_LOG_FORMAT=json``. Before a process has configured logging
  (a library warning at import time) they go through ``logging.lastResort``, which is replaced by a handler
  with the same format, so even those are never a bare text line in a JSON stream;
- warnings nobody can act on are silenced deliberately, each with its reason (``quiet_known``).
"""


def quiet_eventlet(warnings) -> None:
    """Ignore eventlet's import-time deprecation banner (eventlet >= 0.40; nameko 2 depends on eventlet): it is
    not actionable and its multi-line stderr text would break JSON log streams. Every other warning stays."""
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")


def quiet_known(warnings) -> None:
    """The warnings of dependencies that an operator cannot act on, each named, never a blanket filter:

    - eventlet's deprecation banner (``quiet_eventlet``);
    - dnspython's ``dns.dnssecalgs.dsa`` declares DSA key types, and cryptography >= 47 warns
      (``CryptographyDeprecationWarning: DSA is deprecated``) at that import, 4 lines per import. eventlet
      imports dnspython in every process; Wharf never verifies DNSSEC;
    - setuptools' ``pkg_resources is deprecated`` (setuptools 80), which nameko 2 imports at start; the lock keeps
      setuptools below 81, where pkg_resources still exists.
    """
    quiet_eventlet(warnings)
    warnings.filterwarnings("ignore", message=r"DSA is deprecated", module=r"dns\.")
    warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated", category=UserWarning)


def route_warnings_to_logging() -> None:
    import logging

    from services.kernel import logs

    logging.captureWarnings(True)
    logging.lastResort = logs.last_resort_handler()
    # captured warnings go to the "py.warnings" logger, which (without a handler of its own) logging gives a
    # NullHandler on the first warning: a warning issued before logging is configured would vanish
    logging.getLogger("py.warnings").addHandler(logs.UntilConfigured())


import warnings as _warnings  # noqa: E402

quiet_known(_warnings)
route_warnings_to_logging()
