"""The ``wharf`` command.

    wharf serve [--host H] [--port P] [--data DIR]     embedded mode: everything in one process
    wharf run SERVICE                                  one service of the distributed mode
    wharf user create LOGIN --password PW [--email E]
    wharf org create ORG --owner LOGIN
    wharf replay                                       rebuild projections and every index from the log
    wharf health SERVICE                               exit 0 when SERVICE answers (k8s probes)
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

SERVICES = ("gateway", "auth", "registry", "storage", "indexer")
NAMEKO_CLASSES = {
    "auth": "services.auth.entrypoints.service:AuthRpc",
    "registry": "services.registry.entrypoints.service:RegistryRpc",
    "storage": "services.storage.entrypoints.service:StorageRpc",
    "indexer": "services.indexer.entrypoints.service:IndexerRpc",
}


def _settings(args, **overrides):
    from services.kernel.settings import Settings
    if getattr(args, "data", None):
        overrides["data_dir"] = args.data
    return Settings.from_env(**overrides)


def cmd_serve(args) -> int:
    from waitress import serve

    from services.embedded import Embedded
    from services.gateway.app import create_app
    from services.gateway.index_cache import IndexCache

    public = os.environ.get("WHARF_PUBLIC_URL") or f"http://{args.host}:{args.port}"
    settings = _settings(args, mode="embedded", public_url=public)
    system = Embedded(settings)
    cache = IndexCache()
    system.subscribe_gateway(cache)
    app = create_app(system.clients, settings, cache)
    print(f"Wharf (embedded) serving on {settings.public_url}  data: {os.path.abspath(settings.data_dir)}",
          flush=True)
    print(f"  anaconda config --set url {settings.public_url}/api", flush=True)
    print(f"  conda channel: {settings.public_url}/conda/<owner>", flush=True)
    try:
        serve(app, host=args.host, port=args.port, threads=16, ident="wharf", channel_timeout=300,
              max_request_body_size=settings.max_upload_size + 1024 * 1024)
    finally:
        system.stop()
    return 0


def cmd_run(args) -> int:
    settings = _settings(args, mode="distributed")
    if args.service == "gateway":
        return _run_gateway(settings)
    import tempfile

    import yaml
    cfg = {"AMQP_URI": settings.amqp_uri, "max_workers": int(os.environ.get("WHARF_MAX_WORKERS", "10")),
           "serializer": "json", "LOGGING": {"version": 1, "disable_existing_loggers": False,
                                            "handlers": {"console": {"class": "logging.StreamHandler"}},
                                            "root": {"level": os.environ.get("WHARF_LOG_LEVEL", "INFO"),
                                                     "handlers": ["console"]}}}
    fd, path = tempfile.mkstemp(prefix=f"wharf-{args.service}-", suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(cfg, f)
    sys.argv = ["nameko", "run", "--config", path, NAMEKO_CLASSES[args.service]]
    from nameko.cli.main import main as nameko_main
    return nameko_main() or 0


def _run_gateway(settings) -> int:
    from gunicorn.app.base import BaseApplication

    class GatewayApp(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", os.environ.get("WHARF_GATEWAY_BIND", "0.0.0.0:8080"))
            self.cfg.set("workers", int(os.environ.get("WHARF_GATEWAY_WORKERS", "2")))
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", int(os.environ.get("WHARF_GATEWAY_THREADS", "8")))
            self.cfg.set("timeout", 300)
            self.cfg.set("accesslog", "-")

        def load(self):
            return make_distributed_gateway(settings)

    GatewayApp().run()
    return 0


def make_distributed_gateway(settings):
    from services.gateway.adapters.index_listener import IndexListener
    from services.gateway.adapters.rpc import remote_clients
    from services.gateway.app import create_app
    from services.gateway.index_cache import IndexCache
    cache = IndexCache()
    IndexListener(settings.amqp_uri, cache).start()
    return create_app(remote_clients(settings.amqp_uri, settings.rpc_timeout), settings, cache)


def cmd_user(args) -> int:
    from services.auth.bootstrap import bootstrap
    auth = bootstrap(_settings(args))
    user = auth.create_user(args.login, args.password, email=args.email)
    print(f"created user {user['login']}")
    return 0


def cmd_org(args) -> int:
    from services.auth.bootstrap import bootstrap
    auth = bootstrap(_settings(args))
    org = auth.create_org(args.org, args.owner)
    print(f"created organization {org['login']} owned by {args.owner}")
    return 0


def cmd_replay(args) -> int:
    from services.replay import replay
    counts = replay(_settings(args))
    print(f"replayed {counts['events']} events; published {counts['indexes']} indexes")
    return 0


def cmd_health(args) -> int:
    settings = _settings(args)
    if args.service == "gateway":
        import requests
        ok = requests.get(settings.public_url + "/healthz", timeout=5).ok
        return 0 if ok else 1
    from nameko.standalone.rpc import ClusterRpcProxy
    with ClusterRpcProxy({"AMQP_URI": settings.amqp_uri}, timeout=10) as rpc:
        getattr(rpc, args.service).ping()
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("WHARF_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    p = argparse.ArgumentParser(prog="wharf", description="Wharf package hosting")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run everything in one process (embedded mode)")
    s.add_argument("--host", default=os.environ.get("WHARF_HOST", "127.0.0.1"))
    s.add_argument("--port", type=int, default=int(os.environ.get("WHARF_PORT", "8080")))
    s.add_argument("--data", default=os.environ.get("WHARF_DATA_DIR", "./data"))
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
    rp = sub.add_parser("replay", help="rebuild every projection and channel index from the event log")
    rp.add_argument("--data")
    rp.set_defaults(fn=cmd_replay)
    h = sub.add_parser("health", help="exit 0 when a service answers")
    h.add_argument("service", choices=SERVICES)
    h.set_defaults(fn=cmd_health)
    args = p.parse_args(argv)
    from services.kernel.errors import WharfError
    try:
        return args.fn(args)
    except WharfError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
