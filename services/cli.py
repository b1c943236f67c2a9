"""The ``wharf`` command.

    wharf serve [--host H] [--port P] [--data DIR]     embedded mode: everything in one process
    wharf run SERVICE                                  one service of the distributed mode
    wharf user create LOGIN --password PW [--email E]
    wharf user list|passwd|disable|enable|delete ...     account administration (cli_accounts.py)
    wharf org create ORG --owner LOGIN
    wharf org list|add-owner ...
    wharf replay                                       rebuild projections and every index from the log
    wharf health SERVICE                               exit 0 when SERVICE and its dependencies answer
    wharf migrate [all|auth|registry|indexer] [--check]  upgrade databases to the newest schema revision
    wharf verify [--json] [--quick] [--wait S] [--grace S]  check records, blobs and indexes; exit 1 on a problem
    wharf gc [--dry-run] [--json] [--grace S] [--orphans]   reclaim unreferenced blobs and expired staged uploads
    wharf events list-stuck [--json] | retry [STREAM]       streams stopped at a parked event (cli_events.py)
"""
from __future__ import annotations

import argparse
import errno
import logging
import os
import sys

SERVICES = ("gateway", "auth", "registry", "storage", "indexer")


def _settings(args, **overrides):
    from services.kernel.settings import Settings
    if getattr(args, "data", None):
        overrides["data_dir"] = args.data
    return Settings.from_env(**overrides)


def cmd_serve(args) -> int:
    from services.http_front import Front, Limits

    # --host/--port win over WHARF_HOST/WHARF_PORT; the public URL is where it listens unless WHARF_PUBLIC_URL
    settings = _settings(args, mode="embedded", host=args.host, port=args.port)
    host, port = settings.host, settings.port
    app = _LateApp()
    try:      # the port first: when it is taken, say so before spending seconds on databases
        front = Front(app, Limits.from_settings(settings, threads=16), host=host, port=port)
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}. "
              + ("Another program (another `wharf serve`?) is using that port: stop it, or choose another port "
                 "with `wharf serve --port PORT` (or `make serve PORT=PORT`)."
                 if exc.errno == errno.EADDRINUSE else ""), file=sys.stderr)
        return 2
    from services.embedded import Embedded
    from services.gateway.app import create_app
    from services.gateway.index_cache import IndexCache
    from services.kernel import metrics
    system = metrics_server = None
    try:
        system = Embedded(settings)
        cache = IndexCache()
        system.subscribe_gateway(cache)
        app.app = create_app(system.clients, settings, cache)
        from services.cli_accounts import legacy_data_hint
        if hint := legacy_data_hint(settings):
            print(hint, flush=True)
        print(f"Wharf (embedded) serving on {settings.public_url}  data: {os.path.abspath(settings.data_dir)}",
              flush=True)
        if settings.metrics_port:        # never on the public port: per-route counts tell about private activity
            metrics_server = metrics.serve_in_thread("wharf", settings.metrics_port, settings.metrics_addr)
            print(f"  metrics: http://{settings.metrics_addr}:{settings.metrics_port}/metrics", flush=True)
        print(f"  anaconda config --set url {settings.public_url}/api", flush=True)
        print(f"  conda channel: {settings.public_url}/conda/<owner>", flush=True)
        front.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        front.close()
        if metrics_server is not None:
            metrics_server.shutdown()
            metrics_server.server_close()
        if system is not None:
            system.stop()
    return 0


class _LateApp:
    """The WSGI app of ``wharf serve``, set once the embedded system is up (the port is bound before)."""
    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


def cmd_run(args) -> int:
    settings = _settings(args, mode="distributed")
    if args.service == "gateway":
        return _run_gateway(settings)
    # the child builds its nameko configuration from the environment itself (services/nameko_main.py): no
    # configuration file, so nothing holding the AMQP URI and its password is left in the temporary directory
    return _supervise([sys.executable, "-m", "services.nameko_main", "service", args.service], args.service)


def _die_with_parent() -> None:
    """Linux: the nameko child gets SIGKILL when `wharf run` dies, even by kill -9 (no orphaned service)."""
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


CONFIG_TRIES = 3     # a service failing this many times in a row on its configuration is not started again


