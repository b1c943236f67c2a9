"""channeldata.json built from repodata documents (pure function)."""
import json

from services.gateway import channeldata


def _doc(subdir, *recs, section="packages.conda"):
    return json.dumps({"info": {"subdir": subdir}, "packages": {}, section: {
        f"{r['name']}-{r['version']}-{r.get('build_number', 0)}.conda": r for r in recs}}).encode()


def test_newest_version_in_conda_order_and_subdirs():
    out = json.loads(channeldata.build({
        "noarch": _doc("noarch", {"name": "a", "version": "1.9", "timestamp": 1700000000000, "license": "MIT"},
                       {"name": "a", "version": "1.10", "timestamp": 1600000000000, "license": "BSD"}),
        "linux-64": _doc("linux-64", {"name": "a", "version": "1.10a1", "timestamp": 1800000000},
                         {"name": "b", "version": "2", "build_number": 3}, section="packages"),
    }))
    assert out["channeldata_version"] == 1 and out["subdirs"] == ["linux-64", "noarch"]
    a = out["packages"]["a"]
    # 1.10 > 1.10a1 > 1.9 (conda order, not string order); timestamps in seconds, ms converted
    assert a == {"subdirs": ["linux-64", "noarch"], "version": "1.10", "timestamp": 1800000000, "license": "BSD"}
    assert out["packages"]["b"] == {"subdirs": ["linux-64"], "version": "2", "timestamp": 0}


def test_empty_and_deterministic():
    assert json.loads(channeldata.build({})) == {"channeldata_version": 1, "packages": {}, "subdirs": []}
    docs = {"noarch": _doc("noarch", {"name": "z", "version": "1"}, {"name": "y", "version": "1"})}
    assert channeldata.build(docs) == channeldata.build(dict(docs))
    assert channeldata.cache_key([("a", "1"), ("b", "2")]) == channeldata.cache_key([("b", "2"), ("a", "1")])
    assert channeldata.cache_key([("a", "1")]) != channeldata.cache_key([("a", "2")])
