"""How a message travels: the envelope, the service side's dispatch, and the clients derived from a table.

One ``MessageTable`` per service (``services.kernel.messages``) gives every transport:

- ``Handlers(table, facade)``: the service side. Binds each message to its handler (the facade's method of the
  same name), checked once when built: a handler must take every field of its message and need nothing else
  but ``actor``/``correlation_id``, so the message and the code it reaches cannot drift apart unnoticed.
  ``handle(envelope)`` loads and validates a wire envelope (BadRequest otherwise) and runs the handler;
  ``run(message, actor, correlation_id)`` runs an already-built message.
- ``client_class(table, base)``: a client class with one method per message, named as the message, taking the
  message's fields (positionally or by name) and the keyword-only ``actor`` and ``correlation_id``; each builds
  the message and hands it to ``base.send``. ``LocalClient`` (embedded mode) sends to ``Handlers`` in the same
  process, after loading the message as the other side of a broker would; the gateway's RPC client
  (``services/gateway/adapters/rpc.py``) and the nameko entrypoints (``services/nameko_transport.py``) carry the
  same envelope over RabbitMQ.

Envelope: ``{"message": <wire name>, "body": {<fields>}, "actor": <login> | None, "correlation_id": <id> | None}``.
"""
from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable

from . import context
from .errors import BadRequest
from .messages import Message, MessageTable

ENVELOPE_KEYS = frozenset({"message", "body", "actor", "correlation_id"})
_ENVELOPE_ARGS = ("actor", "correlation_id")


def envelope(message: Message, actor: str | None = None, correlation_id: str | None = None) -> dict:
    return {"message": message.operation, "body": message.to_wire(), "actor": actor,
            "correlation_id": correlation_id if correlation_id is not None else context.current()}


def operation_name(table: MessageTable, payload) -> str:
    """The message an envelope names if the table knows it, else ``unknown`` (a bounded metrics label)."""
    name = payload.get("message") if isinstance(payload, dict) else None
    return name if isinstance(name, str) and name in table else "unknown"


@dataclasses.dataclass(frozen=True)
class _Route:
    handler: Callable
    fields: tuple[str, ...]
    takes_actor: bool
    needs_actor: bool
    takes_correlation_id: bool
    collaborators: tuple[str, ...]


class Handlers:
    """The messages of ``table`` bound to their handlers: ``handlers[name]`` when given, else ``target``'s method
    of the message's name. Raises TypeError at once when a handler is missing or does not fit its message.

    ``collaborators`` names the other services a handler may take as a parameter of that name (the registry's
    ``commit_upload`` takes ``storage``): whoever runs the message passes a client of that service with it
    (the nameko entrypoint one speaking through its worker's proxy, the embedded mode an in-process client)."""

    def __init__(self, table: MessageTable, target: Any = None, handlers: dict[str, Callable] | None = None,
                 collaborators: tuple[str, ...] = ()):
        self.table = table
        self.target = target
        self.collaborators = tuple(collaborators)
        self._routes: dict[str, _Route] = {}
        handlers = handlers or {}
        for cls in table:
            fn = handlers.get(cls.operation) or getattr(target, cls.operation, None)
            if fn is None or not callable(fn):
                raise TypeError(f"{table.service}: no handler for the message {cls.operation}")
            self._routes[cls.operation] = _route(table.service, cls, fn, self.collaborators)
        for name in table.in_process_only:
            if not callable(getattr(target, name, None)):
                raise TypeError(f"{table.service}: the in-process operation {name} is missing")

    def handle(self, payload, collaborators: dict | None = None) -> Any:
        """Run a wire envelope (from the broker): BadRequest if it is not one of this table's messages, well
        formed."""
        if not isinstance(payload, dict) or set(payload) - ENVELOPE_KEYS or "message" not in payload:
            raise BadRequest(f"not a message envelope for the {self.table.service} service")
        cls = self.table.get(payload["message"])
        actor, cid = payload.get("actor"), payload.get("correlation_id")
        for what, value in (("actor", actor), ("correlation_id", cid)):
            if value is not None and (not isinstance(value, str) or len(value) > 256):
                raise BadRequest(f"{cls.operation}: the envelope's {what} is not a string")
        return self.run(cls.from_wire(payload.get("body", {})), actor, cid, collaborators)

    def run(self, message: Message, actor: str | None = None, correlation_id: str | None = None,
            collaborators: dict | None = None) -> Any:
        route = self._routes.get(message.operation)
        if route is None or type(message) is not self.table.by_name[message.operation]:
            raise BadRequest(f"the {self.table.service} service has no operation {message.operation!r}")
        kwargs = {name: getattr(message, name) for name in route.fields}
        if route.takes_actor and actor is not None:
            kwargs["actor"] = actor
        elif route.needs_actor:
            raise BadRequest(f"{message.operation} needs an actor")
        if route.takes_correlation_id:
            kwargs["correlation_id"] = correlation_id if correlation_id is not None else context.current()
        for name in route.collaborators:
            if not collaborators or name not in collaborators:
                raise TypeError(f"{message.operation} needs a {name} client, which its caller did not pass")
            kwargs[name] = collaborators[name]
        if correlation_id is not None and correlation_id != context.current():
            with context.correlated(correlation_id):
                return route.handler(**kwargs)
        return route.handler(**kwargs)