def _supervise(cmd: list[str], name: str) -> int:
    """Run the nameko container in a child process and start it again when it dies with an error. nameko 2
    stops a whole container when a worker cannot publish its RPC reply (the broker went away mid-call), and a
    service that exits on a broker restart would otherwise stay down until something outside restarts it.
    SIGTERM/SIGINT are passed on and end the loop; the child's clean exit ends it too.

    A child that exits with ``CONFIG_ERROR`` could not start with this configuration (services/nameko_main.py
    says why in its last line: a metrics port in use, an unusable setting). That may pass (a previous process
    still holding the port), so it is tried ``CONFIG_TRIES`` times; then `wharf run` gives up and exits with
    the same code, instead of restarting for ever."""
    import signal
    import subprocess
    import time

    from services.nameko_main import CONFIG_ERROR
    log = logging.getLogger("wharf.run")
    stopping = {"flag": False}
    child: dict = {"p": None}

    def forward(signum, _frame):
        stopping["flag"] = True
        if child["p"] is not None and child["p"].poll() is None:
            child["p"].send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    delay = 1.0
    config_failures = 0
    while True:
        started = time.monotonic()
        child["p"] = subprocess.Popen(cmd, preexec_fn=_die_with_parent)
        rc = child["p"].wait()
        if stopping["flag"] or rc == 0:
            return 0 if stopping["flag"] else rc
        config_failures = config_failures + 1 if rc == CONFIG_ERROR else 0
        if config_failures >= CONFIG_TRIES:
            log.error("%s could not start with this configuration %d times in a row (the reason is logged just "
                      "above); not starting it again: fix the configuration and run `wharf run %s` again",
                      name, config_failures, name)
            return CONFIG_ERROR
        delay = 1.0 if time.monotonic() - started > 60 else min(delay * 2, 30.0)
        log.warning("%s exited with %s; starting it again in %.0f s", name, rc, delay)
        until = time.monotonic() + delay
        while not stopping["flag"] and time.monotonic() < until:   # a SIGTERM meanwhile ends the loop
            time.sleep(0.1)
        if stopping["flag"]:
            return 0


def _run_gateway(settings) -> int:
    workers, threads = settings.gateway_workers, settings.gateway_threads
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # /metrics must add up every worker: prometheus-client's multiprocess mode (set before it is imported)
        import tempfile
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="wharf-gateway-metrics-")
    from gunicorn.app.base import BaseApplication

    from services.http_front import Limits, gunicorn_worker
    from services.kernel import metrics
    from services.kernel.logs import dict_config

    if settings.metrics_port:
        # in the master, on its own port (never the public one: per-route counts tell about private activity);
        # it adds up every worker's metrics (multiprocess mode). Taken before gunicorn starts: a port in use is
        # a configuration error, reported like the nameko services' (exit 78)
        metrics.serve_in_thread("gateway", settings.metrics_port, settings.metrics_addr)

    class GatewayApp(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", settings.gateway_bind)
            self.cfg.set("workers", workers)
            # each worker serves with waitress (services/http_front.py): requests are read without a thread, so
            # idle and slow clients cannot take the threads from the others (gthread gave each a thread)
            self.cfg.set("worker_class", gunicorn_worker(Limits.from_settings(settings, threads=threads)))
            self.cfg.set("timeout", 300)
            # gunicorn >= 25 opens a control socket in ~/.gunicorn/gunicorn.ctl, the same path for every gunicorn
            # of a user: a second gateway on the host took it over from the first. Wharf does not use it.
            self.cfg.set("control_socket_disable", True)
            # the app's own access line (wharf.gateway.access: correlation id, tokens in /t/<token>/ paths
            # redacted) replaces gunicorn's, which would log request lines with tokens in them
            self.cfg.set("accesslog", None)
            # gunicorn's own lines through Wharf's handler (its format, and the redaction of tokens)
            cfg = dict_config("gateway", settings.log_level, settings.log_format)
            cfg.setdefault("loggers", {}).update({name: {"level": "INFO", "handlers": [], "propagate": True}
                                                  for name in ("gunicorn.error", "gunicorn.access")})
            self.cfg.set("logconfig_dict", cfg)
            self.cfg.set("child_exit", _gateway_child_exit)

        def load(self):
            return make_distributed_gateway(settings)

    GatewayApp().run()
    return 0


def _gateway_child_exit(server, worker):
    from services.kernel.metrics import mark_process_dead
    mark_process_dead(worker.pid)


def make_distributed_gateway(settings):
    from services.gateway.adapters.index_listener import IndexListener
    from services.gateway.adapters.rpc import remote_clients
    from services.gateway.app import create_app
    from services.gateway.index_cache import IndexCache
    cache = IndexCache()
    IndexListener(settings.amqp_uri, cache).start()
    return create_app(remote_clients(settings.amqp_uri, settings.rpc_timeout), settings, cache)


def cmd_user(args) -> int:
    from services.cli_accounts import admin_auth
    auth = admin_auth(args)
    user = auth.create_user(args.login, args.password, email=args.email)
    print(f"created user {user['login']}")
    return 0


def cmd_org(args) -> int:
    from services.cli_accounts import admin_auth
    auth = admin_auth(args)
    org = auth.create_org(args.org, args.owner)
    print(f"created organization {org['login']} owned by {args.owner}")
    return 0


def cmd_replay(args) -> int:
    from services.replay import ReplayFailed, replay
    try:
        counts = replay(_settings(args))
    except ReplayFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"replayed {counts['events']} events; published {counts['indexes']} indexes")
    return 0


