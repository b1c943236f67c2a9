"""``Event.from_log`` (what replay and the registry's projections read the log through) gives exactly what
``Event.from_wire`` gives for the same stored event: upcasts, defaults and data validation included."""
from __future__ import annotations

import dataclasses

import pytest

from services.kernel.errors import BadRequest
from services.kernel.events import Event

STORED = [
    Event(type="package_transferred", version=1, stream_id="alice", sequence=7, actor="alice",
          data={"owner": "alice", "package": "tool", "to_owner": "acme"}),
    Event(type="file_uploaded", version=1, stream_id="alice", sequence=8, actor="alice", correlation_id="req-1",
          data={"owner": "alice", "package": "zlib", "version": "1.3", "basename": "linux-64/zlib-1.3-0.conda",
                "filename": "zlib-1.3-0.conda", "distribution_type": "conda", "labels": ["main"],
                "blob_key": "blobs/sha256/aa/" + "a" * 64, "sha256": "a" * 64, "md5": "b" * 32, "size": 10,
                "public": True, "unknown_extra": 1}),
    Event(type="package_created", version=1, stream_id="bob", sequence=1, data={"owner": "bob", "package": "p",
                                                                               "public": False}),
]


@pytest.mark.parametrize("stored", STORED, ids=lambda e: e.type)
def test_from_log_equals_from_wire(stored):
    via_log, via_wire = stored.from_log(), Event.from_wire(stored.to_wire())
    assert via_log == via_wire
    assert via_log.data != stored.data          # defaults filled in, upcast applied or unknown keys dropped


def test_from_log_still_validates_the_data():
    bad = dataclasses.replace(STORED[1], data=dict(STORED[1].data, sha256="not-a-digest"))
    with pytest.raises(BadRequest, match="invalid file_uploaded event"):
        bad.from_log()
    with pytest.raises(BadRequest, match="unknown event type"):
        dataclasses.replace(STORED[2], type="no_such_event").from_log()
