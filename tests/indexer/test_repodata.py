"""The spliced repodata.json is byte-for-byte json.dumps(..., sort_keys=True, separators=(",", ":"))."""
import json
import random

import pytest
import zstandard

from services.indexer.domain.records import epoch_millis, record_json, subdir_of
from services.indexer.domain.repodata import RepodataSplice, build_repodata
from services.indexer.service_layer.publishing import compress

from .support import conda_record, read_pointer

NASTY = {
    "summary": "naïve café — “smart quotes” and a \"plain\" one",
    "description": "back\\slash, tab\there, newline\nhere, NUL-ish \u0001 and \u2028 separators",
    "license": "Apache-2.0 OR MIT 🦀",
    "license_family": "ÄÖÜ</script>",
    "track_features": "",
    "constrains": ["pyqt >=5.15,<6", "__glibc >=2.17"],
    "nested": {"z": [1, 2.5, None, True], "a": {"ä": "ß"}},
}


def expected_bytes(subdir, records):
    doc = {"info": {"subdir": subdir},
           "packages": {fn: r for fn, r in records.items() if fn.endswith(".tar.bz2")},
           "packages.conda": {fn: r for fn, r in records.items() if fn.endswith(".conda")},
           "removed": [], "repodata_version": 1}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def test_splice_equals_json_dumps_with_unicode_and_escaping():
    records = {}
    for i, name in enumerate(["ñandú", "zlib", "Zope", "_private", "a-b", "a.b", "a_b", "é"]):
        for ext in (".conda", ".tar.bz2"):
            fn = f"{name}-1.{i}-h{i}_0{ext}"
            records[fn] = dict(conda_record(name, f"1.{i}", f"h{i}_0", i, "linux-64", depends=[f"dep{i} >=1"]),
                               **NASTY, indexed_timestamp=1_777_000_000_000 + i)
    entries = [(fn, json.dumps(r, sort_keys=True, separators=(",", ":"))) for fn, r in reversed(records.items())]
    raw = build_repodata("linux-64", entries)
    assert raw == expected_bytes("linux-64", records)
    assert json.loads(raw)["packages.conda"]["ñandú-1.0-h0_0.conda"]["nested"] == NASTY["nested"]
    assert zstandard.ZstdDecompressor().decompress(compress(raw)) == raw


def test_empty_and_foreign_files():
    assert build_repodata("noarch", []) == expected_bytes("noarch", {})
    assert build_repodata("noarch", [("x-1-0.whl", "{}")]) == expected_bytes("noarch", {})


def test_stored_fragments_are_canonical_with_indexed_timestamp():
    rec = dict(conda_record("ñ", "1", "0", 0, "noarch"), **NASTY)
    js = record_json(rec, "2026-05-01T12:00:00.250Z")
    assert js == json.dumps(dict(rec, indexed_timestamp=1777636800250), sort_keys=True, separators=(",", ":"))
    assert js.isascii()
    assert epoch_millis("2026-05-01T14:00:00.250+02:00") == 1777636800250
    assert epoch_millis("1970-01-01T00:00:00") == 0


def test_subdir_of_an_upload():
    assert subdir_of({"subdir": "linux-64", "record": {"subdir": "osx-64"}}) == "linux-64"
    assert subdir_of({"subdir": None, "record": {"subdir": "osx-64"}}) == "osx-64"
    assert subdir_of({"record": {}, "basename": "win-64/x-1-0.conda"}) == "win-64"
    assert subdir_of({"record": {}, "basename": "x-1-0.conda"}) == "noarch"


def test_published_bytes_match_json_dumps_of_the_records(indexer, log, blobs):
    wires = [log.upload("alice", "ñandú", "1.0", "noarch", "pyh_0", **NASTY),
             log.upload("alice", "zope", "5.0", "noarch", "pyh_0", ext=".tar.bz2", summary="\"quoted\"\n"),
             log.upload("alice", "abc", "0.1", "noarch", "pyh_0", summary="\u00e9\ud83d\ude00")]
    for w in wires:
        indexer.handle(w)
    indexer.publish_pending()
    records = {w["data"]["filename"]: dict(w["data"]["record"], indexed_timestamp=epoch_millis(w["occurred_at"]))
               for w in wires}
    pointer = indexer.get_index("alice", "main", "noarch", "public")["files"]["repodata.json"]
    assert read_pointer(blobs, pointer) == expected_bytes("noarch", records)


def _reference(rows: dict, public_only: bool) -> bytes:
    """What build_repodata makes of ``rows`` ({(filename, order): (fragment, public)}) for one audience."""
    shown = sorted((fn, order, frag) for (fn, order), (frag, public) in rows.items() if public or not public_only)
    return build_repodata("linux-64", [(fn, frag) for fn, _order, frag in shown])


@pytest.mark.parametrize("seed", range(4))
def test_the_incremental_splice_equals_a_fresh_build_after_every_change(seed):
    rng = random.Random(seed)
    rows: dict[tuple, tuple[str, bool]] = {}
    splice = RepodataSplice("linux-64")
    for step in range(300):
        size = 120 if step % 50 == 7 else rng.randint(1, 6)      # now and then a bulk change (sorted at once)
        keys = {(f"{rng.choice(['a', 'b', 'ñandú', 'Z', '_x'])}-{rng.randint(0, 30)}-0"
                 f"{rng.choice(['.conda', '.tar.bz2', '.whl'])}", (rng.choice(["pkg", "other"]), "1.0"))
                for _ in range(size)}
        removed, added = [], []
        for fn, order in keys:
            if (fn, order) in rows:
                removed.append((fn, order, *rows.pop((fn, order))))
            if not removed or removed[-1][:2] != (fn, order) or rng.random() < 0.5:   # gone, or replaced
                rows[(fn, order)] = (json.dumps({"step": step, "s": "é\n"}, sort_keys=True), rng.random() < 0.7)
                added.append((fn, order, *rows[(fn, order)]))
        splice.update(removed, added)
        for public_only in (False, True):
            assert splice.build(public_only) == _reference(rows, public_only), (step, public_only)
        assert splice.all_public == all(pub for (fn, _o), (_f, pub) in rows.items() if not fn.endswith(".whl"))
    assert RepodataSplice("linux-64", [(fn, o, *v) for (fn, o), v in rows.items()]).build(True) == _reference(rows, True)