def cmd_verify(args) -> int:
    import json

    from services.verify import render, verify
    report = verify(_settings(args), hash_bytes=not args.quick, wait=args.wait, grace=args.grace)
    print(json.dumps(report, indent=2, sort_keys=True) if args.json else render(report), flush=True)
    return 0 if report["ok"] else 1


def cmd_gc(args) -> int:
    import json

    from services.gc import gc, render
    report = gc(_settings(args), grace=args.grace, dry_run=args.dry_run, orphans=args.orphans)
    print(json.dumps(report, indent=2, sort_keys=True) if args.json else render(report), flush=True)
    return 0


# what each service needs to do its work (readiness): its database, the broker, the object store
HEALTH_DEPENDENCIES = {
    "gateway": ("broker",),
    "auth": ("database", "broker"),
    "registry": ("database", "broker"),
    "storage": ("broker", "s3"),
    "indexer": ("database", "broker", "s3"),
}


def _check_database(settings, service) -> str:
    from sqlalchemy import text

    from services.kernel.adapters.db import make_engine
    url = {"auth": settings.auth_db_url, "registry": settings.registry_db_url,
           "indexer": settings.indexer_db_url}[service]
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    return engine.url.render_as_string(hide_password=True)


def _check_broker(settings, _service) -> str:
    from kombu import Connection
    with Connection(settings.amqp_uri, connect_timeout=5) as conn:
        conn.ensure_connection(max_retries=1, timeout=5)
        return conn.as_uri()  # password masked


def _check_s3(settings, _service) -> str:
    if settings.blob_backend != "s3":
        return f"{settings.blob_backend} blobs (nothing to reach)"
    from minio import Minio
    client = Minio(settings.s3_endpoint, access_key=settings.s3_access_key, secret_key=settings.s3_secret_key,
                   secure=settings.s3_secure, region=settings.s3_region)
    if not client.bucket_exists(settings.s3_bucket):
        raise RuntimeError(f"bucket {settings.s3_bucket!r} does not exist")
    return f"{settings.s3_endpoint}/{settings.s3_bucket}"


def _gateway_address(settings) -> str:
    """host:port the gateway listens on: `wharf run gateway`'s WHARF_GATEWAY_BIND, or in embedded mode the
    WHARF_HOST and WHARF_PORT that `wharf serve` reads."""
    bind = settings.gateway_bind if settings.mode == "distributed" else f"{settings.host}:{settings.port}"
    return bind.replace("0.0.0.0", "127.0.0.1")


def _check_process(settings, service) -> str:
    if service == "gateway":
        from services.gateway.adapters import http_probe
        url = f"http://{_gateway_address(settings)}/healthz"
        http_probe.check(url, timeout=5)
        return url
    from nameko.standalone.rpc import ClusterRpcProxy
    with ClusterRpcProxy({"AMQP_URI": settings.amqp_uri}, timeout=10) as rpc:
        getattr(rpc, service).ping()
    return "answers RPC ping"


