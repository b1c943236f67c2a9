"""The group half of the auth repository (SQLAlchemy Core): groups, their members and packages, and the
membership queries the role rules need. Mixed into ``SqlAuthRepository``, on the same connection."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, exc, func, insert, select, union
from sqlalchemy.engine import Connection

from services.kernel.errors import Conflict

from ..domain.groups import Group
from ..domain.model import ORG, Account
from .rows import account
from .tables import accounts, org_group_members, org_group_packages, org_groups, org_memberships

_G, _M, _P = org_groups.c, org_group_members.c, org_group_packages.c


def _in(cols, org: str, name: str):
    return and_(cols.org == org, cols.group_name == name)


class SqlGroupQueries:
    conn: Connection

    # ---------------------------------------------------------------------------------------------- groups
    def add_group(self, group: Group) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(org_groups).values(org=group.org, group_name=group.name,
                                                            perms=group.perms, created_at=group.created_at))
        except exc.IntegrityError:
            raise Conflict(f"the group {group.full_name!r} already exists")

    def get_group(self, org: str, name: str) -> Group | None:
        found = self._groups(_in(_G, org, name))
        return found[0] if found else None

    def delete_group(self, org: str, name: str) -> None:
        self.conn.execute(delete(org_group_members).where(_in(_M, org, name)))
        self.conn.execute(delete(org_group_packages).where(_in(_P, org, name)))
        self.conn.execute(delete(org_groups).where(_in(_G, org, name)))

    def groups_of(self, org: str) -> list[Group]:
        return self._groups(_G.org == org)

    def _groups(self, where) -> list[Group]:
        rows = self.conn.execute(select(org_groups).where(where).order_by(_G.org, _G.group_name)).all()
        if not rows:
            return []
        groups = {(r.org, r.group_name): Group(org=r.org, name=r.group_name, perms=r.perms,
                                               created_at=r.created_at) for r in rows}
        orgs = {org for org, _ in groups}
        counts = self.conn.execute(select(_M.org, _M.group_name, func.count()).where(_M.org.in_(orgs))
                                   .group_by(_M.org, _M.group_name))
        for org, name, n in counts:
            if (org, name) in groups:
                groups[(org, name)].members_count = n
        packages = self.conn.execute(select(_P.org, _P.group_name, _P.package).where(_P.org.in_(orgs))
                                     .order_by(_P.package))
        for org, name, package in packages:
            if (org, name) in groups:
                groups[(org, name)].packages.append(package)
        return list(groups.values())

    # --------------------------------------------------------------------------------------------- members
    def add_group_member(self, org: str, name: str, login: str, at: datetime) -> None:
        if self.is_group_member(org, name, login):
            return
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(org_group_members).values(org=org, group_name=name, login=login,
                                                                   created_at=at))
        except exc.IntegrityError:
            if not self.is_group_member(org, name, login):  # a concurrent add of the same member is fine
                raise Conflict(f"cannot add {login!r} to {org}/{name}")

    def remove_group_member(self, org: str, name: str, login: str) -> None:
        self.conn.execute(delete(org_group_members).where(_in(_M, org, name), _M.login == login))

    def is_group_member(self, org: str, name: str, login: str) -> bool:
        return self.conn.execute(select(_M.login).where(_in(_M, org, name), _M.login == login)).first() is not None

    def group_members(self, org: str, name: str) -> list[Account]:
        rows = self.conn.execute(select(accounts).join(org_group_members, _M.login == accounts.c.login)
                                 .where(_in(_M, org, name)).order_by(accounts.c.login))
        return [account(r) for r in rows]

    # -------------------------------------------------------------------------------------------- packages
    def add_group_package(self, org: str, name: str, package: str, at: datetime) -> None:
        where = and_(_in(_P, org, name), _P.package == package)
        if self.conn.execute(select(_P.package).where(where)).first():
            return
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(org_group_packages).values(org=org, group_name=name, package=package,
                                                                    created_at=at))
        except exc.IntegrityError:
            if not self.conn.execute(select(_P.package).where(where)).first():
                raise Conflict(f"cannot add {package!r} to {org}/{name}")

    def remove_group_package(self, org: str, name: str, package: str) -> None:
        self.conn.execute(delete(org_group_packages).where(_in(_P, org, name), _P.package == package))

    # ---------------------------------------------------------------------------------- who is in what
    def groups_of_member(self, login: str, org: str | None = None) -> list[Group]:
        """The groups ``login`` belongs to (of ``org`` only, when given), with their packages."""
        where = _M.login == login if org is None else and_(_M.login == login, _M.org == org)
        rows = self.conn.execute(
            select(_G.org, _G.group_name, _G.perms, _P.package)
            .join(org_group_members, and_(_M.org == _G.org, _M.group_name == _G.group_name))
            .outerjoin(org_group_packages, and_(_P.org == _G.org, _P.group_name == _G.group_name))
            .where(where).order_by(_G.org, _G.group_name, _P.package))
        groups: dict[tuple[str, str], Group] = {}
        for g_org, name, perms, package in rows:
            group = groups.setdefault((g_org, name), Group(org=g_org, name=name, perms=perms))
            if package is not None:
                group.packages.append(package)
        return list(groups.values())

    def memberships_of(self, login: str) -> dict[str, list[str]]:
        """``{org: [membership kinds]}`` of ``login`` (owners today)."""
        out: dict[str, list[str]] = {}
        for org, kind in self.conn.execute(select(org_memberships.c.org, org_memberships.c.kind)
                                           .where(org_memberships.c.login == login)):
            out.setdefault(org, []).append(kind)
        return out

    def org_owners(self, org: str) -> list[str]:
        rows = self.conn.execute(select(org_memberships.c.login).where(org_memberships.c.org == org,
                                                                       org_memberships.c.kind == "owner")
                                 .order_by(org_memberships.c.login))
        return [r.login for r in rows]

    def remove_memberships(self, login: str) -> int:
        n = self.conn.execute(delete(org_memberships).where(org_memberships.c.login == login)).rowcount
        return n + self.conn.execute(delete(org_group_members).where(_M.login == login)).rowcount

    def org_members(self, org: str) -> list[str]:
        """Owners and group members of ``org``, each once, sorted."""
        q = union(select(org_memberships.c.login.label("login")).where(org_memberships.c.org == org),
                  select(_M.login.label("login")).where(_M.org == org)).subquery()
        return [r.login for r in self.conn.execute(select(q.c.login).order_by(q.c.login))]

    def orgs_of(self, login: str) -> list[Account]:
        """The organizations ``login`` owns or belongs to through a group, sorted by name."""
        q = union(select(org_memberships.c.org.label("org")).where(org_memberships.c.login == login),
                  select(_M.org.label("org")).where(_M.login == login)).subquery()
        rows = self.conn.execute(select(accounts).join(q, q.c.org == accounts.c.login)
                                 .where(accounts.c.user_type == ORG).order_by(accounts.c.login))
        return [account(r) for r in rows]
