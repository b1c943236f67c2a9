"""SQLAlchemy persistence of the indexer (SQLite in embedded mode, PostgreSQL in distributed mode)."""