def cmd_health(args) -> int:
    """Readiness (default): the service's own dependencies answer, then the service itself. ``--live``
    (liveness): only the service itself, so an outage of PostgreSQL or S3 makes pods unready, not restarted."""
    settings = _settings(args)
    # embedded mode (`wharf serve`) has no broker, no S3 and no service processes: only the gateway answers
    embedded = settings.mode != "distributed"
    if embedded and args.service != "gateway":
        print(f"error: {args.service} runs inside `wharf serve` in embedded mode (WHARF_MODE={settings.mode}): "
              "check `wharf health gateway`", file=sys.stderr)
        return 2
    checks = [] if args.live or embedded else [d for d in HEALTH_DEPENDENCIES[args.service]]
    checks.append("process")
    fns = {"database": _check_database, "broker": _check_broker, "s3": _check_s3, "process": _check_process}
    failed = 0
    for name in checks:
        try:
            what = fns[name](settings, args.service)
            print(f"{args.service} {name}: ok ({what})")
        except Exception as exc:  # noqa: BLE001 - every failure is a failed probe, reported in one line
            failed += 1
            print(f"{args.service} {name}: FAILED {exc.__class__.__name__}: {exc}", file=sys.stderr)
            if name == "broker":
                break   # the RPC ping would only time out
    return 1 if failed else 0


MIGRATABLE = ("auth", "registry", "indexer")      # storage has no database


def _schema_target(service: str):
    """(Schema, function that migrates an engine) of one service's database."""
    from services.kernel.adapters.migrations import upgrade
    if service == "auth":
        from services.auth.adapters.schema import SCHEMA
        return SCHEMA, lambda engine: upgrade(engine, SCHEMA)
    if service == "registry":
        from services.registry.adapters.schema import SCHEMA
        return SCHEMA, lambda engine: upgrade(engine, SCHEMA)
    from services.indexer.adapters.schema import SCHEMA
    from services.indexer.adapters.uow import SqlUnitOfWork
    return SCHEMA, lambda engine: SqlUnitOfWork(engine).create_tables()


def _status_waiting(engine, schema, wait: float):
    """Current and head revision; with ``wait`` > 0, poll until the database reaches head (or is unreachable
    no longer) for at most ``wait`` seconds: the init container of a Deployment waiting for the migrations Job."""
    import time

    from services.kernel.adapters.migrations import status
    deadline = time.monotonic() + wait
    while True:
        try:
            cur, head = status(engine, schema)
        except Exception:  # noqa: BLE001 - the database is not up yet
            if time.monotonic() >= deadline:
                raise
            cur, head = None, ""
        if cur == head or time.monotonic() >= deadline:
            return cur, head
        time.sleep(2)


def cmd_migrate(args) -> int:
    from services.kernel.adapters.db import make_engine
    from services.kernel.adapters.migrations import status
    settings = _settings(args)
    if args.wait and not args.check:
        raise SystemExit("--wait goes with --check")
    urls = {"auth": settings.auth_db_url, "registry": settings.registry_db_url, "indexer": settings.indexer_db_url}
    behind = 0
    for service in (MIGRATABLE if args.service == "all" else (args.service,)):
        schema, migrate = _schema_target(service)
        engine = make_engine(urls[service])
        try:
            before, head = _status_waiting(engine, schema, args.wait if args.check else 0)
            if args.check:
                state = "up to date" if before == head else "needs migration"
                behind += before != head
                print(f"{service}: at {before or 'none'}, head {head}: {state}", flush=True)
                continue
            migrate(engine)
            after, _ = status(engine, schema)
            print(f"{service}: {before or 'none'} -> {after}" if before != after else f"{service}: at {after}")
        finally:
            engine.dispose()
    return 1 if behind else 0


