"""rebuild_projections: truncating the read tables and replaying the log gives identical read tables (every
column, ids and timestamps included); the log, the outbox flags and staged uploads are untouched."""
import json

from sqlalchemy import delete, event, select, update

from services.registry.adapters.tables import READ_TABLES, events, files, packages, staged

from .conftest import blob_meta, dump, upload


def rich_history(reg):
    reg.create_package("alice", "demo", public=True,
                       public_attrs={"summary": "Demo", "package_types": ["conda"], "license": {"name": "MIT"}},
                       actor="alice")
    reg.create_package("alice", "secret", public=False, public_attrs={"summary": "s"}, actor="alice")
    reg.create_package("bob", "tool", public=True, public_attrs={"summary": "t"}, actor="bob")
    for v in ("1.0", "1.1", "2.0"):
        reg.create_release("alice", "demo", v, {"description": f"v{v}"}, actor="alice")
    reg.create_release("alice", "secret", "0.1", {}, actor="alice")
    reg.create_release("bob", "tool", "3.0", {}, actor="bob")
    upload(reg, "alice", "demo", "1.0", "linux-64/demo-1.0-0.conda", labels=["main", "dev"],
           attrs={"build": "0"}, dependencies={"depends": []})
    upload(reg, "alice", "demo", "1.0", "noarch/demo-1.0-1.tar.bz2")
    upload(reg, "alice", "demo", "1.1", "linux-64/demo-1.1-0.conda", labels=["dev"])
    upload(reg, "alice", "demo", "2.0", "demo-2.0.tar.gz", dist_type="pypi", description="sdist")
    upload(reg, "alice", "secret", "0.1", "secret-0.1.tar.gz", dist_type="pypi")
    upload(reg, "bob", "tool", "3.0", "osx-arm64/tool-3.0-0.conda")
    reg.update_package("alice", "demo", {"public_attrs": {"summary": "Better"}}, actor="alice")
    reg.update_package("alice", "secret", {"public": True}, actor="alice")
    reg.update_release("alice", "demo", "1.1", {"description": "patched"}, actor="alice")
    reg.remove_file("alice", "demo", "1.0", "noarch/demo-1.0-1.tar.bz2", actor="alice")
    reg.remove_release("alice", "demo", "1.1", actor="alice")
    reg.create_package("bob", "gone", public=True, public_attrs={}, actor="bob")
    reg.create_release("bob", "gone", "1", {}, actor="bob")
    upload(reg, "bob", "gone", "1", "gone-1.tar.gz", dist_type="pypi")
    reg.remove_package("bob", "gone", actor="bob")
    reg.stage("alice", "demo", "2.0", "demo-2.0-py3-none-any.whl", "pypi", None, [], {}, None, None, "alice")


def test_rebuild_gives_identical_read_tables(registry, engine):
    rich_history(registry)
    registry.relay_pending(limit=10)  # some published, some not: the flags must survive
    before = dump(engine)
    n_events = len(before["events"])
    assert registry.rebuild_projections() == n_events
    assert dump(engine) == before
    views = (registry.list_packages("alice", True), registry.get_package("alice", "demo", True),
             registry.get_release("alice", "demo", "1.0"), registry.list_packages("bob", True))
    assert registry.rebuild_projections() == n_events  # idempotent
    assert (registry.list_packages("alice", True), registry.get_package("alice", "demo", True),
            registry.get_release("alice", "demo", "1.0"), registry.list_packages("bob", True)) == views


def test_rebuild_repairs_damaged_read_tables(registry, engine):
    rich_history(registry)
    before = dump(engine)
    with engine.begin() as conn:  # damage the projections, not the log
        for t in READ_TABLES:
            conn.execute(delete(t))
        conn.execute(packages.insert().values(owner="eve", name="junk", package_id="x", public=True, summary="",
                                              public_attrs="{}", package_types="[]", created_at="t",
                                              modified_at="t", created_pos=0))
    assert dump(engine) != before
    registry.rebuild_projections()
    assert dump(engine) == before
    assert dump(engine, (staged,))["staged"]  # staged uploads are kept


def test_rebuild_does_not_touch_the_log(registry, engine):
    rich_history(registry)
    registry.relay_pending()
    with engine.begin() as conn:
        conn.execute(update(events).where(events.c.position > 20).values(published=False))
    log_before = dump(engine, (events,))
    registry.rebuild_projections()
    assert dump(engine, (events,)) == log_before


