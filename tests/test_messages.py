"""The message transport (services/kernel/messages/, services/kernel/transport.py): one table per service from
which the nameko entrypoint, the gateway's RPC client and the embedded client are derived."""
from __future__ import annotations

import dataclasses
import inspect
import json
import typing

import pytest

from services.embedded import Embedded
from services.kernel.errors import BadRequest
from services.kernel.messages import JSON, Command, MessageTable, Query, auth, indexer, message, registry, storage
from services.kernel.settings import Settings
from services.kernel.transport import Handlers, client_class, envelope, local_client

TABLES = (auth.MESSAGES, registry.MESSAGES, storage.MESSAGES, indexer.MESSAGES)
ALL = [cls for t in TABLES for cls in t]


def _sample(annotation, nullable_as_none: bool):
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, __import__("types").UnionType):
        if nullable_as_none and type(None) in args:
            return None
        return _sample(next(a for a in args if a is not type(None)), nullable_as_none)
    if annotation is str:
        return "wharf-é"
    if annotation is bool:
        return True
    if annotation is int:
        return 7
    if annotation is float:
        return 3600
    if annotation is dict:
        return {"k": [1, "v", None, {"n": 2.5}]}
    if origin is list:
        return [_sample(args[0], False)]
    if origin is tuple:
        return (_sample(args[0], False),)
    if annotation is JSON:
        return {"a": [1, 2]}
    raise AssertionError(f"no sample for {annotation!r}")


def _build(cls, nullable_as_none: bool):
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _sample(hints[f.name], nullable_as_none) for f in dataclasses.fields(cls)})


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.operation)
@pytest.mark.parametrize("nullable_as_none", [False, True], ids=["values", "nones"])
def test_every_message_round_trips_through_its_wire_schema(cls, nullable_as_none):
    msg = _build(cls, nullable_as_none)
    wire = json.loads(json.dumps(envelope(msg, actor="alice", correlation_id="req-1")))
    assert wire["message"] == cls.operation and wire["actor"] == "alice" and wire["correlation_id"] == "req-1"
    assert cls.from_wire(wire["body"]) == msg
    assert msg.checked() == msg


def test_operation_names_are_unique_and_follow_the_class_names():
    for table in TABLES:
        assert len({c.operation for c in table}) == len(table)
        for cls in table:
            assert issubclass(cls, (Command, Query))
            assert cls.operation == "".join("_" + ch.lower() if ch.isupper() else ch for ch in cls.__name__)[1:]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    e = Embedded(Settings(data_dir=str(tmp_path_factory.mktemp("msg")), secret_key="s" * 32), start_threads=False)
    yield e
    e.stop()


def test_every_message_has_a_handler_that_takes_exactly_its_fields(embedded):
    """Handlers() checks each message against the facade method it reaches: the check runs at every start of
    every service (nameko_transport.MessageHandlers) and of the embedded mode."""
    for table, facade, collaborators in ((auth.MESSAGES, embedded.auth, ()),
                                         (registry.MESSAGES, embedded.registry, ("storage",)),
                                         (storage.MESSAGES, embedded.storage, ()),
                                         (indexer.MESSAGES, embedded.indexer, ())):
        handlers = Handlers(table, facade, collaborators=collaborators)
        for cls in table:
            params = inspect.signature(getattr(facade, cls.operation)).parameters
            fields = [f.name for f in dataclasses.fields(cls)]
            assert [p for p in params if p not in ("actor", "correlation_id", "each_page", *collaborators)] == fields
        assert handlers.table is table
    with pytest.raises(TypeError, match="commit_upload: the handler needs storage"):
        Handlers(registry.MESSAGES, embedded.registry)      # a collaborator nobody would pass


def test_a_handler_that_does_not_fit_its_message_stops_the_start():
    @message
    class Rename(Command):
        owner: str
        new_name: str

    table = MessageTable("demo", [Rename])

    class Missing:
        pass

    class TakesLess:
        def rename(self, owner):
            return owner

    class NeedsMore:
        def rename(self, owner, new_name, reason):
            return owner

    for target, why in ((Missing(), "no handler"), (TakesLess(), "takes no new_name"), (NeedsMore(), "needs reason")):
        with pytest.raises(TypeError, match=why):
            Handlers(table, target)


