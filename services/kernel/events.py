"""Versioned, immutable events and their wire schemas.

Every event is an ``Event`` envelope: ``type`` (past tense), ``version`` (of the data schema), ``event_id``
(uuid4 hex), ``stream_id`` (the owner namespace the event belongs to), ``sequence`` (1, 2, 3... per stream,
assigned by the registry's log), ``occurred_at`` (ISO 8601 UTC), ``actor`` (login or ``system``),
``correlation_id`` (the HTTP request that caused it) and ``data``, validated by the schema registered for
(type, version). Old versions are upcast on load so consumers only ever see the newest shape; a version newer
than this code knows (written by newer code) is refused (``NewerVersion``), never loaded with an older schema.

On the wire an event is the JSON object produced by ``Event.to_wire()``; ``Event.from_wire()`` validates it.
"""
from __future__ import annotations

import dataclasses
import functools
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing, validate

from . import context, strict_json
from .errors import BadRequest


class NewerVersion(BadRequest):
    """An event of a version newer than this code's schema of its type: newer code wrote it, and loading it with
    the older schema would drop or misread what changed. Consumers must leave it unapplied (the indexer parks it
    and stops its stream there) until code that knows the version runs."""
    code = "NewerEventVersion"


def utcnow_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclasses.dataclass(frozen=True)
class Event:
    type: str
    data: dict
    stream_id: str
    actor: str = "system"
    sequence: int = 0
    version: int = 1
    event_id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: str = dataclasses.field(default_factory=utcnow_iso)
    correlation_id: str | None = None

    def with_sequence(self, sequence: int) -> "Event":
        return dataclasses.replace(self, sequence=sequence)

    def to_wire(self) -> dict:
        """What ``EnvelopeSchema().dump(self)`` gives (same keys, order and types), built directly: replay and
        the relay turn every event of the log into this."""
        return {"type": str(self.type), "version": int(self.version), "event_id": str(self.event_id),
                "stream_id": str(self.stream_id), "sequence": int(self.sequence),
                "occurred_at": str(self.occurred_at), "actor": str(self.actor),
                "correlation_id": None if self.correlation_id is None else str(self.correlation_id),
                "data": dict(self.data)}

    @classmethod
    def from_wire(cls, payload: dict) -> "Event":
        try:
            env = _schema(EnvelopeSchema).load(payload)
        except ValidationError as exc:
            raise BadRequest(f"invalid event envelope: {exc.messages}")
        env["data"], env["version"] = _load_data(env["type"], env["version"], env["data"])
        return cls(**env)

    def from_log(self) -> "Event":
        """This event as read back from the registry's own log: what ``from_wire`` gives for it (upcast,
        defaults filled, unknown keys dropped, data validated). Replay reads every event of the log through
        this, so it does not validate again what needs no change: the envelope comes from typed, constrained
        columns, and data of the current version whose keys are those a load of it returns (no key unknown to
        the schema, every key a load fills present) is what the registry itself dumped after validating it
        (``Event.new``), taken as it is. Anything else (an older version, a key added to or dropped from the
        schema since, data of another shape) is upcast and loaded by the schema."""
        shape = _shape(DATA_SCHEMAS[self.type]) if CURRENT_VERSION.get(self.type) == self.version else None
        if shape is not None and shape[1] <= self.data.keys() <= shape[0]:
            return self
        data, version = _load_data(self.type, self.version, self.data)
        return dataclasses.replace(self, data=data, version=version)

    @classmethod
    def new(cls, type: str, stream_id: str, data: dict, actor: str = "system",
            correlation_id: str | None = None) -> "Event":
        """Create an event, validating ``data`` against the schema of its type (raises BadRequest). Without a
        ``correlation_id`` the current one (``context``: the request being served) is recorded."""
        schema = DATA_SCHEMAS.get(type)
        if schema is None:
            raise BadRequest(f"unknown event type {type!r}")
        try:
            clean = _schema(schema).load(data)
        except ValidationError as exc:
            raise BadRequest(f"invalid {type} event: {exc.messages}")
        dumped = _schema(schema).dump(clean)
        try:
            strict_json.check(dumped)       # the log is JSON every reader can parse (PostgreSQL's too)
        except ValueError as exc:
            raise BadRequest(f"invalid {type} event: {exc}")
        return cls(type=type, data=dumped, stream_id=stream_id, actor=actor,
                   version=CURRENT_VERSION[type], correlation_id=correlation_id or context.current())


