"""Copy and transfer methods of the RegistryService facade (mixed into it). Both may touch two owners'
streams in one transaction; ``_command`` locks them in sorted order so they cannot deadlock."""
from __future__ import annotations

from services.kernel import names

from ..domain import copying as decide
from ..domain import views


class CopyMethods:
    def copy_files(self, owner: str, package: str, version: str, basename: str | None = None,
                   to_owner: str | None = None, from_label: str = "main", to_label: str = "main",
                   mode: str = "add", actor: str = "system", correlation_id: str | None = None) -> list[dict]:
        """``anaconda copy``: the files of owner/package/version (only ``basename`` if given) that carry
        ``from_label`` get ``to_label``, in ``to_owner``'s namespace (None: the same owner).

        Same owner: one ``files_labeled``. Another owner: ``package_created`` / ``release_created`` when missing,
        then one ``file_uploaded`` per file (same blob, ``copied_from`` set) in ``to_owner``'s stream. A file
        already there is a Conflict in mode ``add``; ``replace`` removes and uploads it again, ``update`` only adds
        the label (a no-op when it has it). Returns the resulting target files."""
        owner, package, version = names.owner(owner), names.package(package), names.version(version)
        basename = None if basename is None else names.basename(basename)
        to_owner = owner if to_owner is None else names.owner(to_owner)
        from_label, to_label = names.label(from_label), names.label(to_label)
        mode = decide.check_mode(mode)
        copied: list[str] = []

        def d(uow):
            source = decide.sources(uow.repo.package(owner, package), uow.repo.release(owner, package, version),
                                    uow.repo.files(owner, package, version, basename), owner, package, version,
                                    basename, from_label)
            copied[:] = [f["basename"] for f in source]
            if to_owner == owner:
                return decide.copy_within(owner, to_label, source, mode, actor, correlation_id)
            existing = {f["basename"]: f for f in uow.repo.files(to_owner, package, version)}
            return decide.copy_across(uow.repo.package(owner, package), uow.repo.release(owner, package, version),
                                      source, to_owner, uow.repo.package(to_owner, package),
                                      uow.repo.release(to_owner, package, version), existing, to_label, mode,
                                      actor, correlation_id)

        def result(uow):
            pkg = uow.repo.package(to_owner, package)
            return [views.file_view(pkg, uow.repo.file(to_owner, package, version, b)) for b in copied]
        return self._command((owner, to_owner), d, result)

    def transfer_package(self, owner: str, package: str, to_owner: str, actor: str = "system",
                         correlation_id: str | None = None) -> dict:
        """Move a package (releases, files, labels, collaborators, staged uploads) to ``to_owner``; returns its
        detail there. ``package_transferred`` goes to the SOURCE owner's stream (``owner``),
        ``package_received`` (every file restated) to the new owner's. NotFound when missing, Conflict when
        ``to_owner`` has a package of that name, BadRequest when ``to_owner == owner``."""
        owner, package, to_owner = names.owner(owner), names.package(package), names.owner(to_owner)

        def d(uow):
            out = decide.transfer(uow.repo.package(owner, package), uow.repo.package(to_owner, package),
                                  uow.repo.files(owner, package), owner, package, to_owner, actor, correlation_id)
            uow.repo.move_staged(owner, package, to_owner)  # not a projection: moved by the command itself
            return out
        return self._command((owner, to_owner), d,
                             lambda uow: self._detail(uow, uow.repo.package(to_owner, package)))