def test_envelopes_and_bodies_of_the_wrong_shape_are_bad_requests_never_crashes():
    @message
    class Greet(Query):
        login: str
        times: int = 1
        loud: bool = False

    seen = []

    class Target:
        def greet(self, login, times=1, loud=False, actor="system"):
            seen.append((login, times, loud, actor))
            return "hi"

    h = Handlers(MessageTable("demo", [Greet]), Target())
    assert h.handle({"message": "greet", "body": {"login": "ann"}, "actor": "bob"}) == "hi"
    assert seen == [("ann", 1, False, "bob")]
    bad = [
        "not an envelope", {"body": {}}, {"message": "nope", "body": {}},
        {"message": "greet", "body": {"login": 5}}, {"message": "greet", "body": {"login": "a", "times": "2"}},
        {"message": "greet", "body": {"login": "a", "times": True}},
        {"message": "greet", "body": {"login": "a", "loud": "yes"}},
        {"message": "greet", "body": {"login": "a", "loud": 1}}, {"message": "greet", "body": {"login": "a", "loud": 0.0}},
        {"message": "greet", "body": {"login": "a", "extra": 1}}, {"message": "greet", "body": []},
        {"message": "greet", "body": {}}, {"message": "greet", "body": {"login": "a"}, "actor": 5},
        {"message": "greet", "body": {"login": "a"}, "surprise": 1}, {"message": ["greet"], "body": {}},
    ]
    for payload in bad:
        with pytest.raises(BadRequest):
            h.handle(payload)
    assert len(seen) == 1


def test_clients_are_generated_from_the_table_with_the_messages_signatures():
    sent = []

    class Recorder:
        def send(self, message, *, actor=None, correlation_id=None):
            sent.append((message, actor, correlation_id))
            return "ok"

    client = client_class(registry.MESSAGES, Recorder)()
    assert client.copy_label("ann", "dev", "main", actor="ann") == "ok"
    assert sent == [(registry.CopyLabel("ann", "dev", "main"), "ann", None)]
    sig = inspect.signature(client.copy_label)
    assert list(sig.parameters) == ["owner", "from_label", "to_label", "actor", "correlation_id"]
    assert sig.parameters["actor"].kind is inspect.Parameter.KEYWORD_ONLY
    with pytest.raises(TypeError, match="copy_label"):
        client.copy_label("ann", "dev", "main", "ann")      # the actor is never positional
    assert not hasattr(client, "not_an_operation")


def test_the_embedded_client_loads_each_message_as_the_broker_side_would(embedded):
    """Same validation in both modes: a value that could not cross the broker is refused in-process too."""
    client = local_client(auth.MESSAGES, embedded.auth)
    with pytest.raises(BadRequest, match="login"):
        client.get_user(42)
    with pytest.raises(BadRequest, match="needs an actor"):
        client.list_groups("someorg")
    assert callable(local_client(storage.MESSAGES, embedded.storage).put_staging)   # in-process only


def test_each_nameko_service_has_one_rpc_entrypoint_for_its_messages_and_no_pass_throughs():
    from nameko.rpc import Rpc

    from services.auth.entrypoints.service import AuthRpc
    from services.indexer.entrypoints.service import IndexerRpc
    from services.registry.entrypoints.service import RegistryRpc
    from services.storage.entrypoints.service import StorageRpc
    for cls, table in ((AuthRpc, auth.MESSAGES), (RegistryRpc, registry.MESSAGES), (StorageRpc, storage.MESSAGES),
                       (IndexerRpc, indexer.MESSAGES)):
        rpcs = sorted(name for name, fn in inspect.getmembers(cls)
                      if any(isinstance(e, Rpc) for e in getattr(fn, "nameko_entrypoints", ())))
        assert rpcs == ["dispatch", "ping"], cls
        assert cls.messages is table


def test_the_gateways_booleans_are_json_booleans_only():
    """The API's bodies (gateway/schemas.py) take true/false only: ``1 in {True}`` let 1, 0 and 1.0 through."""
    from marshmallow import ValidationError

    from services.gateway.schemas import PackagePatchBody
    assert PackagePatchBody().load({"public": False})["public"] is False
    for value in (1, 0, 1.0, "true", "yes", None):
        with pytest.raises(ValidationError):
            PackagePatchBody().load({"public": value})
