"""py-rattler reads a published channel through the sharded path (CEP-16): a static copy of what the gateway
serves (``<subdir>/repodata.json``, ``repodata_shards.msgpack.zst``, ``shards/<sha256>.msgpack.zst``, written
from ``get_index``/``get_shard``) behind Python's http.server."""
import functools
import http.server
import json
import subprocess
import sys
import threading

import pytest

from .support import read_pointer, shard_index

pytestmark = pytest.mark.processes   # starts processes (see pyproject.toml's markers)

rattler = pytest.importorskip("rattler")


QUERY = """
import asyncio, json, os, sys
import rattler
channel, cache, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
result = asyncio.run(rattler.Gateway(cache_dir=cache).query([rattler.Channel(channel)], ["linux-64", "noarch"],
                                                            specs, recursive=True))
print(json.dumps({r.file_name: {"sha256": r.sha256.hex(), "md5": r.md5.hex(), "size": r.size, "url": r.url,
                                "depends": [str(d) for d in r.depends]} for rs in result for r in rs}))
sys.stdout.flush()
# the answer is out; skip interpreter finalization, where py-rattler's native runtime has crashed with SIGSEGV
# (CI: exit -11 after the complete answer was printed)
os._exit(0)
"""


def rattler_query(channel: str, cache, specs: list[str]) -> dict:
    """py-rattler's Gateway query, in a child process: its native runtime once hung this (long-lived) test
    process at teardown; a child is bounded by a timeout and leaves nothing behind."""
    out = subprocess.run([sys.executable, "-c", QUERY, channel, str(cache), *specs], capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def publish_static(indexer, blobs, root, owner, label, audience):
    for subdir in indexer.list_subdirs(owner, label):
        files = indexer.get_index(owner, label, subdir, audience)["files"]
        target = root / owner / subdir
        (target / "shards").mkdir(parents=True)
        for fn, pointer in files.items():
            (target / fn).write_bytes(read_pointer(blobs, pointer))     # repodata.json: decoded from its .zst
        for sha in shard_index(blobs, files)["shards"].values():
            pointer = indexer.get_shard(owner, label, subdir, audience, sha)
            (target / "shards" / f"{sha}.msgpack.zst").write_bytes(read_pointer(blobs, pointer))


@pytest.fixture
def static_server(tmp_path):
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, fmt, *args):
            requests.append((self.command, self.path))

    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        thread.join(10)


def test_rattler_gateway_queries_the_shards(indexer, log, blobs, static_server, tmp_path):
    root, base, requests = static_server
    app = log.upload("alice", "wharfapp", "1.0", "linux-64", "0", depends=["wharflib >=1"])
    log.streams["alice"][-1] = app = dict(app, data=dict(app["data"], metadata={
        "run_exports": {"weak": ["wharfapp >=1.0,<2"]}}))
    wires = [app, log.upload("alice", "wharflib", "1.2", "noarch", "0", depends=[]),
             log.upload("alice", "wharflib", "0.5", "noarch", "0", depends=[]),
             log.upload("alice", "hidden", "1.0", "noarch", "0", depends=[], public=False)]
    for w in wires:
        indexer.handle(w)
    indexer.publish_pending()
    publish_static(indexer, blobs, root, "alice", "main", "public")

    got = rattler_query(f"{base}/alice", tmp_path / "rattler-cache", ["wharfapp", "hidden"])
    assert set(got) == {"wharfapp-1.0-0.conda", "wharflib-1.2-0.conda", "wharflib-0.5-0.conda"}
    for w in wires[:3]:
        rec, expected = got[w["data"]["filename"]], w["data"]["record"]
        assert rec["sha256"] == expected["sha256"] and rec["md5"] == expected["md5"]
        assert rec["size"] == expected["size"] and rec["depends"] == expected["depends"]
    assert got["wharfapp-1.0-0.conda"]["url"].endswith("/alice/linux-64/wharfapp-1.0-0.conda")
    paths = [p for _m, p in requests]
    assert "/alice/linux-64/repodata_shards.msgpack.zst" in paths
    assert "/alice/noarch/repodata_shards.msgpack.zst" in paths
    assert len([p for p in paths if "/shards/" in p]) == 2          # wharfapp, wharflib ("hidden" is not listed)
    assert not any(p.endswith("repodata.json") for p in paths)     # the monolithic file was never needed
