"""Names of what the indexer publishes: channel keys, audiences and index file names."""
from __future__ import annotations

from typing import NamedTuple

AUDIENCES = ("public", "private")          # public: public files only; private: every file
REPODATA = "repodata.json"
REPODATA_ZST = "repodata.json.zst"
INDEX_FILES = (REPODATA, REPODATA_ZST)
NOARCH = "noarch"


class ChannelKey(NamedTuple):
    """One published channel subdir: ``/<owner>/label/<label>/<subdir>/``."""
    owner: str
    label: str
    subdir: str


def event_file_name(audience: str, filename: str) -> str:
    """Key of a file in ``index_published.data.files``: ``"<audience>/<filename>"``."""
    return f"{audience}/{filename}"