def test_rebuild_of_empty_log(registry, engine):
    assert registry.rebuild_projections() == 0
    assert all(rows == [] for rows in dump(engine).values())


def anaconda_org_history(reg):
    """Collaborators, copies (all modes), transfers, locks: everything the anaconda.org surface adds."""
    rich_history(reg)
    reg.add_collaborator("alice", "demo", "carol", actor="alice")
    reg.add_collaborator("alice", "secret", "carol", actor="alice")
    reg.add_collaborator("alice", "secret", "dave", actor="alice")
    reg.remove_collaborator("alice", "secret", "dave", actor="alice")
    reg.copy_files("alice", "demo", "1.0", to_label="stable", actor="alice")
    reg.copy_files("alice", "demo", "1.0", to_owner="bob", from_label="dev", to_label="main", actor="bob")
    reg.copy_files("alice", "demo", "1.0", to_owner="bob", mode="update", to_label="beta", actor="bob")
    reg.copy_files("alice", "demo", "1.0", "linux-64/demo-1.0-0.conda", to_owner="bob", mode="replace",
                   actor="bob")
    reg.transfer_package("alice", "secret", "acme", actor="alice")
    reg.add_collaborator("acme", "secret", "erin", actor="acme")
    reg.transfer_package("bob", "tool", "acme", actor="bob")
    reg.lock_label("bob", "main", True, actor="bob")
    reg.create_package("alice", "secret", public=True, public_attrs={}, actor="alice")
    reg.lock_label("bob", "main", False, actor="bob")
    reg.remove_package("acme", "tool", actor="acme")


def test_rebuild_after_collaborators_copies_transfers_and_locks(registry, engine):
    anaconda_org_history(registry)
    before = dump(engine)
    assert before["collaborators"] and {r[0] for r in before["packages"]} == {"alice", "bob", "acme"}
    views = (registry.list_packages("acme", True), registry.list_collaborators("acme", "secret"),
             registry.search(""), registry.list_labels("bob", True), registry.get_package("bob", "demo", True))
    registry.rebuild_projections()
    assert dump(engine) == before
    assert (registry.list_packages("acme", True), registry.list_collaborators("acme", "secret"),
            registry.search(""), registry.list_labels("bob", True),
            registry.get_package("bob", "demo", True)) == views


def _statements(engine) -> list[str]:
    """Every SQL statement sent through ``engine`` from now on."""
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda conn, cursor, stmt, *a: seen.append(stmt))
    return seen


def test_rebuild_keeps_the_json_text_of_the_log(registry, engine):
    """Records with keys out of order, non-ASCII text, floats, nulls and quotes: the rebuilt JSON columns are
    the text the upload wrote, and on PostgreSQL the file rows are built from the log by the server."""
    record = {"version": "1.0", "name": "démo", "build": "0", "depends": ["b >=1.5", "a"], "size": 1.25,
              "license": None, "run_exports": {"weak": ["x"], "strong": []}, "note": 'say "hi" \\ / \t'}
    registry.create_package("alice", "demo", public=True, public_attrs={"z": 1, "a": {"é": None}}, actor="alice")
    registry.create_release("alice", "demo", "1.0", {"y": 2.5, "b": [1, {"c": None}]}, actor="alice")
    st = registry.stage("alice", "demo", "1.0", "linux-64/demo-1.0-0.conda", "conda", None, ["main", "dev"],
                        {"zz": "ü", "aa": 1}, None, 'a "quoted" déscription', "alice")
    registry.commit(st["dist_id"], blob_meta(b"x", "demo-1.0-0.conda", "linux-64", record,
                                             {"b": 1, "a": [None, 0.5]}), "alice")
    before = dump(engine)
    with engine.connect() as conn:
        row = conn.execute(select(files.c.record, files.c.metadata)).one()
    assert row.record == json.dumps(record) and json.loads(row.metadata) == {"b": 1, "a": [None, 0.5]}
    seen = _statements(engine)
    registry.rebuild_projections()
    assert dump(engine) == before
    assert any("json_to_record" in s for s in seen) == (engine.dialect.name == "postgresql")


