"""Account administration (issue 15 items 13 and 18): password length and changes, disabling and deleting users,
web sessions that are not API tokens, deleting groups, and who sees which organizations of a user. On the real
facade, SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from services.kernel.errors import BadRequest, Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized

PW = "alice-password"


@pytest.fixture
def team(auth, alice, bob):
    """team: owned by alice; bob in its group ``devs`` (write, whole org); carol an outsider."""
    auth.create_user("carol", "carol-password")
    auth.create_org("team", "alice")
    auth.create_group("team", "devs", "write", "alice")
    auth.add_group_member("team", "devs", "bob", "alice")
    return "team"


# -------------------------------------------------------------------------------------------- password length
def test_new_passwords_need_the_minimum_length(settings, clock, hasher):
    from services.auth.bootstrap import bootstrap
    auth = bootstrap(settings, password_hasher=hasher, clock=clock)
    for short in ("", "x", "123456789"):
        with pytest.raises(BadRequest) as err:
            auth.create_user("carol", short)
        assert "10 characters" in err.value.message or "required" in err.value.message
    auth.create_user("carol", "1234567890")
    with pytest.raises(BadRequest):
        auth.set_password("carol", "too-short")
    with pytest.raises(BadRequest):
        auth.change_password("carol", "1234567890", "too-short")
    settings.min_password_length = 16                    # WHARF_MIN_PASSWORD_LENGTH
    strict = bootstrap(settings, password_hasher=hasher, clock=clock)
    with pytest.raises(BadRequest) as err:
        strict.create_user("dora", "fifteen-chars!!")
    assert "16 characters" in err.value.message
    assert strict.create_token("carol", "1234567890", "n")["token"]   # logging in with an older one still works


# -------------------------------------------------------------------------------------------- password changes
def test_an_administrator_resets_a_password_and_ends_web_sessions(auth, alice):
    api = auth.create_token("alice", PW, "ci")["token"]
    session = auth.create_session("alice", PW, 3600)["session"]
    assert auth.set_password("alice", "brand-new-password") == {"login": "alice", "sessions_revoked": 1}
    with pytest.raises(Unauthorized):
        auth.create_token("alice", PW, "n")
    assert auth.create_token("alice", "brand-new-password", "n")["token"]
    with pytest.raises(Unauthorized):
        auth.authenticate_session(session)
    assert auth.authenticate(api)["login"] == "alice"         # API tokens stay: revoke them by name if leaked
    with pytest.raises(BadRequest):
        auth.set_password("alice", "")
    with pytest.raises(NotFound):
        auth.set_password("nobody", "brand-new-password")


def test_a_user_changes_their_password_keeping_this_browser(auth, alice, team):
    here = auth.create_session("alice", PW, 3600)
    there = auth.create_session("alice", PW, 3600)
    with pytest.raises(Unauthorized):
        auth.change_password("alice", "not-my-password", "another-password-1")
    out = auth.change_password("alice", PW, "another-password-1", remote_addr="10.0.0.1", keep_session=here["id"])
    assert out == {"login": "alice", "sessions_revoked": 1}
    assert auth.authenticate_session(here["session"])["login"] == "alice"
    with pytest.raises(Unauthorized):
        auth.authenticate_session(there["session"])
    assert auth.authenticate_password("alice", "another-password-1")["login"] == "alice"
    with pytest.raises(Unauthorized):
        auth.change_password("team", "", "another-password-1")     # an organization has no password


def test_wrong_current_passwords_are_rate_limited(settings, clock, hasher):
    from services.auth.bootstrap import bootstrap
    settings.login_backoff_after = 3
    auth = bootstrap(settings, password_hasher=hasher, clock=clock)
    auth.create_user("alice", PW)
    for _ in range(3):
        with pytest.raises(Unauthorized):
            auth.change_password("alice", "guess-guess", "another-password-1", remote_addr="10.0.0.9")
    with pytest.raises(TooManyRequests):
        auth.change_password("alice", PW, "another-password-1", remote_addr="10.0.0.9")


# ---------------------------------------------------------------------------------------------- web sessions
def test_web_sessions_are_not_api_tokens(auth, alice):
    session = auth.create_session("alice", PW, 3600, remote_addr="10.0.0.1", user_agent="Firefox")
    assert session["session"].startswith("ws-") and session["user"] == "alice"
    principal = auth.authenticate_session(session["session"])
    assert principal["login"] == "alice" and principal["scopes"] == ["all"] and principal["token_id"] == session["id"]
    for use in (auth.authenticate, auth.token_info, auth.revoke_token):
        with pytest.raises(Unauthorized):
            use(session["session"])                          # a leaked cookie is no token for conda or curl
    api = auth.create_token("alice", PW, "ci")["token"]
    with pytest.raises(Unauthorized):
        auth.authenticate_session(api)                       # and an API token is no browser session
    notes = {t["note"] for t in auth.list_tokens("alice")}
    assert any(n.startswith("web-session-") for n in notes)  # listed, so it can be revoked by name
    auth.end_session(session["session"])
    with pytest.raises(Unauthorized):
        auth.authenticate_session(session["session"])
    with pytest.raises(BadRequest):                           # that name belongs to sessions
        auth.create_token("alice", PW, "web-session-forged")


def test_sessions_are_stored_as_digests(auth, alice, db):
    session = auth.create_session("alice", PW, 3600)["session"]
    with db.connect() as c:
        rows = [tuple(str(v) for v in r) for r in c.execute(text("SELECT * FROM tokens"))]
    assert rows and not any(session in v or session[3:] in v for r in rows for v in r)


# ---------------------------------------------------------------------------------------------- disabling
def test_a_disabled_user_cannot_log_in_and_every_token_is_refused(auth, alice, team):
    api = auth.create_token("alice", PW, "ci")["token"]
    org_token = auth.create_token("alice", PW, "org-ci", org="team")["token"]
    session = auth.create_session("alice", PW, 3600)["session"]
    assert auth.disable_user("alice")["state"] == "disabled"
    for token in (api, org_token):
        with pytest.raises(Unauthorized):
            auth.authenticate(token)
    with pytest.raises(Unauthorized):
        auth.authenticate_session(session)
    for login in (lambda: auth.create_token("alice", PW, "again"), lambda: auth.authenticate_password("alice", PW),
                  lambda: auth.create_session("alice", PW, 60)):
        with pytest.raises(Unauthorized):
            login()
    assert [u["state"] for u in auth.list_users() if u["login"] == "alice"] == ["disabled"]
    assert auth.get_user("alice")["login"] == "alice"          # the namespace stays
    auth.enable_user("alice")
    assert auth.authenticate(api)["login"] == "alice"          # API tokens work again
    assert auth.authenticate(org_token)["org"] == "team"
    with pytest.raises(Unauthorized):
        auth.authenticate_session(session)                     # the browser signs in again
    with pytest.raises(BadRequest):
        auth.disable_user("team")                              # organizations have no login


# ----------------------------------------------------------------------------------------------- deleting
def test_deleting_a_user_revokes_tokens_removes_memberships_and_reserves_the_name(auth, alice, team, db):
    auth.create_user("dora", "dora-password")
    auth.add_org_owner("team", "bob")
    auth.add_group_member("team", "devs", "dora", "alice")
    token = auth.create_token("bob", "bob-password", "ci")["token"]
    out = auth.delete_user("bob")
    assert out["state"] == "deleted" and out["tokens_revoked"] == 1 and out["memberships_removed"] == 2
    with pytest.raises(Unauthorized):
        auth.authenticate(token)
    with pytest.raises(Unauthorized):
        auth.create_token("bob", "bob-password", "again")
    with pytest.raises(NotFound):
        auth.get_user("bob")
    assert [m["login"] for m in auth.group_members("team", "devs", "alice")] == ["dora"]
    assert auth.org_members("team") == ["alice", "dora"]
    assert auth.access("bob", "team") is None
    assert "bob" not in [u["login"] for u in auth.list_users()]
    with pytest.raises(Conflict):
        auth.create_user("bob", "bob-password-2")               # the name stays reserved
    with pytest.raises(NotFound):
        auth.delete_user("bob")
    with db.connect() as c:
        row = c.execute(text("SELECT password_hash, email, deleted_at FROM accounts WHERE login='bob'")).one()
    assert row[0] is None and row[1] is None and row[2] is not None


def test_the_only_owner_of_an_organization_is_not_deleted(auth, alice, team):
    with pytest.raises(Conflict) as err:
        auth.delete_user("alice")
    assert "team" in err.value.message and "add-owner" in err.value.message
    assert auth.get_user("alice")["login"] == "alice"
    auth.add_org_owner("team", "carol")
    auth.delete_user("alice")
    assert [o["owners"] for o in auth.list_orgs() if o["login"] == "team"] == [["carol"]]


# ------------------------------------------------------------------------------------------------- groups
def test_deleting_a_group_removes_its_grants_at_once(auth, team):
    assert auth.access("bob", "team") == "write"
    with pytest.raises(Forbidden):
        auth.delete_group("team", "devs", "bob")               # members are not admins
    with pytest.raises(Forbidden):
        auth.delete_group("team", "devs", "carol")
    with pytest.raises(NotFound):
        auth.delete_group("team", "nope", "alice")
    with pytest.raises(NotFound):
        auth.delete_group("alice", "devs", "alice")            # a user has no groups
    auth.delete_group("team", "DEVS", "alice")
    assert auth.access("bob", "team") is None
    assert auth.list_groups("team", "alice") == []
    assert auth.visible_scope("bob") == {"owners": ["bob"], "packages": []}
    auth.create_group("team", "devs", "read", "alice")         # the name can be used again: nothing left over
    assert auth.group_members("team", "devs", "alice") == []


# -------------------------------------------------------------------------------------- organizations shown
def test_who_sees_which_organizations_of_a_user(auth, team):
    auth.create_org("other", "carol")
    auth.create_group("other", "readers", "read", "carol")
    auth.add_group_member("other", "readers", "alice", "carol")
    auth.create_org("owned", "bob")
    names = lambda viewer, login="bob": [o["login"] for o in auth.visible_orgs(login, viewer)]  # noqa: E731
    assert names(None) == ["owned"]                  # anonymous: ownerships only (team is a group membership)
    assert names("carol") == ["owned"]               # an outsider of team: the same
    assert names("bob") == ["owned", "team"]         # the user: everything
    assert names("alice") == ["owned", "team"]       # a member (here the owner) of team: team too
    assert names(None, "alice") == ["team"]          # alice owns team; her group membership of other is hidden
    assert names("carol", "alice") == ["other", "team"]
    with pytest.raises(NotFound):
        auth.visible_orgs("nobody", None)


def test_administrators_list_users_and_organizations(auth, team):
    users = {u["login"]: u for u in auth.list_users()}
    assert set(users) == {"alice", "bob", "carol"}
    assert users["alice"]["state"] == "active" and users["alice"]["orgs"] == ["team"]
    assert users["alice"]["email"] == "alice@example.org"
    orgs = auth.list_orgs()
    assert orgs == [dict(orgs[0], login="team", owners=["alice"], groups=["devs"])]


def test_web_sign_ins_of_an_older_wharf_become_sessions(db_url):
    """Migration 0003: web sign-in tokens an older Wharf kept in the cookie in plaintext stop working as API
    tokens; other tokens are untouched."""
    from services.auth.adapters.schema import SCHEMA
    from services.kernel.adapters.db import make_engine
    from services.kernel.adapters.migrations import upgrade
    engine = make_engine(db_url)
    try:
        upgrade(engine, SCHEMA, "0002")
        with engine.begin() as c:
            c.execute(text("INSERT INTO accounts (login, user_type, created_at) VALUES ('ann', 'user', "
                           "'2026-01-01 00:00:00')"))
            for i, note in enumerate(("web-session-0a1b2c", "anaconda-client")):
                c.execute(text("INSERT INTO tokens (id, digest, login, holder, note, scopes, created_at) VALUES "
                               "(:i, :d, 'ann', 'ann', :n, '[\"all\"]', '2026-01-01 00:00:00')"),
                          {"i": f"id{i}", "d": f"digest{i}", "n": note})
        upgrade(engine, SCHEMA)
        with engine.connect() as c:
            kinds = dict(c.execute(text("SELECT note, kind FROM tokens")).all())
            states = c.execute(text("SELECT disabled_at, deleted_at FROM accounts")).one()
    finally:
        engine.dispose()
    assert kinds == {"web-session-0a1b2c": "session", "anaconda-client": "api"}
    assert tuple(states) == (None, None)
