"""Label methods of the RegistryService facade (mixed into it): list/show labels, label and unlabel files
(``anaconda move``), copy, remove, lock. Commands go through the facade's ``_command`` like every other."""
from __future__ import annotations

from services.kernel import names
from services.kernel.errors import NotFound

from ..domain import labels as decide
from ..domain import views


def _opt(check, value):
    return None if value is None else check(value)


class LabelMethods:
    @staticmethod
    def _owner_files(uow, owner: str, private_ok: bool = True, package=None, version=None, basename=None,
                     label=None):
        files = uow.repo.files(owner, package, version, basename, label)
        wanted = {f["package"] for f in files} if (package or label) else None   # else: most packages anyway
        pkgs = {p["name"]: p for p in uow.repo.packages(owner, wanted) if p["public"] or private_ok}
        files = [f for f in files if f["package"] in pkgs]
        return pkgs, files

    def list_labels(self, owner: str, private_ok: bool = False) -> dict:
        """``{label: {"is_locked": bool, "num_files": int}}`` for every label a visible file carries."""
        owner = names.owner(owner)

        def q(uow):
            locked, counts = uow.repo.locked_labels(owner), uow.repo.label_counts(owner, private_ok)
            return {lb: {"is_locked": lb in locked, "num_files": n} for lb, n in sorted(counts.items())}
        return self._query(q)

    def get_label(self, owner: str, label: str, private_ok: bool = False) -> dict:
        """``{"name", "is_locked", "files": [file]}``; NotFound when no visible file carries the label."""
        owner, label = names.owner(owner), names.label(label)

        def q(uow):
            pkgs, files = self._owner_files(uow, owner, private_ok, label=label)
            carrying = [views.file_view(pkgs[f["package"]], f) for f in files]
            if not carrying:
                raise NotFound(f"label {owner}/{label} not found")
            return {"name": label, "is_locked": label in uow.repo.locked_labels(owner), "files": carrying}
        return self._query(q)

    def _filtered(self, owner, label, package, version, basename):
        return (names.owner(owner), names.label(label), _opt(names.package, package), _opt(names.version, version),
                _opt(names.basename, basename))

    def _files_after(self, owner, label, package, version, basename):
        def result(uow):
            pkgs, files = self._owner_files(uow, owner, True, package, version, basename)
            return [views.file_view(pkgs[f["package"]], f) for f in files]
        return result

    def label_files(self, owner: str, label: str, package: str | None = None, version: str | None = None,
                    basename: str | None = None, actor: str = "system", correlation_id: str | None = None) -> list:
        """Add ``label`` to the files matching the filter (None = any); returns those files."""
        owner, label, package, version, basename = self._filtered(owner, label, package, version, basename)
        return self._command(owner, lambda uow: decide.label_files(
            owner, label, self._owner_files(uow, owner, True, package, version, basename)[1], actor,
            correlation_id), self._files_after(owner, label, package, version, basename))

    def unlabel_files(self, owner: str, label: str, package: str | None = None, version: str | None = None,
                      basename: str | None = None, actor: str = "system", correlation_id: str | None = None) -> list:
        """Take ``label`` off the matching files; returns those files."""
        owner, label, package, version, basename = self._filtered(owner, label, package, version, basename)
        return self._command(owner, lambda uow: decide.unlabel_files(
            owner, label, self._owner_files(uow, owner, True, package, version, basename)[1], actor,
            correlation_id), self._files_after(owner, label, package, version, basename))

    def copy_label(self, owner: str, from_label: str, to_label: str, actor: str = "system",
                   correlation_id: str | None = None) -> list:
        """Add ``to_label`` to every file carrying ``from_label``; returns those files."""
        owner, from_label, to_label = names.owner(owner), names.label(from_label), names.label(to_label)

        def result(uow):
            pkgs, files = self._owner_files(uow, owner)
            return [views.file_view(pkgs[f["package"]], f) for f in files if to_label in f["labels"]
                    and from_label in f["labels"]]
        return self._command(owner, lambda uow: decide.copy_label(
            owner, from_label, to_label, self._owner_files(uow, owner)[1], actor, correlation_id), result)

    def remove_label(self, owner: str, label: str, actor: str = "system", correlation_id: str | None = None) -> None:
        owner, label = names.owner(owner), names.label(label)
        self._command(owner, lambda uow: decide.remove_label(owner, label, self._owner_files(uow, owner)[1],
                                                             actor, correlation_id))

    def lock_label(self, owner: str, label: str, locked: bool = True, actor: str = "system",
                   correlation_id: str | None = None) -> dict:
        owner, label = names.owner(owner), names.label(label)
        return self._command(
            owner,
            lambda uow: decide.lock_label(owner, label, locked, label in uow.repo.locked_labels(owner), actor,
                                          correlation_id),
            lambda uow: {"name": label, "is_locked": label in uow.repo.locked_labels(owner)})
