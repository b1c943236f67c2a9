"""Collaborator methods of the RegistryService facade (mixed into it). A collaborator has full read/write
access to one package; the gateway checks that the login exists (auth) before adding it."""
from __future__ import annotations

from services.kernel import names

from ..domain import collaborators as decide


class CollaboratorMethods:
    def _collab_args(self, owner, package, login=None):
        owner, package = names.owner(owner), names.package(package)
        return owner, package, (None if login is None else names.login(login))

    def add_collaborator(self, owner: str, package: str, login: str, actor: str = "system",
                         correlation_id: str | None = None) -> None:
        """Appends ``collaborator_added``; adding an existing collaborator appends nothing. NotFound for an
        unknown package."""
        owner, package, login = self._collab_args(owner, package, login)

        def d(uow):
            pkg = decide.need_package(uow.repo.package(owner, package), owner, package)
            return decide.add(pkg, uow.repo.collaborators(owner, package), login, actor, correlation_id)
        self._command(owner, d)

    def remove_collaborator(self, owner: str, package: str, login: str, actor: str = "system",
                            correlation_id: str | None = None) -> None:
        """Appends ``collaborator_removed``; NotFound for an unknown package or a login that is not one."""
        owner, package, login = self._collab_args(owner, package, login)

        def d(uow):
            pkg = decide.need_package(uow.repo.package(owner, package), owner, package)
            return decide.remove(pkg, uow.repo.collaborators(owner, package), login, actor, correlation_id)
        self._command(owner, d)

    def list_collaborators(self, owner: str, package: str) -> list[dict]:
        """``[{"login": ...}]`` sorted by login; NotFound for an unknown package."""
        owner, package, _ = self._collab_args(owner, package)

        def q(uow):
            decide.need_package(uow.repo.package(owner, package), owner, package)
            return [{"login": login} for login in uow.repo.collaborators(owner, package)]
        return self._query(q)

    def is_collaborator(self, owner: str, package: str, login: str | None) -> bool:
        """NotFound for an unknown package; False for an anonymous (None) login."""
        owner, package, _ = self._collab_args(owner, package)

        def q(uow):
            decide.need_package(uow.repo.package(owner, package), owner, package)
            return login is not None and names.login(login) in uow.repo.collaborators(owner, package)
        return self._query(q)

    def collaborator_packages(self, owner: str, login: str | None) -> list[str]:
        """Names of ``owner``'s packages ``login`` collaborates on (sorted; [] for None)."""
        owner = names.owner(owner)
        if login is None:
            return []
        login = names.login(login)
        return self._query(lambda uow: [p for _o, p in uow.repo.collaborations(login, owner)])
