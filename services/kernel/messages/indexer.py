"""The indexer's queries (``IndexerService``): published indexes and the files they list. Its commands are
the registry's events, consumed from the broker (``services.kernel.subscriptions``), not messages."""
from __future__ import annotations

from . import Command, MessageTable, Query, collect, message


@message
class GetIndex(Query):
    owner: str
    label: str
    subdir: str
    audience: str


@message
class LookupFile(Query):
    owner: str
    label: str
    subdir: str
    filename: str
    audience: str


@message
class ListSubdirs(Query):
    owner: str
    label: str


@message
class GetShard(Query):
    owner: str
    label: str
    subdir: str
    audience: str
    sha256: str


@message
class GetPypiPage(Query):
    owner: str
    label: str
    project: str | None
    audience: str


@message
class LookupPypiFile(Query):
    owner: str
    label: str
    filename: str
    audience: str


MESSAGES = MessageTable("indexer", collect(globals()))
