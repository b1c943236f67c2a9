"""Pure model of the indexer: canonical repodata records, channel keys and the spliced repodata.json."""
