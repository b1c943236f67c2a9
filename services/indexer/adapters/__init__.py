"""SQLAlchemy persistence of the indexer (SQLite in embedded mode, PostgreSQL in distributed mode): tables,
the generic file table of each kind (conda, PyPI), the repository and its shard/PyPI mixins, the unit of work
and the additive schema upgrade."""
