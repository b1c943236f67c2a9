"""Pure model of the indexer: canonical repodata records, channel/shard/project keys, the spliced repodata.json,
CEP-16 shards and shard indexes (msgpack) and PyPI simple pages (PEP 503/691)."""
