"""How many synchronous service calls one `anaconda upload` costs, per service and per operation.

Starts Wharf in distributed mode (PostgreSQL, RabbitMQ, a moto S3 server, five `wharf run` processes, as
channel_bench.py does), uploads ``--uploads`` new packages with the unmodified `anaconda` CLI (each a new
package: the whole flow, package and release creation included) and prints the difference of every service's
``wharf_rpc_duration_seconds_count`` (RPCs it answered, by operation) divided by the number of uploads, plus
the HTTP requests the CLI made. Event deliveries and timers (the indexer's ``handle`` and ``catch_up``) are
not RPCs and are left out.

    .venv/bin/python benchmarks/upload_rpcs.py --uploads 5
"""
from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from channel_bench import distributed_infra, free_port, start_wharf  # noqa: E402
from tests.system.test_indexer_replicas import metrics_url, scrape, total  # noqa: E402

NOT_RPC = {"handle", "catch_up"}
SERVICES = ("auth", "registry", "storage", "indexer")


def rpc_counts(wharf) -> collections.Counter:
    out = collections.Counter()
    for svc in SERVICES:
        for (name, labels), value in scrape(metrics_url(wharf, svc)).items():
            method = dict(labels).get("method")
            if name == "wharf_rpc_duration_seconds_count" and method not in NOT_RPC:
                out[(svc, method)] += value
    return out


def http_counts(wharf) -> float:
    return total(scrape(metrics_url(wharf, "gateway")), "wharf_http_request_duration_seconds_count")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uploads", type=int, default=5)
    args = ap.parse_args(argv)

    from tests.helpers.packages import make_conda_package
    from tests.system.clients import AnacondaCLI
    from tests.system.test_cli_support import create_accounts, token

    workdir = Path(tempfile.mkdtemp(prefix="wharf-rpcs-"))
    port = free_port()
    infra = distributed_infra(workdir, port)
    wharf = None
    try:
        wharf = start_wharf("distributed", workdir, port, infra.env)
        create_accounts(wharf, {"rpcuser": "rpc-user-password"})
        cli = AnacondaCLI(wharf, workdir / "home-cli")
        cli.env["ANACONDA_API_TOKEN"] = token(wharf, "rpcuser", "rpc-user-password")
        files = [make_conda_package(workdir / f"p{i}", f"rpcpkg{i}", "1.0") for i in range(args.uploads)]
        cli.run("upload", str(make_conda_package(workdir / "warm", "rpcwarm", "1.0")))   # first-call costs
        before, http_before = rpc_counts(wharf), http_counts(wharf)
        for f in files:
            cli.run("upload", str(f))
        after, http_after = rpc_counts(wharf), http_counts(wharf)
    finally:
        if wharf is not None:
            wharf.stop()
        infra.close()
    n = args.uploads
    diff = {k: (after[k] - before.get(k, 0)) / n for k in after if after[k] - before.get(k, 0)}
    print(f"per `anaconda upload` of a new package ({n} uploads, distributed mode):")
    print(f"  HTTP requests to the gateway: {(http_after - http_before) / n:.1f}")
    for svc in SERVICES:
        ops = {m: v for (s, m), v in diff.items() if s == svc}
        print(f"  {svc}: {sum(ops.values()):.1f} RPCs  " +
              ", ".join(f"{m} {v:g}" for m, v in sorted(ops.items(), key=lambda kv: -kv[1])))
    print(f"  synchronous RPCs in total: {sum(diff.values()):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