def _load_data(etype: str, version: int, data: dict) -> tuple[dict, int]:
    """Upcast ``data`` of ``etype`` from ``version`` to the current one and validate it (``NewerVersion`` for a
    version after the current one)."""
    check_version(etype, version)
    while (etype, version) in UPCASTERS:
        data = UPCASTERS[(etype, version)](data)
        version += 1
    schema = DATA_SCHEMAS.get(etype)
    if schema is None:
        raise BadRequest(f"unknown event type {etype!r}")
    try:
        return _schema(schema).load(data), version
    except ValidationError as exc:
        raise BadRequest(f"invalid {etype} event: {exc.messages}")


def check_version(etype: str, version: int) -> None:
    """``NewerVersion`` when ``version`` of ``etype`` (a known type) is newer than this code's."""
    current = CURRENT_VERSION.get(etype)
    if current is not None and version > current:
        raise NewerVersion(f"{etype} event of version {version}: this code knows up to version {current}")


@functools.lru_cache(maxsize=None)
def _schema(cls: type) -> Schema:
    """One instance per schema class: building a marshmallow schema costs far more than a load or dump, and
    an instance without context is reusable (replay reads every event of the log through these)."""
    return cls()


@functools.lru_cache(maxsize=None)
def _shape(cls: type) -> tuple[frozenset, frozenset] | None:
    """(every key the data schema ``cls`` loads, the keys a load always returns: required or defaulted), or
    None for a schema with nested schemas (whose own keys this does not look into)."""
    loaded = _schema(cls).load_fields
    if any(isinstance(f, fields.Nested) or isinstance(getattr(f, "inner", None), fields.Nested)
           for f in loaded.values()):
        return None
    keys = frozenset(f.data_key or name for name, f in loaded.items())
    filled = frozenset(f.data_key or name for name, f in loaded.items()
                       if f.required or f.load_default is not missing)
    return keys, filled


class EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE
        ordered = True

    type = fields.String(required=True, validate=validate.Length(1, 64))
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    event_id = fields.String(required=True, validate=validate.Length(1, 64))
    stream_id = fields.String(required=True, validate=validate.Length(1, 200))
    sequence = fields.Integer(required=True, validate=validate.Range(min=0))
    occurred_at = fields.String(required=True)
    actor = fields.String(required=True)
    correlation_id = fields.String(allow_none=True, load_default=None)
    data = fields.Dict(required=True)


# ---------------------------------------------------------------------------------------------- data schemas
class _Data(Schema):
    class Meta:
        unknown = EXCLUDE
        ordered = True


class PackageRef(_Data):
    owner = fields.String(required=True)
    package = fields.String(required=True)


class PackageCreated(PackageRef):
    public = fields.Boolean(required=True)
    summary = fields.String(allow_none=True, load_default=None)
    package_types = fields.List(fields.String(), load_default=list)
    public_attrs = fields.Dict(load_default=dict)


class PackageUpdated(PackageRef):
    changes = fields.Dict(required=True)  # any of: public, summary, public_attrs, package_types


class PackageRemoved(PackageRef):
    pass


class ReleaseCreated(PackageRef):
    version = fields.String(required=True)
    attrs = fields.Dict(load_default=dict)


class ReleaseUpdated(ReleaseCreated):
    pass


class ReleaseRemoved(PackageRef):
    version = fields.String(required=True)


class FileUploaded(PackageRef):
    """A file became part of a release. ``record`` is the conda repodata record (None for other types);
    ``metadata`` holds type-specific extras (PyPI core metadata fields, about.json, ...)."""
    version = fields.String(required=True)
    basename = fields.String(required=True)      # as anaconda-client names it: "<subdir>/<fn>" for conda
    filename = fields.String(required=True)      # last path component
    distribution_type = fields.String(required=True)
    subdir = fields.String(allow_none=True, load_default=None)
    labels = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    blob_key = fields.String(required=True)
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    md5 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{32}$"))
    size = fields.Integer(required=True, validate=validate.Range(min=0))
    public = fields.Boolean(required=True)       # visibility of the package at upload time
    record = fields.Dict(allow_none=True, load_default=None)
    attrs = fields.Dict(load_default=dict)
    metadata = fields.Dict(load_default=dict)
    description = fields.String(allow_none=True, load_default=None)
    dependencies = fields.Raw(allow_none=True, load_default=None)  # as the anaconda CLI sent them at stage
    copied_from = fields.Dict(allow_none=True, load_default=None)  # {owner, package, version, basename} on copy
    replaced = fields.Boolean(load_default=False)  # True when --force replaced an existing file of that name


class FileRemoved(PackageRef):
    version = fields.String(required=True)
    basename = fields.String(required=True)


