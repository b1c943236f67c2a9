"""The auth service's operations (``AuthService``; contract: ARCHITECTURE.md "AuthService").

Auth is not event-sourced: each command is one transaction on its tables. Group commands check the envelope's
``actor`` (the signed-in user) against the organization's admins."""
from __future__ import annotations

from . import JSON, Command, MessageTable, Query, collect, message


@message
class CreateUser(Command):
    login: str
    password: str
    email: str | None = None
    name: str | None = None


@message
class CreateOrg(Command):
    org: str
    owner: str


@message
class AddOrgOwner(Command):
    org: str
    login: str


@message
class GetUser(Query):
    login: str


@message
class UserOrgs(Query):
    login: str


@message
class VisibleOrgs(Query):
    login: str
    viewer: str | None = None


@message
class ListUsers(Query):
    pass


@message
class ListOrgs(Query):
    pass


@message
class SetPassword(Command):
    login: str
    password: str


@message
class ChangePassword(Command):
    login: str
    current_password: str
    new_password: str
    remote_addr: str | None = None
    keep_session: str | None = None


@message
class DisableUser(Command):
    login: str


@message
class EnableUser(Command):
    login: str


@message
class DeleteUser(Command):
    login: str


@message
class Access(Query):
    login: str | None
    owner: str
    package: str | None = None


@message
class Grants(Query):
    login: str | None
    owner: str


@message
class VisibleScope(Query):
    login: str | None


@message
class OrgMembers(Query):
    org: str


@message
class CreateGroup(Command):
    org: str
    group: str
    perms: str


@message
class DeleteGroup(Command):
    org: str
    group: str


@message
class ListGroups(Query):
    org: str


@message
class GetGroup(Query):
    org: str
    group: str


@message
class GroupMembers(Query):
    org: str
    group: str


@message
class AddGroupMember(Command):
    org: str
    group: str
    login: str


@message
class RemoveGroupMember(Command):
    org: str
    group: str
    login: str


@message
class IsGroupMember(Query):
    org: str
    group: str
    login: str


@message
class GroupPackages(Query):
    org: str
    group: str


@message
class AddGroupPackage(Command):
    org: str
    group: str
    package: str


@message
class RemoveGroupPackage(Command):
    org: str
    group: str
    package: str


@message
class CreateToken(Command):
    login: str
    password: str
    note: str
    scopes: JSON = None
    max_age: float | None = None
    org: str | None = None
    fail_if_exists: bool = False
    hostname: str | None = None
    remote_addr: str | None = None
    application: str | None = None


@message
class AuthenticatePassword(Command):     # counts failures (rate limits)
    login: str
    password: str
    remote_addr: str | None = None


@message
class CreateSession(Command):
    login: str
    password: str
    max_age: float | None
    remote_addr: str | None = None
    user_agent: str | None = None


@message
class AuthenticateSession(Query):
    session: str


@message
class EndSession(Command):
    session: str


@message
class Authenticate(Query):
    token: str


@message
class TokenInfo(Query):
    token: str


@message
class RevokeToken(Command):
    token: str


@message
class RevokeTokenNamed(Command):
    login: str
    name: str
    org: str | None = None


@message
class ListTokens(Query):
    login: str


MESSAGES = MessageTable("auth", collect(globals()))