def test_rebuild_after_a_transfer_uploads_into_the_moved_package(registry, engine):
    """Creations after a transfer: the moved package exists under its new owner although the rebuild never
    created it there, so its release and modification time must be found in the tables, not assumed absent."""
    registry.create_package("alice", "demo", public=True, public_attrs={}, actor="alice")
    registry.create_release("alice", "demo", "1.0", {}, actor="alice")
    upload(registry, "alice", "demo", "1.0", "linux-64/demo-1.0-0.conda", labels=["main"])
    registry.transfer_package("alice", "demo", "acme", actor="alice")
    upload(registry, "acme", "demo", "1.0", "linux-64/demo-1.0-1.conda", labels=["main"], actor="acme")
    registry.create_release("acme", "demo", "2.0", {}, actor="acme")
    upload(registry, "acme", "demo", "2.0", "linux-64/demo-2.0-0.conda", actor="acme")
    registry.create_package("alice", "demo", public=True, public_attrs={}, actor="alice")
    before = dump(engine)
    assert len(before["files"]) == 3
    registry.rebuild_projections()
    assert dump(engine) == before


def test_a_page_of_the_log_reads_as_its_rows_do(registry, engine, monkeypatch):
    """``read_page`` (PostgreSQL writes the page's text, SQLite's rows are joined in Python) gives, through
    ``page_events``, exactly the events ``row_to_event`` reads from the rows, page after page: odd text in the
    envelope (quotes, backslashes, non-ASCII, no correlation id) and in the data (nesting, floats, big
    integers, escapes) included."""
    from services.kernel.events import Event
    from services.registry.adapters.event_log import EventLog, page_events, row_to_event
    rich_history(registry)
    odd = {"owner": "alice", "package": "demo", "attrs": {"q": 'he said "hi" \\ \u00e9\u4e2d\U0001f600',
                                                          "n": [1.5, -0.0, 10 ** 30, None, True, {}],
                                                          "nl": "a\nb\t\u0000"}}
    with engine.begin() as conn:
        last = conn.execute(select(events.c.sequence).where(events.c.stream_id == "alice")
                            .order_by(events.c.sequence.desc()).limit(1)).scalar()
        conn.execute(events.insert().values(
            event_id="e" * 32, stream_id="alice", sequence=last + 1, type="package_updated", version=1,
            occurred_at="2026-01-01T00:00:00.000Z", actor='o\'dd "actor" \\ \u00e9', correlation_id=None,
            data=json.dumps({"owner": "alice", "package": "demo", "changes": odd}, ensure_ascii=False)))
    with engine.connect() as conn:
        log = EventLog(conn)
        rows = log.read_log(0, 10_000)
        expected = [(r.position, row_to_event(r)) for r in rows]
        got, after = [], 0
        while (page := log.read_page(after, 7)) is not None:
            after, text = page
            got += page_events(text)
        assert after == rows[-1].position
        from services.registry.adapters import event_log
        sizes = [len(r.data.encode()) for r in rows]
        monkeypatch.setattr(event_log, "PAGE_BYTES", sum(sizes) // 5)   # pages also end by bytes: >= 1 event
        by_bytes, after, pages = [], 0, 0
        while (page := log.read_page(after, 1000)) is not None:
            after, text = page
            events_ = page_events(text)
            assert len(events_) == 1 or sum(sizes[len(by_bytes):len(by_bytes) + len(events_) - 1]) \
                < event_log.PAGE_BYTES
            by_bytes += events_
            pages += 1
        assert by_bytes == expected and pages >= 5
    assert got == expected and len(got) > 7
    assert all(isinstance(ev, Event) for _pos, ev in got)
    assert got[-1][1].actor == 'o\'dd "actor" \\ \u00e9' and got[-1][1].correlation_id is None


def test_data_that_is_not_one_json_value_fails_the_page():
    import pytest

    from services.registry.adapters.event_log import page_events
    envelope = '1,"file_uploaded","alice","alice",1,1,"e","2026-01-01T00:00:00Z",null,'
    assert len(page_events("[[" + envelope + '{"a": 1}]]')) == 1
    with pytest.raises(ValueError, match="not one JSON value"):
        page_events("[[" + envelope + '{"a": 1}, {"b": 2}]]')
    with pytest.raises(ValueError, match="not JSON"):
        page_events("[[" + envelope + '{"a": ]]')
