"""The registry's operations (``RegistryService``; contract: ARCHITECTURE.md "RegistryService").

Every command appends events to the owners' streams it names, in one unit of work; the envelope's ``actor`` and
``correlation_id`` are recorded in those events."""
from __future__ import annotations

from . import JSON, Command, MessageTable, Query, collect, message


@message
class GetPackage(Query):
    owner: str
    package: str
    private_ok: bool = False


@message
class ListPackages(Query):
    owner: str
    private_ok: bool = False
    viewer: str | None = None
    extra_packages: tuple[str, ...] = ()


@message
class CreatePackage(Command):
    owner: str
    package: str
    public: bool = True
    public_attrs: dict | None = None


@message
class UpdatePackage(Command):
    owner: str
    package: str
    changes: dict


@message
class RemovePackage(Command):
    owner: str
    package: str


@message
class GetRelease(Query):
    owner: str
    package: str
    version: str
    private_ok: bool = True


@message
class CreateRelease(Command):
    owner: str
    package: str
    version: str
    attrs: dict | None = None


@message
class UpdateRelease(Command):
    owner: str
    package: str
    version: str
    attrs: dict


@message
class RemoveRelease(Command):
    owner: str
    package: str
    version: str


@message
class GetFile(Query):
    owner: str
    package: str
    version: str
    basename: str
    private_ok: bool = True


@message
class Stage(Command):
    owner: str
    package: str
    version: str
    basename: str
    distribution_type: str
    sha256: str | None = None
    labels: list[str] | None = None
    attrs: dict | None = None
    dependencies: JSON = None
    description: str | None = None


@message
class GetStaged(Query):
    dist_id: str


@message
class DiscardStaged(Command):
    dist_id: str


@message
class Commit(Command):
    dist_id: str
    blob_meta: dict


@message
class CommitUpload(Command):
    """Finalize the staged bytes in storage and commit the file, idempotent per ``dist_id`` (the handler takes a
    storage client: ``Handlers(collaborators=("storage",))``)."""
    dist_id: str
    owner: str
    package: str
    version: str
    basename: str


@message
class CommittedFile(Query):
    dist_id: str


@message
class RemoveFile(Command):
    owner: str
    package: str
    version: str
    basename: str


@message
class PackageHistory(Query):
    owner: str
    package: str
    limit: int = 200


@message
class CountDownload(Command):
    owner: str
    package: str
    version: str
    basename: str


@message
class ListLabels(Query):
    owner: str
    private_ok: bool = False


@message
class GetLabel(Query):
    owner: str
    label: str
    private_ok: bool = False


@message
class LabelFiles(Command):
    owner: str
    label: str
    package: str | None = None
    version: str | None = None
    basename: str | None = None


@message
class UnlabelFiles(Command):
    owner: str
    label: str
    package: str | None = None
    version: str | None = None
    basename: str | None = None


@message
class CopyLabel(Command):
    owner: str
    from_label: str
    to_label: str


@message
class RemoveLabel(Command):
    owner: str
    label: str


@message
class LockLabel(Command):
    owner: str
    label: str
    locked: bool = True


@message
class CopyFiles(Command):
    owner: str
    package: str
    version: str
    basename: str | None = None
    to_owner: str | None = None
    from_label: str = 'main'
    to_label: str = 'main'
    mode: str = 'add'


@message
class TransferPackage(Command):
    owner: str
    package: str
    to_owner: str


@message
class AddCollaborator(Command):
    owner: str
    package: str
    login: str


@message
class RemoveCollaborator(Command):
    owner: str
    package: str
    login: str


@message
class ListCollaborators(Query):
    owner: str
    package: str


@message
class IsCollaborator(Query):
    owner: str
    package: str
    login: str | None


@message
class CollaboratorPackages(Query):
    owner: str
    login: str | None


@message
class Search(Query):
    query: str | None = ''
    package_type: str | None = None
    platform: str | None = None
    viewer: str | None = None
    private_owners: tuple[str, ...] = ()
    private_packages: tuple[list[str], ...] = ()


@message
class Recent(Query):
    limit: int = 10
    viewer: str | None = None
    private_owners: tuple[str, ...] = ()
    private_packages: tuple[list[str], ...] = ()


@message
class ReadStream(Query):
    stream_id: str
    after_sequence: int = 0
    limit: int = 1000


@message
class StreamHeads(Query):
    pass


@message
class ReadLog(Query):
    after_position: int = 0
    limit: int = 1000


@message
class RelayPending(Command):
    limit: int = 500


@message
class RebuildProjections(Command):
    pass


MESSAGES = MessageTable("registry", collect(globals()))
