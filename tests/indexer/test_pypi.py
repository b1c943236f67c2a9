"""PyPI simple pages (PEP 503 HTML, PEP 691 JSON, API 1.1) per (owner, label, project) and the project list of
each label: content, core metadata, audiences, removals, labels, transfers, announcements, replay
determinism (SQLite and PostgreSQL)."""
import json
import re
from html.parser import HTMLParser

from services.indexer.domain.simple import upload_time

from .support import checked_blob

UPLOAD_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def feed(indexer, *wires):
    for w in wires:
        indexer.handle(w)


def page(indexer, blobs, owner, label, project, audience="public"):
    """(JSON document, HTML text) of a published page, or None; checks both pointers."""
    got = indexer.get_pypi_page(owner, label, project, audience)
    if got is None:
        return None
    assert set(got["files"]) == {"simple.json", "simple.html"}
    raw = checked_blob(blobs, got["files"]["simple.json"])
    doc = json.loads(raw)
    assert raw == json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return doc, checked_blob(blobs, got["files"]["simple.html"]).decode()


class Anchors(HTMLParser):
    def __init__(self):
        super().__init__()
        self.anchors, self.meta, self._attrs = [], {}, None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._attrs = dict(attrs)
        elif tag == "meta":
            self.meta[dict(attrs)["name"]] = dict(attrs)["content"]

    def handle_data(self, data):
        if self._attrs is not None:
            self.anchors.append((data, self._attrs))
            self._attrs = None


def anchors(text):
    parser = Anchors()
    parser.feed(text)
    return parser


def test_wheel_page_lists_core_metadata_and_pep700_fields(indexer, log, blobs):
    wheel = log.pypi("alice", "Holy.Grail", "1.0", "holy_grail-1.0-py3-none-any.whl", requires_python=">=3.8, <4")
    sdist = log.pypi("alice", "Holy.Grail", "1.0", "holy_grail-1.0.tar.gz", requires_python=">=3.8, <4")
    old = log.pypi("alice", "Holy.Grail", "0.9", "holy_grail-0.9-py3-none-any.whl", requires_python=None)
    rc = log.pypi("alice", "Holy.Grail", "1.0rc1", "holy_grail-1.0rc1.zip")
    feed(indexer, wheel, sdist, old, rc)
    published = indexer.publish_pending()
    assert {(p["subdir"], tuple(sorted(p["files"]))) for p in published} == {
        (sub, (f"{aud}/simple.html", f"{aud}/simple.json")) for sub in ("pypi/holy-grail", "pypi")
        for aud in ("public", "private")}
    assert indexer.get_index("alice", "main", "noarch", "public") is None      # no conda channel

    doc, text = page(indexer, blobs, "alice", "main", "Holy_Grail")           # any spelling: canonicalized
    assert doc["meta"] == {"api-version": "1.1"} and doc["name"] == "holy-grail"
    assert doc["versions"] == ["0.9", "1.0rc1", "1.0"]
    by_name = {f["filename"]: f for f in doc["files"]}
    assert [f["filename"] for f in doc["files"]] == [
        "holy_grail-0.9-py3-none-any.whl", "holy_grail-1.0rc1.zip", "holy_grail-1.0-py3-none-any.whl",
        "holy_grail-1.0.tar.gz"]
    meta = wheel["data"]["metadata"]
    assert by_name["holy_grail-1.0-py3-none-any.whl"] == {
        "filename": "holy_grail-1.0-py3-none-any.whl", "url": "holy_grail-1.0-py3-none-any.whl",
        "hashes": {"sha256": wheel["data"]["sha256"]}, "requires-python": ">=3.8, <4",
        "core-metadata": {"sha256": meta["core_metadata_sha256"]},
        "dist-info-metadata": {"sha256": meta["core_metadata_sha256"]},
        "size": wheel["data"]["size"], "upload-time": upload_time(wheel["occurred_at"])}
    assert UPLOAD_TIME.match(by_name["holy_grail-1.0.tar.gz"]["upload-time"])
    assert by_name["holy_grail-1.0.tar.gz"]["core-metadata"] is False
    assert by_name["holy_grail-1.0.tar.gz"]["dist-info-metadata"] is False
    assert "requires-python" not in by_name["holy_grail-0.9-py3-none-any.whl"]

    parsed = anchors(text)
    assert parsed.meta == {"pypi:repository-version": "1.1"}
    links = dict(parsed.anchors)
    assert list(links) == [f["filename"] for f in doc["files"]]
    for fn, attrs in links.items():
        assert attrs["href"] == f"{fn}#sha256={by_name[fn]['hashes']['sha256']}"
    w = links["holy_grail-1.0-py3-none-any.whl"]
    assert w["data-requires-python"] == ">=3.8, <4"
    assert w["data-core-metadata"] == w["data-dist-info-metadata"] == f"sha256={meta['core_metadata_sha256']}"
    assert 'data-requires-python="&gt;=3.8, &lt;4"' in text
    assert "data-core-metadata" not in links["holy_grail-1.0.tar.gz"]

    root, root_text = page(indexer, blobs, "alice", "main", None)
    assert root == {"meta": {"api-version": "1.1"}, "projects": [{"name": "holy-grail"}]}
    assert anchors(root_text).anchors == [("holy-grail", {"href": "holy-grail/"})]

    hit = indexer.lookup_pypi_file("Alice", "main", "holy_grail-1.0-py3-none-any.whl", "public")
    assert hit == {"package": "Holy.Grail", "version": "1.0", "basename": "holy_grail-1.0-py3-none-any.whl",
                   "project": "holy-grail", "sha256": wheel["data"]["sha256"], "size": wheel["data"]["size"],
                   "blob_key": wheel["data"]["blob_key"], "core_metadata_key": meta["core_metadata_key"],
                   "core_metadata_sha256": meta["core_metadata_sha256"], "public": True}
    sd = indexer.lookup_pypi_file("alice", "main", "holy_grail-1.0.tar.gz", "public")
    assert sd["core_metadata_key"] is None and sd["core_metadata_sha256"] is None
    assert indexer.lookup_pypi_file("alice", "dev", "holy_grail-1.0.tar.gz", "public") is None
    assert indexer.lookup_pypi_file("alice", "main", "nope-1.0.tar.gz", "private") is None