class FilesLabeled(_Data):
    """Labels added to (or, for FilesUnlabeled, removed from) a set of files of one owner."""
    owner = fields.String(required=True)
    label = fields.String(required=True)
    files = fields.List(fields.Dict(), required=True)  # [{package, version, basename}]


class LabelCopied(_Data):
    owner = fields.String(required=True)
    from_label = fields.String(required=True)
    to_label = fields.String(required=True)
    files = fields.List(fields.Dict(), required=True)


class LabelRemoved(_Data):
    owner = fields.String(required=True)
    label = fields.String(required=True)
    files = fields.List(fields.Dict(), required=True)


class LabelLockChanged(_Data):
    owner = fields.String(required=True)
    label = fields.String(required=True)
    locked = fields.Boolean(required=True)


class PackageTransferred(PackageRef):
    """The package left ``owner`` (this event is in the SOURCE stream) for ``to_owner``. Version 2 adds
    ``received``: True when the same command appended ``package_received`` to ``to_owner``'s stream, so a
    consumer following streams only drops the package here and adds it there from that event (each stream
    self-contained, no cross-stream ordering needed). Version 1 events (older logs) are upcast with
    ``received=False``: consumers move the files themselves."""
    to_owner = fields.String(required=True)
    received = fields.Boolean(load_default=False)


class ReceivedFile(Schema):
    """One file of a transferred package, as the new owner's stream restates it (what ``file_uploaded``
    carries for indexing, plus the original ``uploaded_at``)."""
    class Meta:
        unknown = EXCLUDE
        ordered = True
    version = fields.String(required=True)
    basename = fields.String(required=True)
    filename = fields.String(required=True)
    distribution_type = fields.String(required=True)
    subdir = fields.String(allow_none=True, load_default=None)
    labels = fields.List(fields.String(), required=True)
    blob_key = fields.String(required=True)
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    md5 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{32}$"))
    size = fields.Integer(required=True, validate=validate.Range(min=0))
    public = fields.Boolean(required=True)
    record = fields.Dict(allow_none=True, load_default=None)
    metadata = fields.Dict(load_default=dict)
    uploaded_at = fields.String(required=True)


class PackageReceived(PackageRef):
    """The package arrived in ``owner``'s namespace from ``from_owner`` (this event is in the TARGET stream,
    appended by the same command as the source's ``package_transferred``), with every file and its labels."""
    from_owner = fields.String(required=True)
    files = fields.List(fields.Nested(ReceivedFile), required=True)


class CollaboratorChanged(PackageRef):
    """A user was given (``collaborator_added``) or lost (``collaborator_removed``) full read/write access to
    one package."""
    login = fields.String(required=True)


class IndexPublished(_Data):
    """The indexer published new index files for one channel subdir. ``files`` maps file name
    (``repodata.json``...) to ``{"key": blob key, "sha256": hex, "size": int}`` (with ``"encoding": "zstd"`` when
    the blob holds the file compressed)."""
    owner = fields.String(required=True)
    label = fields.String(required=True)
    subdir = fields.String(required=True)
    files = fields.Dict(required=True)


DATA_SCHEMAS: dict[str, type[Schema]] = {
    "package_created": PackageCreated,
    "package_updated": PackageUpdated,
    "package_removed": PackageRemoved,
    "release_created": ReleaseCreated,
    "release_updated": ReleaseUpdated,
    "release_removed": ReleaseRemoved,
    "file_uploaded": FileUploaded,
    "file_removed": FileRemoved,
    "files_labeled": FilesLabeled,
    "files_unlabeled": FilesLabeled,
    "label_copied": LabelCopied,
    "label_removed": LabelRemoved,
    "label_lock_changed": LabelLockChanged,
    "package_transferred": PackageTransferred,
    "package_received": PackageReceived,
    "collaborator_added": CollaboratorChanged,
    "collaborator_removed": CollaboratorChanged,
    "index_published": IndexPublished,
}

CURRENT_VERSION: dict[str, int] = {t: 1 for t in DATA_SCHEMAS}

# (type, old_version) -> function turning data of old_version into data of old_version + 1
UPCASTERS: dict[tuple[str, int], Callable[[dict], dict]] = {
    ("package_transferred", 1): lambda d: {**d, "received": False},
}
CURRENT_VERSION["package_transferred"] = 2

REGISTRY_EVENT_TYPES = tuple(t for t in DATA_SCHEMAS if t != "index_published")


def file_ref(data: dict[str, Any]) -> dict:
    return {"package": data["package"], "version": data["version"], "basename": data["basename"]}
