"""marshmallow schemas for request bodies the gateway accepts (validated before any service call)."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate


class _Body(Schema):
    class Meta:
        unknown = EXCLUDE


class AuthenticationBody(_Body):
    scopes = fields.List(fields.String(validate=validate.Length(1, 64)), allow_none=True, load_default=None)
    note = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=200))
    note_url = fields.String(allow_none=True, load_default=None)
    hostname = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=255))
    user = fields.String(allow_none=True, load_default=None)
    max_age = fields.Integer(data_key="max-age", allow_none=True, load_default=None,
                             validate=validate.Range(min=1, max=10 * 365 * 86400))
    strength = fields.String(allow_none=True, load_default=None)
    fail_if_exists = fields.Boolean(data_key="fail-if-exists", load_default=False)


class PackageBody(_Body):
    public = fields.Boolean(load_default=True)
    publish = fields.Boolean(load_default=False)
    public_attrs = fields.Dict(load_default=dict)


class ReleaseBody(_Body):
    # anaconda-client sends requirements/announce/description plus inspector attributes; keep them all
    class Meta:
        unknown = "include"


class StageBody(_Body):
    distribution_type = fields.String(required=True, validate=validate.Length(1, 32))
    description = fields.String(allow_none=True, load_default=None)
    attrs = fields.Dict(load_default=dict, allow_none=True)
    dependencies = fields.Raw(allow_none=True, load_default=None)
    channels = fields.List(fields.String(), load_default=list, allow_none=True)
    sha256 = fields.String(allow_none=True, load_default=None, validate=validate.Regexp(r"^[0-9a-fA-F]{64}$"))


class CommitBody(_Body):
    dist_id = fields.String(required=True, validate=validate.Length(1, 128))


class TransferBody(_Body):
    to_owner = fields.String(required=True, validate=validate.Length(1, 64))


class FileFilterBody(_Body):
    """The ``{package, version, basename}`` filter of label moves (None = any)."""
    package = fields.String(allow_none=True, load_default=None)
    version = fields.String(allow_none=True, load_default=None)
    basename = fields.String(allow_none=True, load_default=None)


class CopyBody(_Body):
    to_owner = fields.String(allow_none=True, load_default=None)
    from_channel = fields.String(allow_none=True, load_default=None)
    to_channel = fields.String(allow_none=True, load_default=None)
    from_label = fields.String(allow_none=True, load_default=None)
    to_label = fields.String(allow_none=True, load_default=None)


class GroupBody(_Body):
    perms = fields.String(load_default="read", validate=validate.OneOf(["read", "write", "admin"]))