def test_html_escaping_and_project_names(indexer, log, blobs):
    feed(indexer, log.pypi("alice", "weird", "1.0", requires_python='<4,>="3"&'),
         log.pypi("alice", "zope.interface", "6.0", "zope.interface-6.0.tar.gz", name="Zope.Interface"),
         log.pypi("alice", "not-a-dist", "1.0", "not_a_dist-1.0.exe"))        # neither wheel nor sdist: ignored
    indexer.publish_pending()
    _doc, text = page(indexer, blobs, "alice", "main", "weird")
    assert 'data-requires-python="&lt;4,&gt;=&quot;3&quot;&amp;"' in text
    assert dict(anchors(text).anchors)["weird-1.0-py3-none-any.whl"]["data-requires-python"] == '<4,>="3"&'
    assert page(indexer, blobs, "alice", "main", "zope-interface")[0]["name"] == "zope-interface"
    assert page(indexer, blobs, "alice", "main", "not-a-dist") is None
    assert page(indexer, blobs, "alice", "main", None)[0]["projects"] == [{"name": "weird"},
                                                                          {"name": "zope-interface"}]


def test_public_and_private_audiences(indexer, log, blobs):
    feed(indexer, log.pypi("alice", "open", "1.0"), log.pypi("alice", "secret", "1.0", public=False))
    indexer.publish_pending()
    assert page(indexer, blobs, "alice", "main", "secret") is None                 # 404, not an empty page
    assert page(indexer, blobs, "alice", "main", "secret", "private")[0]["files"][0]["filename"] == \
        "secret-1.0-py3-none-any.whl"
    assert page(indexer, blobs, "alice", "main", None)[0]["projects"] == [{"name": "open"}]
    assert page(indexer, blobs, "alice", "main", None, "private")[0]["projects"] == [{"name": "open"},
                                                                                    {"name": "secret"}]
    assert indexer.lookup_pypi_file("alice", "main", "secret-1.0-py3-none-any.whl", "public") is None
    assert indexer.lookup_pypi_file("alice", "main", "secret-1.0-py3-none-any.whl", "private") is not None

    feed(indexer, log.append("package_updated", "alice", {"owner": "alice", "package": "secret",
                                                          "changes": {"public": True}}))
    indexer.publish_pending()
    assert page(indexer, blobs, "alice", "main", "secret") == page(indexer, blobs, "alice", "main", "secret",
                                                                   "private")
    assert indexer.get_pypi_page("alice", "main", "secret", "public") == \
        indexer.get_pypi_page("alice", "main", "secret", "private")         # same bytes, same blobs


def test_removals_drop_files_and_pages(indexer, log, blobs, publisher):
    a = log.pypi("alice", "tool", "1.0")
    b = log.pypi("alice", "tool", "1.0", "tool-1.0.tar.gz")
    c = log.pypi("alice", "tool", "2.0")
    feed(indexer, a, b, c, log.pypi("alice", "other", "1.0"))
    indexer.publish_pending()
    feed(indexer, log.append("file_removed", "alice", {"owner": "alice", **log.ref(a)}))
    published = indexer.publish_pending()
    assert {p["subdir"] for p in published} == {"pypi/tool", "pypi"}
    doc = page(indexer, blobs, "alice", "main", "tool")[0]
    assert [f["filename"] for f in doc["files"]] == ["tool-1.0.tar.gz", "tool-2.0-py3-none-any.whl"]
    feed(indexer, log.append("release_removed", "alice", {"owner": "alice", "package": "tool", "version": "2.0"}))
    indexer.publish_pending()
    assert page(indexer, blobs, "alice", "main", "tool")[0]["versions"] == ["1.0"]

    publisher.events.clear()
    feed(indexer, log.append("package_removed", "alice", {"owner": "alice", "package": "tool"}))
    indexer.publish_pending()
    assert page(indexer, blobs, "alice", "main", "tool") is None
    assert page(indexer, blobs, "alice", "main", "tool", "private") is None
    assert page(indexer, blobs, "alice", "main", None)[0]["projects"] == [{"name": "other"}]
    gone = [e.data for e in publisher.events if e.data["subdir"] == "pypi/tool"]
    assert gone == [{"owner": "alice", "label": "main", "subdir": "pypi/tool", "files": {}}] * 2
    assert indexer.lookup_pypi_file("alice", "main", "tool-1.0.tar.gz", "private") is None


