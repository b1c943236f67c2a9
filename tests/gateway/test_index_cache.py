"""IndexCache: metadata is cached until invalidated or expired, and a load that an invalidation overtook is not
cached (it may hold the index from before the publish that the invalidation announced)."""
from services.gateway.index_cache import IndexCache

KEY = ("alice", "main", "linux-64", "public")


def test_metadata_is_cached_until_invalidated():
    cache, calls = IndexCache(ttl=60), []

    def load():
        calls.append(1)
        return {"generation": len(calls)}
    assert cache.get_meta(KEY, load) == {"generation": 1}
    assert cache.get_meta(KEY, load) == {"generation": 1} and len(calls) == 1
    cache.invalidate("alice", "main", "noarch")          # another subdir: kept
    assert cache.get_meta(KEY, load) == {"generation": 1}
    cache.invalidate("alice", "main", "linux-64")
    assert cache.get_meta(KEY, load) == {"generation": 2}


def test_a_load_overtaken_by_an_invalidation_is_not_cached():
    cache, published = IndexCache(ttl=60), {"generation": 1}

    def load_then_publish():
        old = dict(published)                           # read before the publish...
        published["generation"] = 2                     # ...which lands, and is announced, meanwhile
        cache.on_event({"data": {"owner": "alice", "label": "main", "subdir": "linux-64"}})
        return old
    assert cache.get_meta(KEY, load_then_publish) == {"generation": 1}
    assert cache.get_meta(KEY, lambda: dict(published)) == {"generation": 2}   # not the stale value
    assert cache.get_meta(KEY, lambda: {"generation": 99}) == {"generation": 2}   # this one was cached
