"""Commands and queries as small typed messages: one definition per operation a service offers.

A message is a frozen dataclass. Its fields are the operation's arguments and their annotations are its wire
schema: ``Message.schema()`` derives a marshmallow schema from them (``str``, ``int``, ``bool``, ``float``,
``dict``, ``list[str]``, ``tuple[str, ...]``, ``X | None``, ``JSON``), which refuses unknown keys and values of
the wrong type. Who acts and which request caused it are not fields: they travel in the envelope
(``services.kernel.transport``), beside the message.

Each service's messages live in a module of this package (``auth``, ``registry``, ``storage``, ``indexer``) and
are collected in a ``MessageTable``: the one list from which the nameko entrypoint, the gateway's RPC client and
the embedded in-process client are all derived (``services.kernel.transport``), and which is checked at start
against the service's handlers. A message's wire name is its class attribute ``operation`` (``GetPackage`` ->
``get_package``).

- ``Command``: changes state. ``Query``: reads, changes nothing.
- A handler that takes ``actor`` (commands that record who acted; the auth group operations, which check the
  actor's rights) gets the envelope's; one that takes ``correlation_id`` gets the envelope's, else the caller's
  context's.
"""
from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from typing import Any, ClassVar, Iterable, Union

from marshmallow import RAISE, Schema, ValidationError, fields, post_load

from ..errors import BadRequest

JSON = typing.NewType("JSON", object)   # any JSON value (the receiving handler validates its shape)


class StrictBoolean(fields.Boolean):
    """``true``/``false`` only (marshmallow's Boolean also takes "yes", "on", 1...; and ``1 in {True}``, so a
    truthy set alone lets 1, 0 and 1.0 through)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class StrictString(fields.String):
    """A JSON string only (marshmallow's String already refuses numbers; this also refuses bytes)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return value


class Number(fields.Field):
    """An int or a float, kept as sent (marshmallow's Float would turn 3600 into 3600.0)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("Not a valid number.")
        return value


class AnyJSON(fields.Raw):
    """A JSON value: None, str, int, float, bool, or lists/dicts of them."""

    def _deserialize(self, value, attr, data, **kwargs):
        stack = [value]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                if not all(isinstance(k, str) for k in v):
                    raise ValidationError("Object keys must be strings.")
                stack.extend(v.values())
            elif isinstance(v, (list, tuple)):
                stack.extend(v)
            elif v is not None and not isinstance(v, (str, int, float, bool)):
                raise ValidationError("Not a JSON value.")
        return value


def _optional(annotation) -> tuple[Any, bool]:
    """(the annotation without None, whether None is allowed)."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != len(typing.get_args(annotation)):
            return (args[0] if len(args) == 1 else Union[tuple(args)]), True
    return annotation, False


def _field_for(annotation, **kw) -> fields.Field:
    annotation, nullable = _optional(annotation)
    kw = {**kw, "allow_none": nullable or kw.get("allow_none", False)}
    origin = typing.get_origin(annotation)
    if annotation is str:
        return StrictString(**kw)
    if annotation is bool:
        return StrictBoolean(**kw)
    if annotation is int:
        return fields.Integer(strict=True, **kw)
    if annotation is float:
        return Number(**kw)
    if annotation is dict or origin is dict:
        return fields.Dict(keys=fields.String(), values=AnyJSON(allow_none=True), **kw)
    if origin in (list, tuple) or annotation in (list, tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        inner = _field_for(args[0]) if args else AnyJSON(allow_none=True)
        return fields.List(inner, **kw)
    if annotation is JSON or annotation is Any:
        return AnyJSON(**{**kw, "allow_none": True})
    raise TypeError(f"no wire field for the annotation {annotation!r}")


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _wire_name(cls_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls_name).lower()


class Message:
    """Base of commands and queries. Subclasses are frozen dataclasses (``@message``)."""
    kind: ClassVar[str] = "message"
    operation: ClassVar[str]

    @classmethod
    @functools.cache
    def schema(cls) -> Schema:
        hints = typing.get_type_hints(cls)
        declared = {}
        tuples = []
        for f in dataclasses.fields(cls):
            kw = {}
            if f.default is not dataclasses.MISSING:
                kw["load_default"] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                kw["load_default"] = f.default_factory
            else:
                kw["required"] = True
            declared[f.name] = _field_for(hints[f.name], **kw)
            base, _ = _optional(hints[f.name])
            if base is tuple or typing.get_origin(base) is tuple:
                tuples.append(f.name)

        def make(self, data, **_):
            for name in tuples:
                if data.get(name) is not None:
                    data[name] = tuple(data[name])
            return cls(**data)

        body = dict(declared, Meta=type("Meta", (), {"unknown": RAISE}), make=post_load(make))
        return type(f"{cls.__name__}Schema", (Schema,), body)()

    def to_wire(self) -> dict:
        """The message's body as JSON-ready values, checked against its schema first (BadRequest: a field holds a
        value of the wrong type, so the message would not load on the other side)."""
        body = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        self.from_wire(body)
        return body

    def checked(self) -> "Message":
        """This message as the receiving side loads it (what the in-process client hands the handler, so the
        embedded mode sees exactly the values the distributed one does)."""
        return self.from_wire({f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)})

    @classmethod
    def from_wire(cls, body) -> "Message":
        if not isinstance(body, dict):
            raise BadRequest(f"{cls.operation}: the message body is not an object")
        try:
            return cls.schema().load(body)
        except ValidationError as exc:
            raise BadRequest(f"{cls.operation}: invalid message: {exc.messages}") from None


class Command(Message):
    kind: ClassVar[str] = "command"


class Query(Message):
    kind: ClassVar[str] = "query"


def message(cls):
    """Make ``cls`` (a Command or Query subclass) a frozen dataclass named by its operation's wire name."""
    cls = dataclasses.dataclass(frozen=True)(cls)
    cls.operation = _wire_name(cls.__name__)
    cls.schema()   # refuses a field type with no wire form now, at import, not at the first call
    return cls


class MessageTable:
    """A service's messages by wire name, plus the operations that exist only in-process (byte streams, which
    never cross the broker: presigned URLs carry them in distributed mode)."""

    def __init__(self, service: str, messages: Iterable[type[Message]], in_process_only: Iterable[str] = ()):
        self.service = service
        self.by_name: dict[str, type[Message]] = {}
        for m in messages:
            if m.operation in self.by_name:
                raise TypeError(f"{service}: two messages named {m.operation}")
            self.by_name[m.operation] = m
        self.in_process_only = tuple(in_process_only)

    def __iter__(self):
        return iter(self.by_name.values())

    def __len__(self) -> int:
        return len(self.by_name)

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def get(self, name) -> type[Message]:
        if not isinstance(name, str) or name not in self.by_name:
            raise BadRequest(f"the {self.service} service has no operation {str(name)[:64]!r}")
        return self.by_name[name]


def collect(module_globals: dict) -> list[type[Message]]:
    """Every message class defined in a module, in definition order."""
    return [v for v in module_globals.values()
            if isinstance(v, type) and issubclass(v, Message) and v not in (Message, Command, Query)
            and dataclasses.is_dataclass(v)]
