"""marshmallow schemas for request bodies the gateway accepts (validated before any service call). Every JSON
body of every route goes through one: values have types and bounds, so no input from a user reaches a service
(or a page that shows it later) as a type nobody expected."""
from __future__ import annotations

from marshmallow import EXCLUDE, INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from services.kernel.messages import StrictBoolean      # JSON true/false only

TEXT_MAX = 64 * 1024             # a description, a README: bytes of text kept per attribute
EXTRA_DEPTH = 4                  # nesting of the free-form attributes anaconda-client's inspectors send
EXTRA_ITEMS = 1000               # values in one free-form attribute (a list of files, of requirements...)


class _Body(Schema):
    class Meta:
        unknown = EXCLUDE


def check_json_value(value, what: str, depth: int = EXTRA_DEPTH) -> None:
    """A free-form value from a client: JSON scalars, or lists/objects of them, bounded in depth, size and
    string length (ValidationError otherwise)."""
    count = 0
    stack = [(value, 0)]
    while stack:
        v, d = stack.pop()
        count += 1
        if count > EXTRA_ITEMS:
            raise ValidationError(f"{what} holds more than {EXTRA_ITEMS} values")
        if isinstance(v, str):
            if len(v) > TEXT_MAX:
                raise ValidationError(f"{what} holds a string longer than {TEXT_MAX} characters")
        elif isinstance(v, (list, dict)):
            if d >= depth:
                raise ValidationError(f"{what} is nested deeper than {depth} levels")
            items = v.values() if isinstance(v, dict) else v
            if isinstance(v, dict) and not all(isinstance(k, str) and len(k) <= 256 for k in v):
                raise ValidationError(f"{what} has an invalid key")
            stack.extend((x, d + 1) for x in items)
        elif v is not None and not isinstance(v, (bool, int, float)):
            raise ValidationError(f"{what} holds a value of an unknown type")


class _FreeForm(Schema):
    """Known keys are typed by the subclass; any other key is kept when it is a bounded JSON value."""

    class Meta:
        unknown = INCLUDE

    @validates_schema(pass_original=True)
    def _extras(self, _data, original, **_kwargs):
        if not isinstance(original, dict):
            return
        for key, value in original.items():
            if key not in self.fields:
                if not isinstance(key, str) or len(key) > 128:
                    raise ValidationError("invalid attribute name")
                check_json_value(value, key)


class License(fields.Field):
    """A license: an SPDX id or text, or (anaconda-client's inspectors) ``{"name", "family", "url"}``."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value is None or (isinstance(value, str) and len(value) <= 1000):
            return value
        if isinstance(value, dict) and set(value) <= {"name", "family", "url"} and \
                all(v is None or (isinstance(v, str) and len(v) <= 2048) for v in value.values()):
            return value
        raise ValidationError("license must be a string or {name, family, url} of strings")


def _text(limit: int = 2048):
    return fields.String(allow_none=True, validate=validate.Length(max=limit))


class PublicAttrs(_FreeForm):
    """A package's public attributes (what ``anaconda show`` and the package page display)."""
    summary = _text(1000)
    description = _text(TEXT_MAX)
    home = _text()
    dev_url = _text()
    doc_url = _text()
    source_git_url = _text()
    source_git_tag = _text(256)
    license = License(allow_none=True)
    license_url = _text()
    license_family = _text(256)
    package_types = fields.List(fields.String(validate=validate.Length(1, 32)), validate=validate.Length(max=16))
    keywords = fields.List(fields.String(validate=validate.Length(max=256)), validate=validate.Length(max=100))


class AuthenticationBody(_Body):
    scopes = fields.List(fields.String(validate=validate.Length(1, 64)), allow_none=True, load_default=None)
    note = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=200))
    note_url = fields.String(allow_none=True, load_default=None)
    hostname = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=255))
    user = fields.String(allow_none=True, load_default=None)
    max_age = fields.Integer(data_key="max-age", allow_none=True, load_default=None,
                             validate=validate.Range(min=1, max=10 * 365 * 86400))
    strength = fields.String(allow_none=True, load_default=None)
    fail_if_exists = StrictBoolean(data_key="fail-if-exists", load_default=False)


class PackageBody(_Body):
    public = StrictBoolean(load_default=True)
    publish = StrictBoolean(load_default=False)
    public_attrs = fields.Nested(PublicAttrs, load_default=dict)


class PackagePatchBody(PublicAttrs):
    """PATCH /api/package: ``{"public_attrs": {...}, "public": bool}``, or (anaconda-client's
    ``update_package``) the attributes themselves at the top level."""
    public = StrictBoolean()
    public_attrs = fields.Nested(PublicAttrs)


class ReleaseBody(_FreeForm):
    """anaconda-client sends requirements/announce/description plus inspector attributes: kept, bounded."""
    description = _text(TEXT_MAX)
    summary = _text(1000)
    announce = StrictBoolean(allow_none=True)
    home = _text()
    license = License(allow_none=True)


class ReleasePatchBody(ReleaseBody):
    public_attrs = fields.Nested(ReleaseBody)


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


class PasswordChangeBody(_Body):
    """``POST /api/user/password``: the current password and the new one (WHARF_MIN_PASSWORD_LENGTH or more)."""
    current_password = fields.String(required=True, validate=validate.Length(1, 4096))
    new_password = fields.String(required=True, validate=validate.Length(1, 4096))


class GroupBody(_Body):
    perms = fields.String(load_default="read", validate=validate.OneOf(["read", "write", "admin"]))
