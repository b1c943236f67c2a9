"""The nameko entrypoint over RabbitMQ: ``nameko run`` as a real subprocess on PostgreSQL, called through
the message transport (tests/helpers/rpc.py); domain errors arrive as RemoteError carrying the error's class name."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from services.kernel import signing
from services.kernel.adapters.db import make_engine
from services.kernel.errors import Unauthorized, from_remote

pytestmark = pytest.mark.processes   # starts processes (see pyproject.toml's markers)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "entrypoint-test-secret"


def _wait_until_answering(config, proc, log_path, deadline=90.0):
    from nameko.exceptions import RemoteError, UnknownService
    from tests.helpers.rpc import MessageProxy
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"nameko run exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            with MessageProxy(config, timeout=5) as rpc:
                rpc.auth.get_user("nobody")
        except RemoteError as exc:
            if exc.exc_type == "NotFound":
                return
            raise
        except (UnknownService, Exception):  # queue not declared yet, reply timeout while starting
            time.sleep(0.5)
    pytest.fail(f"the auth service did not answer within {deadline}s:\n{log_path.read_text()[-4000:]}")


@pytest.fixture
def auth_rpc_service(amqp_vhost_uri, pg_url, tmp_path):
    env = dict(os.environ,  # no metrics endpoint: a port in use would stop the service
               WHARF_METRICS_PORT="0", WHARF_MODE="distributed", WHARF_SECRET_KEY=SECRET, WHARF_AUTH_DB_URL=pg_url,
               WHARF_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT))
    log_path = tmp_path / "nameko.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "services.nameko_main", "run",
                                 "services.auth.entrypoints.service:AuthRpc",
                                 "--broker", amqp_vhost_uri], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    config = {"AMQP_URI": amqp_vhost_uri}
    try:
        _wait_until_answering(config, proc, log_path)
        yield config
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_auth_over_rabbitmq(auth_rpc_service, pg_url):
    from nameko.exceptions import RemoteError
    from tests.helpers.rpc import MessageProxy

    with MessageProxy(auth_rpc_service, timeout=30) as rpc:
        user = rpc.auth.create_user("Alice", "pw-alice-12345", email="alice@example.org")
        assert user["login"] == "alice" and user["created_at"].endswith("+00:00")
        created = rpc.auth.create_token("alice", "pw-alice-12345", "laptop", max_age=3600, hostname="vm")
        token = created["token"]
        assert created["expires"].endswith("+00:00")
        principal = rpc.auth.authenticate(token)
        assert principal == {"login": "alice", "token_id": created["id"], "scopes": created["scopes"],
                             "org": None, "expires": created["expires"]}
        assert rpc.auth.access("alice", "alice") == "admin"

        with pytest.raises(RemoteError) as info:
            rpc.auth.authenticate("wt-" + "0" * 48)
        assert info.value.exc_type == "Unauthorized"
        assert isinstance(from_remote(info.value.exc_type, info.value.value), Unauthorized)

        with pytest.raises(RemoteError) as info:
            rpc.auth.create_token("alice", "wrong", "laptop")
        assert info.value.exc_type == "Unauthorized"
        assert "invalid username or password" in info.value.value

        with pytest.raises(RemoteError) as info:
            rpc.auth.create_token("alice", "pw-alice-12345", "laptop", fail_if_exists=True)
        assert info.value.exc_type == "BadRequest"

        rpc.auth.revoke_token(token)
        with pytest.raises(RemoteError) as info:
            rpc.auth.authenticate(token)
        assert info.value.exc_type == "Unauthorized"

    # the service wrote to the PostgreSQL database it was given, and stored only the token's digest
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            digest = conn.execute(text("SELECT digest FROM tokens WHERE id = :i"), {"i": created["id"]}).scalar_one()
            hashed = conn.execute(text("SELECT password_hash FROM accounts WHERE login = 'alice'")).scalar_one()
    finally:
        engine.dispose()
    assert digest == signing.token_digest(SECRET, token)
    assert hashed.startswith("$argon2id$")


def test_groups_over_rabbitmq(auth_rpc_service):
    from nameko.exceptions import RemoteError
    from tests.helpers.rpc import MessageProxy

    with MessageProxy(auth_rpc_service, timeout=30) as rpc:
        rpc.auth.create_user("alice", "pw-alice-12345")
        rpc.auth.create_user("bob", "pw-bob-12345")
        rpc.auth.create_org("team", "alice")
        assert rpc.auth.create_group("team", "Devs", "write", actor="alice") == {
            "name": "devs", "org": "team", "perms": "write", "members_count": 0, "packages": [],
            "full_name": "team/devs"}
        assert rpc.auth.add_group_member("team", "devs", "bob", actor="alice") is None
        rpc.auth.add_group_package("team", "devs", "numpy", actor="alice")
        assert rpc.auth.is_group_member("team", "devs", "bob") is True
        assert rpc.auth.access("bob", "team") is None
        assert rpc.auth.access("bob", "team", "numpy") == "write"
        assert rpc.auth.access("bob", "team", package="numpy") == "write"
        assert rpc.auth.grants("bob", "team") == {"all": None, "packages": {"numpy": "write"}}
        assert rpc.auth.visible_scope("bob") == {"owners": ["bob"], "packages": [["team", "numpy"]]}
        assert rpc.auth.org_members("team") == ["alice", "bob"]

        with pytest.raises(RemoteError) as info:
            rpc.auth.create_group("team", "mine", "read", actor="bob")
        assert info.value.exc_type == "Forbidden"
        with pytest.raises(RemoteError) as info:
            rpc.auth.get_group("team", "missing", actor="alice")
        assert info.value.exc_type == "NotFound"
