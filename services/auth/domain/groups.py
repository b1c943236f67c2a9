"""Groups of an organization: a name, a permission (read|write|admin) and optionally a list of packages.

A group grants its ``perms`` to its members on the packages added to it. A group with NO packages grants its
``perms`` on the whole organization (every package, including ones not created yet). So removing the last
package of a group widens it to the whole organization: callers that manage package lists must know this.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime

from services.kernel import names
from services.kernel.errors import BadRequest, InvalidName

from .roles import ORDER

MAX_GROUP_NAME = 64


def group_name(value) -> str:
    """A group name: the label rule (``[a-zA-Z][0-9a-zA-Z_.-]*``, no ``..``), at most 64 characters, lower-cased."""
    if not isinstance(value, str) or len(value) > MAX_GROUP_NAME:
        raise InvalidName("invalid group name")
    try:
        return names.label(value).lower()
    except InvalidName:
        raise InvalidName(f"invalid group name: {value!r}"[:300])


def known_group_name(value) -> str | None:
    """The stored form of ``value``, or None when it cannot name any group (read paths answer NotFound)."""
    try:
        return group_name(value)
    except InvalidName:
        return None


def perms(value) -> str:
    if value not in ORDER:
        raise BadRequest(f"perms must be one of {', '.join(ORDER)}")
    return value


@dataclasses.dataclass
class Group:
    org: str
    name: str
    perms: str
    created_at: datetime | None = None
    packages: list[str] = dataclasses.field(default_factory=list)
    members_count: int = 0

    @property
    def full_name(self) -> str:
        return f"{self.org}/{self.name}"

    @property
    def whole_org(self) -> bool:
        """True when the group lists no packages: its perms then cover the whole organization."""
        return not self.packages

    def to_dict(self) -> dict:
        return {"name": self.name, "org": self.org, "perms": self.perms, "members_count": self.members_count,
                "packages": sorted(self.packages), "full_name": self.full_name}