def test_labels_transfers_and_force_replace(indexer, log, blobs):
    a = log.pypi("alice", "tool", "1.0", labels=["dev"])
    feed(indexer, a)
    indexer.publish_pending()
    assert page(indexer, blobs, "alice", "main", "tool") is None
    assert page(indexer, blobs, "alice", "dev", "tool") is not None
    feed(indexer, log.append("label_copied", "alice", {"owner": "alice", "from_label": "dev", "to_label": "main",
                                                       "files": [log.ref(a)]}))
    assert {p["label"] for p in indexer.publish_pending()} == {"main"}
    assert page(indexer, blobs, "alice", "main", "tool") is not None
    feed(indexer, log.append("files_unlabeled", "alice", {"owner": "alice", "label": "dev", "files": [log.ref(a)]}))
    indexer.publish_pending()
    assert page(indexer, blobs, "alice", "dev", "tool") is None
    assert page(indexer, blobs, "alice", "dev", None)[0]["projects"] == []

    again = log.pypi("alice", "tool", "1.0", labels=["main"], requires_python=">=3.12")
    again["data"]["sha256"] = "e" * 64
    feed(indexer, again)
    indexer.publish_pending()
    [entry] = page(indexer, blobs, "alice", "main", "tool")[0]["files"]
    assert entry["hashes"] == {"sha256": "e" * 64} and entry["requires-python"] == ">=3.12"

    feed(indexer, log.append("package_transferred", "alice", {"owner": "alice", "package": "tool",
                                                              "to_owner": "acme"}))
    assert {(p["owner"], p["subdir"]) for p in indexer.publish_pending() if p["files"]} >= {
        ("acme", "pypi/tool"), ("acme", "pypi")}
    assert page(indexer, blobs, "alice", "main", "tool") is None
    assert page(indexer, blobs, "acme", "main", "tool")[0]["files"][0]["hashes"] == {"sha256": "e" * 64}
    assert indexer.lookup_pypi_file("acme", "main", "tool-1.0-py3-none-any.whl", "public")["package"] == "tool"


def test_only_dirty_projects_are_rebuilt(indexer, log, blobs):
    feed(indexer, log.pypi("alice", "one", "1.0"), log.pypi("alice", "two", "1.0"),
         log.upload("alice", "condapkg", "1.0", "noarch", "0"))
    indexer.publish_pending()
    blobs.puts.clear()
    assert indexer.publish_pending() == [] and blobs.puts == []
    feed(indexer, log.pypi("alice", "two", "1.1"))
    published = indexer.publish_pending()
    assert {p["subdir"] for p in published} == {"pypi/two", "pypi"}
    two = indexer.get_pypi_page("alice", "main", "two", "public")["files"]
    # the project list did not change (rebuilt the same: only marked as used again, for `wharf gc`)
    assert sorted(k for k in blobs.puts if not k.startswith("gc/used/")) == sorted(p["key"] for p in two.values())


def test_replay_gives_byte_identical_pages(indexer, log, blobs):
    a = log.pypi("alice", "tool", "1.0", labels=["main", "dev"])
    log.pypi("alice", "tool", "1.0", "tool-1.0.tar.gz")
    log.pypi("alice", "secret", "0.1", public=False)
    log.pypi("bob", "lib", "2.0")
    log.append("file_removed", "alice", {"owner": "alice", **log.ref(a)})
    log.pypi("alice", "tool", "1.1")
    log.append("package_transferred", "bob", {"owner": "bob", "package": "lib", "to_owner": "alice"})

    def snapshot():
        out = {}
        for owner, label in (("alice", "main"), ("alice", "dev"), ("bob", "main")):
            for project in (None, "tool", "secret", "lib"):
                for audience in ("public", "private"):
                    out[(owner, label, project, audience)] = indexer.get_pypi_page(owner, label, project, audience)
        return out

    for w in log.all():
        indexer.handle(w)
    indexer.publish_pending()
    first = snapshot()
    assert first[("alice", "main", "lib", "public")] is not None and first[("bob", "main", "lib", "public")] is None
    assert first[("alice", "main", "secret", "public")] is None
    indexer.reset()
    for w in reversed(log.all()):
        indexer.handle(w)
    indexer.publish_pending()
    assert snapshot() == first
    indexer.reset()
    for w in log.all():
        indexer.handle(w)
    indexer.publish_all()
    assert snapshot() == first
