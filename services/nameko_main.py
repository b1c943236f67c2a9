"""How `wharf run SERVICE` starts a nameko service: ``python -m services.nameko_main service NAME``.

- The nameko configuration (AMQP URI, workers, serializer, logging) is built here from the ``WHARF_*``
  environment, the same one ``Settings.from_env`` reads: no YAML file, so the AMQP URI and its password are
  never written to the temporary directory (`wharf run` once left a ``wharf-<service>-*.yaml`` per start).
- A service that cannot start with its configuration (``ConfigurationError``: a metrics port in use, a
  setting that cannot be used, a database URL no driver reads) logs one line saying so and exits with
  ``CONFIG_ERROR`` (78, ``EX_CONFIG`` of sysexits.h), which `wharf run` does not retry for ever.
- ``python -m services.nameko_main run ...`` is nameko's own command line (what ``nameko`` runs).

Both quiet eventlet's deprecation banner first: eventlet >= 0.40 warns on import that it is deprecated; nameko 2
needs it, an operator can do nothing about it, and the multi-line text on stderr would break the JSON log
stream (``WHARF_LOG_FORMAT=json``) of every service.
"""
import sys
import warnings

from services import quiet_eventlet

quiet_eventlet(warnings)

CONFIG_ERROR = 78
NAMEKO_CLASSES = {
    "auth": "services.auth.entrypoints.service:AuthRpc",
    "registry": "services.registry.entrypoints.service:RegistryRpc",
    "storage": "services.storage.entrypoints.service:StorageRpc",
    "indexer": "services.indexer.entrypoints.service:IndexerRpc",
}


CONSUMER_POLL = 0.2   # seconds a service's queue consumer waits for the broker before it looks whether to stop


def prompt_consumer_stop() -> None:
    """nameko's ``QueueConsumer`` (every RPC, event and reply-queue consumer of a service) waits for broker frames
    in rounds of kombu's default ``safety_interval``, 1 s, and cancels a consumer or notices that it should stop
    only between rounds: a container's stop waited out two or three of them (2-3 s per SIGTERM, measured with
    nameko's debug log). Rounds of ``CONSUMER_POLL`` keep the stop just as graceful (consumers cancelled, the
    messages of running workers acknowledged or requeued, the connection closed) and make it prompt; an idle
    round costs a heartbeat check, which sends a heartbeat only when one is due. Called after eventlet's
    monkey-patching (it imports kombu)."""
    from functools import partialmethod

    from kombu.mixins import ConsumerMixin
    from nameko.messaging import QueueConsumer
    QueueConsumer.run = partialmethod(ConsumerMixin.run, safety_interval=CONSUMER_POLL)


def is_configuration_error(exc: BaseException) -> bool:
    from services.kernel.settings import ConfigurationError
    if isinstance(exc, ConfigurationError):
        return True
    try:
        from sqlalchemy.exc import ArgumentError     # a database URL that no dialect or driver reads
    except ImportError:    # pragma: no cover
        return False
    return isinstance(exc, ArgumentError)


def _preflight(service: str, settings) -> None:
    """What can be found wrong before the service starts: its database URL is one a driver reads, its metrics
    port is free (taken now, and served once the container runs). A failure is one line, not the tracebacks of
    the green threads nameko starts its extensions in."""
    url = {"auth": settings.auth_db_url, "registry": settings.registry_db_url,
           "indexer": settings.indexer_db_url}.get(service)
    if url:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError
        from services.kernel.settings import ConfigurationError
        try:
            make_url(url).get_dialect()
        except ArgumentError as exc:
            raise ConfigurationError(f"WHARF_{service.upper()}_DB_URL: {exc}") from None
    from services.nameko_telemetry import bind_metrics_port
    bind_metrics_port(settings)


def _run(service_class, config) -> None:
    """nameko's ``run`` (nameko/cli/run.py) with one stop however many signals arrive. A terminal's Ctrl-C, or a
    SIGTERM to the process group (`kill -- -PGID`, the test harness), reaches this process and `wharf run`, which
    passes it on: nameko started a second concurrent stop of the same container, which never finished (the
    indexer hung in its hub until killed)."""
    import errno
    import signal

    import eventlet
    from nameko.runners import ServiceRunner

    prompt_consumer_stop()
    runner = ServiceRunner(config)
    runner.add_service(service_class)
    stopping: list = []

    def shutdown(signum, _frame):
        if not stopping:        # signal handlers run in the main loop: stop in a green thread, once
            stopping.append(signum)
            eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    runner.start()
    waiting = eventlet.spawn(runner.wait)
    while True:
        try:
            waiting.wait()
            return
        except OSError as exc:    # a signal while eventlet waits on a socket
            if exc.errno != errno.EINTR:
                raise


def serve(service: str) -> int:
    import eventlet
    eventlet.monkey_patch()    # what `nameko run` does before anything else runs

    import importlib
    import logging
    import logging.config
    import os

    from services.kernel.logs import dict_config
    from services.kernel.settings import ConfigurationError, Settings
    try:
        logging.config.dictConfig(dict_config(service))
    except ConfigurationError as exc:       # WHARF_LOG_*: no log format to say it in but plain text
        print(f"{service} cannot start: {exc}", file=sys.stderr, flush=True)
        os._exit(CONFIG_ERROR)
    log = logging.getLogger("wharf.run")
    try:
        settings = Settings.from_env(mode="distributed")
        _preflight(service, settings)
        module, cls = NAMEKO_CLASSES[service].split(":")
        service_class = getattr(importlib.import_module(module), cls)
        config = {"AMQP_URI": settings.amqp_uri, "max_workers": settings.max_workers, "serializer": "json"}
        _run(service_class, config)
    except Exception as exc:  # noqa: BLE001 - only configuration errors are told apart here
        if not is_configuration_error(exc):
            raise
        log.error("%s cannot start: %s", service, exc)
        logging.shutdown()
        os._exit(CONFIG_ERROR)     # nameko may have threads and connections half started: leave at once
    return 0


def _nameko_cli() -> None:
    try:
        import pkg_resources  # noqa: F401 - nameko 2's command line imports it for its --version
    except ImportError:        # setuptools no longer ships it: the one function nameko uses, from the stdlib
        import importlib.metadata
        import types
        shim = types.ModuleType("pkg_resources")
        shim.get_distribution = lambda name: types.SimpleNamespace(project_name=name,
                                                                   version=importlib.metadata.version(name))
        sys.modules["pkg_resources"] = shim
    import nameko.cli.main
    nameko.cli.main.main()


if __name__ == "__main__":
    if sys.argv[1:2] == ["service"] and len(sys.argv) == 3:
        sys.exit(serve(sys.argv[2]))
    _nameko_cli()
