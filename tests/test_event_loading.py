"""``Event.from_log`` (what replay and the registry's projections read the log through) gives exactly what
``Event.from_wire`` gives for the same stored event: upcasts, defaults and data validation included; data the
registry wrote in the current shape is taken as it is."""
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


def test_from_log_validates_data_of_any_other_shape():
    bad = dataclasses.replace(STORED[1], data=dict(STORED[1].data, sha256="not-a-digest"))
    with pytest.raises(BadRequest, match="invalid file_uploaded event"):
        bad.from_log()
    with pytest.raises(BadRequest, match="unknown event type"):
        dataclasses.replace(STORED[2], type="no_such_event").from_log()


def test_what_the_registry_wrote_is_taken_as_it_is():
    """An event of the current version as ``Event.new`` dumped it needs no load: ``from_log`` returns it
    unchanged, and that is what ``from_wire`` gives too."""
    made = [Event.new("file_uploaded", "alice", {k: v for k, v in STORED[1].data.items() if k != "unknown_extra"}),
            Event.new("package_created", "bob", STORED[2].data),
            Event.new("package_transferred", "alice", {"owner": "alice", "package": "tool", "to_owner": "acme"})]
    for ev in made:
        stored = dataclasses.replace(ev, sequence=3)
        assert stored.from_log() is stored
        assert stored.from_log() == Event.from_wire(stored.to_wire())


def test_a_key_the_schema_gained_or_lost_since_is_loaded_again():
    ev = Event.new("package_created", "bob", STORED[2].data)
    lacking = dataclasses.replace(ev, data={k: v for k, v in ev.data.items() if k != "public_attrs"})
    assert lacking.from_log().data == ev.data            # the default is filled in, as from_wire does
    extra = dataclasses.replace(ev, data=dict(ev.data, dropped_since=1))
    assert extra.from_log().data == ev.data
    with pytest.raises(BadRequest, match="invalid package_created event"):
        dataclasses.replace(ev, data={k: v for k, v in ev.data.items() if k != "public"}).from_log()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_an_event_holds_only_what_json_can_represent(value):
    """Python's json writes NaN and the infinities; PostgreSQL's json, rattler and browsers refuse them, so data
    holding one never reaches the log (which replay reads through PostgreSQL's json on that database)."""
    data = {k: v for k, v in STORED[1].data.items() if k != "unknown_extra"}
    with pytest.raises(BadRequest, match="invalid file_uploaded event.*not JSON compliant"):
        Event.new("file_uploaded", "alice", dict(data, record={"size_hint": value}))
    with pytest.raises(BadRequest, match="invalid package_created event"):
        Event.new("package_created", "bob", dict(STORED[2].data, public_attrs={"x": [value]}))


@pytest.mark.parametrize("stored", STORED, ids=lambda e: e.type)
def test_an_event_of_a_newer_version_is_refused_not_loaded_with_the_old_schema(stored):
    """Newer code wrote it: whatever its data, loading it with this code's (older) schema could misread it."""
    from services.kernel.events import CURRENT_VERSION, NewerVersion
    newer = dataclasses.replace(stored, version=CURRENT_VERSION[stored.type] + 1)
    with pytest.raises(NewerVersion, match=f"{stored.type} event of version {newer.version}"):
        Event.from_wire(newer.to_wire())
    with pytest.raises(NewerVersion):
        newer.from_log()
    assert Event.from_wire(dataclasses.replace(stored, version=CURRENT_VERSION[stored.type]).to_wire())
