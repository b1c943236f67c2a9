"""Fault soak: a distributed Wharf (five `wharf run` processes; a RabbitMQ node and a PostgreSQL cluster of
its own, which it stops and restarts; moto S3 behind a TCP proxy) under a continuous concurrent upload load, while faults are
injected in rotation. Prints the load held, every fault survived, and the final `wharf verify` result.

    .venv/bin/python benchmarks/fault_soak.py [--seconds 180] [--threads 4] [--interval 12]

Faults, in rotation: kill -9 of the indexer, of the registry, of storage (mid-upload), of the gateway; every
event of the log delivered twice; a second indexer on the same queue; S3 unreachable for a few seconds (the
proxy is cut: clients get 503 and retry); the RabbitMQ node shut down and booted again; PostgreSQL stopped in
"immediate" mode (a crash: WAL recovery at the next start) and started again. The machine's shared RabbitMQ
and PostgreSQL are never touched; their server binaries are needed (tests/system/private_servers.py runs the
private ones). Exit status 0 when every committed upload is indexed and verify is clean.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import free_port  # noqa: E402
from tests.system.api_upload import login  # noqa: E402
from tests.system.faults import (Load, TcpProxy, all_listed, duplicate_all_events, kill9, respawn,  # noqa: E402
                                 verify)
from tests.system.harness import start_distributed, wait_http  # noqa: E402
from tests.system.private_servers import PrivatePostgres, PrivateRabbitMQ  # noqa: E402

OWNER = "soak"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=180)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--interval", type=float, default=12, help="seconds between faults")
    args = ap.parse_args()

    import logging

    from moto.server import ThreadedMotoServer
    logging.getLogger("werkzeug").setLevel(logging.ERROR)      # moto's request log

    work = Path(tempfile.mkdtemp(prefix="wharf-soak-"))
    s3_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    moto.start()
    proxy = TcpProxy(f"127.0.0.1:{s3_port}")
    pg = rabbit = wharf = None
    try:
        pg, rabbit = PrivatePostgres(), PrivateRabbitMQ()
        dbs = {svc: pg.create_database(f"wharf_soak_{svc}") for svc in ("auth", "registry", "indexer")}
        port = free_port()
        wharf = start_distributed(work, port, rabbit.amqp_uri, dbs,
                                  dict(s3_endpoint=proxy.address, s3_access_key="testing",
                                       s3_secret_key="testing", s3_bucket="wharf-soak"),
                                  extra_env={"WHARF_LOGIN_RATE_ACCOUNT": "1000",
                                             "WHARF_LOGIN_RATE_ADDRESS": "1000"})
        wharf.cli("user", "create", OWNER, "--password", "soak-pw-123")
        token = login(wharf.base_url, OWNER, "soak-pw-123")

        def kill_and_respawn(name):
            def fault():
                kill9(wharf, name)
                time.sleep(1.0)
                if name == "gateway":
                    respawn(wharf, "gateway")
                    wait_http(wharf.api, timeout=60)
                else:
                    respawn(wharf, name)
            return fault

        def s3_outage():
            proxy.cut()
            time.sleep(4)
            proxy.restore()

        def rabbitmq_restart():
            rabbit.stop()
            time.sleep(2)
            rabbit.start()

        def postgresql_crash_restart():
            pg.stop("immediate")
            time.sleep(2)
            pg.start()

        def second_indexer():
            if "indexer2" in wharf.procs:
                wharf.stop("indexer2")
            else:
                respawn(wharf, "indexer2", "indexer")

        faults = [("kill -9 indexer", kill_and_respawn("indexer")),
                  ("kill -9 registry", kill_and_respawn("registry")),
                  ("kill -9 storage mid-upload", kill_and_respawn("storage")),
                  ("every event delivered twice", lambda: duplicate_all_events(wharf)),
                  ("S3 unreachable for 4 s", s3_outage),
                  ("second indexer on the same queue (start/stop)", second_indexer),
                  ("kill -9 gateway", kill_and_respawn("gateway")),
                  ("RabbitMQ node shut down and restarted", rabbitmq_restart),
                  ("PostgreSQL crashed (immediate stop) and restarted", postgresql_crash_restart)]

        # baseline: the same load without faults, for comparison
        base = Load(wharf, token, OWNER, work / "pkgs", threads=args.threads, prefix="base").start()
        time.sleep(min(30.0, args.seconds / 4))
        base.stop()
        print(f"baseline (no faults): {len(base.committed)} uploads in {base.stopped - base.started:.0f} s = "
              f"{base.rate:.2f} uploads/s, slowest {base.slowest:.1f} s", flush=True)

        load = Load(wharf, token, OWNER, work / "pkgs", threads=args.threads, prefix="soak",
                    request_timeout=30).start()
        survived = []
        deadline = time.monotonic() + args.seconds
        i = 0
        while time.monotonic() + args.interval < deadline:
            time.sleep(args.interval)
            name, fault = faults[i % len(faults)]
            before = len(load.committed)
            t0 = time.monotonic()
            fault()
            survived.append(name)
            print(f"  [{time.monotonic() - load.started:6.1f} s] {name}: injected and recovered in "
                  f"{time.monotonic() - t0:.1f} s ({len(load.committed) - before} uploads committed meanwhile)",
                  flush=True)
            i += 1
        if "indexer2" in wharf.procs:
            wharf.stop("indexer2")
        load.stop()
        missing = all_listed(wharf, OWNER, load, timeout=300)
        report = verify(wharf, wait=300)
        both = base.committed + load.committed
        print(f"load held under faults: {len(load.committed)} uploads by {args.threads} clients in "
              f"{load.stopped - load.started:.0f} s = {load.rate:.2f} uploads/s "
              f"({100 * load.rate / max(base.rate, 1e-9):.0f}% of the fault-free rate), "
              f"{load.retries} retried attempts {dict(sorted(load.errors.items()))}, slowest upload "
              f"{load.slowest:.1f} s")
        for status, samples in sorted(load.samples.items()):
            print(f"  answers {status}, e.g.: {samples[:3]}")
        print(f"faults survived: {len(survived)} ({', '.join(sorted(set(survived)))})")
        print(f"committed uploads missing from the index: {len(missing)}")
        c = report["counts"]
        print(f"wharf verify: {'clean' if report['ok'] else 'PROBLEMS'} - {c['files']} files, {c['events']} "
              f"events, {c['pointers']} index pointers equal to a replay, {c['package_blobs']} package blobs, "
              f"{len(report['problems'])} problems {report['problems'][:5]}")
        print(f"total uploads committed: {len(both)}")
        return 0 if report["ok"] and not missing else 1
    finally:
        if wharf is not None:
            wharf.stop()
        proxy.close()
        moto.stop()
        for server in (rabbit, pg):
            if server is not None:
                server.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