def _route(service: str, cls: type[Message], fn: Callable, collaborators: tuple[str, ...]) -> _Route:
    params = inspect.signature(fn).parameters
    fields = tuple(f.name for f in dataclasses.fields(cls))
    missing = [n for n in fields if n not in params]
    if missing:
        raise TypeError(f"{service}.{cls.operation}: the handler takes no {', '.join(missing)}")
    extra = [n for n, p in params.items()
             if n not in fields and n not in _ENVELOPE_ARGS and n not in collaborators
             and p.default is inspect.Parameter.empty
             and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if extra:
        raise TypeError(f"{service}.{cls.operation}: the handler needs {', '.join(extra)}, which the message lacks")
    actor = params.get("actor")
    return _Route(fn, fields, actor is not None, actor is not None and actor.default is inspect.Parameter.empty,
                  "correlation_id" in params, tuple(n for n in collaborators if n in params))


def _client_method(service: str, cls: type[Message]) -> Callable:
    def call(self, *args, actor: str | None = None, correlation_id: str | None = None, **kwargs):
        try:
            message = cls(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{service}.{cls.operation}: {exc}") from None
        return self.send(message, actor=actor, correlation_id=correlation_id)

    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else inspect.Parameter.empty
        params.append(inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default))
    params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None) for n in _ENVELOPE_ARGS]
    call.__signature__ = inspect.Signature(params)
    call.__name__ = call.__qualname__ = cls.operation
    call.__doc__ = f"Send ``{cls.__name__}`` ({cls.kind}) to the {service} service."
    return call


def client_class(table: MessageTable, base: type) -> type:
    """``base`` (which defines ``send(message, *, actor, correlation_id)``) with one method per message."""
    methods = {cls.operation: _client_method(table.service, cls) for cls in table}
    return type(f"{table.service.capitalize()}{base.__name__}", (base,), {**methods, "table": table})


class LocalClient:
    """The in-process client (embedded mode): the message is loaded as the receiving service would load it from
    the broker (same validation, same values), then run by the service's ``Handlers`` in this thread. The
    table's in-process-only operations (byte streams) call the facade directly."""

    table: MessageTable

    def __init__(self, handlers: Handlers, collaborators: dict | None = None):
        self._handlers = handlers
        self._collaborators = dict(collaborators or {})
        for name in handlers.table.in_process_only:
            setattr(self, name, getattr(handlers.target, name))

    def send(self, message: Message, *, actor: str | None = None, correlation_id: str | None = None):
        return self._handlers.run(message.checked(), actor, correlation_id, self._collaborators)


def local_client(table: MessageTable, target: Any, **collaborators) -> LocalClient:
    """The in-process client of ``target``'s messages; ``collaborators``: the clients of other services its
    handlers take (``storage=local_client(storage.MESSAGES, ...)``)."""
    handlers = Handlers(table, target, collaborators=tuple(collaborators))
    return client_class(table, LocalClient)(handlers, collaborators)
