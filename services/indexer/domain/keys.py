"""Names of what the indexer publishes: channel, shard and project keys, audiences and index file names."""
from __future__ import annotations

from typing import NamedTuple

AUDIENCES = ("public", "private")          # public: public files only; private: every file
REPODATA = "repodata.json"
REPODATA_ZST = "repodata.json.zst"
SHARD_INDEX = "repodata_shards.msgpack.zst"   # CEP-16; shards live at "<subdir>/shards/<sha256>.msgpack.zst"
INDEX_FILES = (REPODATA, REPODATA_ZST, SHARD_INDEX)
NOARCH = "noarch"
SIMPLE_JSON = "simple.json"                # PEP 691 page
SIMPLE_HTML = "simple.html"                # PEP 503 page
PYPI_FILES = (SIMPLE_JSON, SIMPLE_HTML)
ROOT = ""                                  # the project of a label's project list (``/simple/``)


class ChannelKey(NamedTuple):
    """One published channel subdir: ``/<owner>/label/<label>/<subdir>/``."""
    owner: str
    label: str
    subdir: str


class ShardKey(NamedTuple):
    """One package name inside a channel subdir: the unit of a CEP-16 shard."""
    owner: str
    label: str
    subdir: str
    name: str

    @property
    def channel(self) -> ChannelKey:
        return ChannelKey(self.owner, self.label, self.subdir)


class ShardChange(NamedTuple):
    """A package name of a channel subdir touched by an event, and whether the touched file is public (then the
    change is visible to the ``public`` audience too)."""
    owner: str
    label: str
    subdir: str
    name: str
    public: bool

    @property
    def shard(self) -> ShardKey:
        return ShardKey(self.owner, self.label, self.subdir, self.name)

    @property
    def channel(self) -> ChannelKey:
        return ChannelKey(self.owner, self.label, self.subdir)


class ProjectKey(NamedTuple):
    """One PyPI simple page: a project (canonical name) of an owner's label; ``ROOT`` is the project list."""
    owner: str
    label: str
    project: str

    @property
    def subdir(self) -> str:
        """``index_published.data.subdir`` of the page: ``pypi/<project>``, or ``pypi`` for the project list."""
        return f"pypi/{self.project}" if self.project else "pypi"


def event_file_name(audience: str, filename: str) -> str:
    """Key of a file in ``index_published.data.files``: ``"<audience>/<filename>"``."""
    return f"{audience}/{filename}"
