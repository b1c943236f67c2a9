"""Who may act where: ``access``, ``grants``, ``visible_scope`` and ``org_members`` of ``AuthService``.

The rules are ``domain.roles``; these queries gather the memberships and groups they need in one transaction.
"""
from __future__ import annotations

from services.kernel import names

from ..domain import roles
from ..domain.ports import UnitOfWork
from . import lookups


class Access:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    def access(self, login, owner, package=None) -> str | None:
        with self._uow() as repo:
            account = lookups.account(repo, owner)
            package = None if package is None else names.package(package)
            reader = lookups.known(login) if login is not None else None
            return roles.role_on(lookups.held(repo, reader, account), package)

    def grants(self, login, owner) -> dict:
        with self._uow() as repo:
            account = lookups.account(repo, owner)
            reader = lookups.known(login) if login is not None else None
            return lookups.held(repo, reader, account)

    def visible_scope(self, login) -> dict:
        reader = lookups.known(login) if login is not None else None
        owners: set[str] = set()
        packages: set[tuple[str, str]] = set()
        with self._uow() as repo:
            if reader is None or repo.get_account(reader) is None:
                return {"owners": [], "packages": []}
            owners.add(reader)
            kinds = repo.memberships_of(reader)
            by_org: dict[str, list] = {org: [] for org in kinds}
            for group in repo.groups_of_member(reader):
                by_org.setdefault(group.org, []).append((group.perms, group.packages))
        for org, groups in by_org.items():
            held = roles.grants(reader, org, kinds.get(org, []), groups)
            if held["all"] is not None:
                owners.add(org)
            else:
                packages.update((org, package) for package in held["packages"])
        return {"owners": sorted(owners), "packages": [list(p) for p in sorted(packages)]}

    def org_members(self, org) -> list[str]:
        with self._uow() as repo:
            return repo.org_members(lookups.group_org(repo, org).login)
