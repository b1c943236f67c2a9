"""Events the indexer cannot apply, and the dead letters it parks them in.

An event whose envelope is valid (its stream and sequence are known) but which this code cannot apply is
``Unreadable``: its data does not validate against its type's schema ("malformed"), or it is of a version newer
than this code knows ("newer_version": newer code wrote it; loading it with the older schema could misapply it).
The indexer never applies it nor skips it: it parks it in the dead-letter table (one row per stream, the event
the stream is stopped at) and leaves the stream's position before it. Later events of that stream are not
applied either (they wait in the registry's log, which the indexer reads again), so the stream's order holds;
other streams go on. Every catch-up round (at start and every ``WHARF_CATCH_UP_INTERVAL``) and ``wharf events
retry`` read a stopped stream again from the log: once the event applies (new code deployed, an upcaster
added, the code fixed), its dead letter goes and the rest of the stream follows. An event without a valid
envelope names no stream: it stays a plain ``BadRequest`` (acknowledged and logged; if the registry wrote it,
the catch-up finds it in the log and parks it there).
"""
from __future__ import annotations

from services.kernel.errors import BadRequest
from services.kernel.events import NewerVersion

MALFORMED = "malformed"
NEWER_VERSION = "newer_version"


class Unreadable(BadRequest):
    """An event with a valid envelope that this code cannot apply (see the module's docstring). Raised by
    ``parse_event``; ``IndexerService.handle`` raises it again once it has parked it."""

    def __init__(self, envelope: dict, wire, cause: BadRequest):
        super().__init__(cause.message)
        self.cause = cause
        self.wire = wire
        self.reason = NEWER_VERSION if isinstance(cause, NewerVersion) else MALFORMED
        self.type = str(envelope["type"])
        self.version = int(envelope["version"])
        self.stream_id = str(envelope["stream_id"])
        self.sequence = int(envelope["sequence"])
        self.event_id = str(envelope["event_id"])
        self.correlation_id = envelope.get("correlation_id")

    def park(self, repo) -> bool:
        """Record it as the event its stream is stopped at (in the caller's transaction); True if newly."""
        return repo.park(self.stream_id, self.sequence, self.type, self.version, self.event_id, self.reason,
                         self.message, self.wire)

    def __str__(self) -> str:
        return f"{self.type} v{self.version} {self.stream_id}#{self.sequence} ({self.reason}): {self.message}"


def cut(todo: list) -> tuple[list, Unreadable | None]:
    """The events of ``todo`` before the first ``Unreadable`` one, and that one (or None)."""
    for i, item in enumerate(todo):
        if isinstance(item, Unreadable):
            return todo[:i], item
    return todo, None
