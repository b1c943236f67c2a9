"""Collaborators: users given full read/write access to one package. The registry records them as events of
the package owner's stream; whether the login exists is the caller's (the gateway's, with auth) concern."""
from __future__ import annotations

from services.kernel.errors import NotFound
from services.kernel.events import Event


def _event(kind: str, pkg: dict, login: str, actor: str, cid) -> Event:
    return Event.new(kind, pkg["owner"], {"owner": pkg["owner"], "package": pkg["name"], "login": login},
                     actor=actor, correlation_id=cid)


def need_package(pkg, owner: str, package: str) -> dict:
    if pkg is None:
        raise NotFound(f"package {owner}/{package} not found")
    return pkg


def add(pkg: dict, current: list[str], login: str, actor: str, cid) -> list[Event]:
    """Idempotent: adding an existing collaborator appends nothing."""
    return [] if login in current else [_event("collaborator_added", pkg, login, actor, cid)]


def remove(pkg: dict, current: list[str], login: str, actor: str, cid) -> list[Event]:
    if login not in current:
        raise NotFound(f"{login} is not a collaborator of {pkg['owner']}/{pkg['name']}")
    return [_event("collaborator_removed", pkg, login, actor, cid)]
