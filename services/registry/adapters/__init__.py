"""SQLAlchemy adapters of the registry: tables, event log/outbox, projector, read repository, unit of work."""