def main(argv: list[str] | None = None) -> int:
    from services.kernel.logs import configure
    from services.kernel.settings import ConfigurationError
    from services.nameko_main import CONFIG_ERROR
    argv_ = sys.argv[1:] if argv is None else argv
    service = argv_[1] if len(argv_) > 1 and argv_[0] == "run" else \
        "embedded" if argv_[:1] == ["serve"] else "wharf"
    try:
        configure(service)     # WHARF_LOG_FORMAT=json: one JSON object per line
    except ConfigurationError as exc:      # WHARF_LOG_FORMAT / WHARF_LOG_LEVEL
        print(f"error: {exc}", file=sys.stderr)
        return CONFIG_ERROR
    p = argparse.ArgumentParser(prog="wharf", description="Wharf package hosting")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run everything in one process (embedded mode)")
    s.add_argument("--host", default=None, help="address to listen on (default: WHARF_HOST, else 127.0.0.1)")
    s.add_argument("--port", type=int, default=None, help="port to listen on (default: WHARF_PORT, else 8080)")
    s.add_argument("--data", default=None, help="data directory (default: WHARF_DATA_DIR, else "
                                                  "$XDG_DATA_HOME/wharf or ~/.local/share/wharf)")
    s.set_defaults(fn=cmd_serve)
    r = sub.add_parser("run", help="run one service (distributed mode)")
    r.add_argument("service", choices=SERVICES)
    r.set_defaults(fn=cmd_run)
    u = sub.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    uc = u.add_parser("create")
    uc.add_argument("login")
    uc.add_argument("--password", required=True)
    uc.add_argument("--email")
    uc.add_argument("--data")
    uc.set_defaults(fn=cmd_user)
    o = sub.add_parser("org", help="manage organizations").add_subparsers(dest="action", required=True)
    oc = o.add_parser("create")
    oc.add_argument("org")
    oc.add_argument("--owner", required=True)
    oc.add_argument("--data")
    oc.set_defaults(fn=cmd_org)
    from services.cli_accounts import add_account_commands
    add_account_commands(u, o)
    rp = sub.add_parser("replay", help="rebuild every projection and channel index from the event log")
    rp.add_argument("--data")
    rp.set_defaults(fn=cmd_replay)
    v = sub.add_parser("verify", help="check that every record has its bytes, every index matches a replay of "
                                      "the log and no blob is orphaned (read-only; exit 1 on a problem)")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.add_argument("--quick", action="store_true", help="check blob sizes only, do not read and hash them")
    v.add_argument("--wait", type=float, default=30.0,
                   help="seconds to wait for in-flight events and indexes to settle (default 30)")
    v.add_argument("--grace", type=float, default=None, metavar="SECONDS",
                   help="grace period that tells garbage from orphans (default WHARF_GC_GRACE)")
    v.add_argument("--data")
    v.set_defaults(fn=cmd_verify)
    gcp = sub.add_parser("gc", help="delete blobs nothing references any more (after a grace period), superseded "
                                    "index blobs and expired staged uploads")
    gcp.add_argument("--dry-run", action="store_true", help="report what would be reclaimed, delete nothing")
    gcp.add_argument("--json", action="store_true", help="print the report as JSON")
    gcp.add_argument("--grace", type=float, default=None, metavar="SECONDS",
                     help="keep unreferenced blobs this long (default WHARF_GC_GRACE; 0 only on a quiet system)")
    gcp.add_argument("--orphans", action="store_true",
                     help="also delete orphans (blobs nothing references or explains; see wharf verify)")
    gcp.add_argument("--data")
    gcp.set_defaults(fn=cmd_gc)
    from services.cli_events import add_event_commands
    add_event_commands(sub)
    h = sub.add_parser("health", help="exit 0 when a service and its dependencies answer (probes)")
    h.add_argument("service", choices=SERVICES)
    h.add_argument("--live", action="store_true",
                   help="liveness: only the service itself, not its database, broker or object store")
    h.set_defaults(fn=cmd_health)
    m = sub.add_parser("migrate", help="upgrade service databases to the newest schema revision (Alembic)")
    m.add_argument("service", nargs="?", default="all", choices=("all",) + MIGRATABLE)
    m.add_argument("--check", action="store_true", help="only report; exit 1 when a database is behind")
    m.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                   help="with --check: wait up to SECONDS for the databases to reach head (init containers)")
    m.add_argument("--data")
    m.set_defaults(fn=cmd_migrate)
    args = p.parse_args(argv)
    from services.kernel.errors import WharfError
    try:
        return args.fn(args)
    except WharfError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return CONFIG_ERROR


if __name__ == "__main__":
    sys.exit(main())
