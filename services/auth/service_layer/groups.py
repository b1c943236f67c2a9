"""Groups of organizations (the ``*group*`` methods of ``AuthService``, which delegates here).

Who may do what: any member of the organization (an owner, or a member of any of its groups) may read its
groups, their members and packages; only an admin of the organization (an owner, or a member of an ``admin``
group that lists no packages) may create groups and change their members and packages. Others get
``Forbidden`` (organizations are public namespaces, so their existence is no secret). A path naming a user or
nothing at all is ``NotFound``; so is an unknown group, once the reader was allowed to look.

Checks run in this order: input validation (400), organization (404), the reader's right (403), group (404),
named user (404/400).
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from services.kernel import names
from services.kernel.errors import Conflict, Forbidden, NotFound

from ..domain import groups as group_rules
from ..domain import roles
from ..domain.groups import Group
from ..domain.model import Account
from ..domain.ports import AuthRepository, UnitOfWork
from . import lookups


class Groups:
    def __init__(self, uow: UnitOfWork, now: Callable[[], datetime]):
        self._uow = uow
        self._now = now

    # -------------------------------------------------------------------------------------------- groups
    def create_group(self, org, group, perms, actor) -> dict:
        name, perms = group_rules.group_name(group), group_rules.perms(perms)
        with self._uow() as repo:
            org_account = self._admin_of(repo, org, actor)
            created = Group(org=org_account.login, name=name, perms=perms, created_at=self._now())
            repo.add_group(created)
            return created.to_dict()

    def delete_group(self, org, group, actor) -> None:
        """Admins only. Its members lose what it granted at once: every role is computed from the groups of the
        moment, on every request."""
        with self._uow() as repo:
            found = self._group(repo, self._admin_of(repo, org, actor), group)
            repo.delete_group(found.org, found.name)

    def list_groups(self, org, actor) -> list[dict]:
        with self._uow() as repo:
            org_account = self._member_of(repo, org, actor)
            return [g.to_dict() for g in repo.groups_of(org_account.login)]

    def get_group(self, org, group, actor) -> dict:
        with self._uow() as repo:
            return self._group(repo, self._member_of(repo, org, actor), group).to_dict()

    # ------------------------------------------------------------------------------------------- members
    def group_members(self, org, group, actor) -> list[dict]:
        with self._uow() as repo:
            found = self._group(repo, self._member_of(repo, org, actor), group)
            return [{"login": a.login, "name": a.name} for a in repo.group_members(found.org, found.name)]

    def add_group_member(self, org, group, login, actor) -> None:
        with self._uow() as repo:
            found = self._group(repo, self._admin_of(repo, org, actor), group)
            member = lookups.user(repo, login)
            repo.add_group_member(found.org, found.name, member.login, self._now())

    def remove_group_member(self, org, group, login, actor) -> None:
        with self._uow() as repo:
            found = self._group(repo, self._admin_of(repo, org, actor), group)
            member = lookups.user(repo, login)
            repo.remove_group_member(found.org, found.name, member.login)

    def is_group_member(self, org, group, login) -> bool:
        with self._uow() as repo:
            found = self._group(repo, lookups.group_org(repo, org), group)
            reader = lookups.known(login)
            return reader is not None and repo.is_group_member(found.org, found.name, reader)

    # ------------------------------------------------------------------------------------------ packages
    def group_packages(self, org, group, actor) -> list[dict]:
        with self._uow() as repo:
            found = self._group(repo, self._member_of(repo, org, actor), group)
            return [{"full_name": f"{found.org}/{p}", "name": p} for p in found.packages]

    def add_group_package(self, org, group, package, actor) -> None:
        package = names.package(package)
        with self._uow() as repo:
            found = self._group(repo, self._admin_of(repo, org, actor), group)
            repo.add_group_package(found.org, found.name, package, self._now())

    def remove_group_package(self, org, group, package, actor) -> None:
        """Removing a package the group lists. Removing the LAST one is refused (Conflict): a group without
        packages covers the whole organization, so that removal would silently widen the group's access."""
        package = names.package(package)
        with self._uow() as repo:
            found = self._group(repo, self._admin_of(repo, org, actor), group)
            if list(found.packages) == [package]:
                raise Conflict(f"{package} is the last package of group {found.org}/{found.name}; a group with "
                               "no packages covers the whole organization, so add another package first")
            repo.remove_group_package(found.org, found.name, package)

    # ------------------------------------------------------------------------------------------- helpers
    @staticmethod
    def _admin_of(repo: AuthRepository, org, actor) -> Account:
        org_account = lookups.group_org(repo, org)
        if lookups.held(repo, lookups.known(actor), org_account)["all"] != roles.ADMIN:
            raise Forbidden(f"{actor} is not an admin of {org_account.login}"[:300])
        return org_account

    @staticmethod
    def _member_of(repo: AuthRepository, org, actor) -> Account:
        org_account = lookups.group_org(repo, org)
        if not lookups.is_org_member(repo, lookups.known(actor), org_account):
            raise Forbidden(f"{actor} is not a member of {org_account.login}"[:300])
        return org_account

    @staticmethod
    def _group(repo: AuthRepository, org_account: Account, group) -> Group:
        name = group_rules.known_group_name(group)
        found = repo.get_group(org_account.login, name) if name else None
        if found is None:
            raise NotFound(f"no group named {group!r} in {org_account.login}"[:300])
        return found
