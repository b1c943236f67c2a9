"""Domain errors shared by every service.

Each error carries the HTTP status the gateway answers with (anaconda-client checks exact codes) and a short
machine code. Errors cross the RPC boundary by class name (see ``from_remote``), so adding a class here is
enough to make it travel.
"""
from __future__ import annotations


class WharfError(Exception):
    status = 500
    code = "InternalError"

    def __init__(self, message: str = "", **details):
        super().__init__(message)
        self.message = message or self.__class__.__name__
        self.details = details

    def to_dict(self) -> dict:
        body = {"error": self.message, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(WharfError):
    status = 400
    code = "BadRequest"


class InvalidName(BadRequest):
    code = "InvalidName"


class InvalidPackage(BadRequest):
    """The uploaded bytes are not a valid package of the declared type, or disagree with the URL."""
    code = "InvalidPackage"


class ChecksumMismatch(BadRequest):
    code = "ChecksumMismatch"


class Unauthorized(WharfError):
    status = 401
    code = "Unauthorized"


class Forbidden(WharfError):
    status = 403
    code = "Forbidden"


class NotFound(WharfError):
    status = 404
    code = "NotFound"


class Conflict(WharfError):
    status = 409
    code = "Conflict"


class PayloadTooLarge(WharfError):
    status = 413
    code = "EntityTooLarge"


class TooManyRequests(WharfError):
    """Rate limited (login and token creation). The message ends with "retry after N seconds", so
    ``retry_after`` survives the trip across RPC (errors travel as class name and message)."""
    status = 429
    code = "TooManyRequests"

    @property
    def retry_after(self) -> int:
        import re
        m = re.search(r"retry after (\d+) seconds", self.message)
        return int(m.group(1)) if m else 60


class Gone(WharfError):
    """It existed and is gone for good (an expired staged upload): starting over is the only way on."""
    status = 410
    code = "Gone"


class StageExpired(Gone):
    code = "StageExpired"


class Unavailable(WharfError):
    """A backend (S3, database, broker) is unreachable; the client may retry."""
    status = 503
    code = "ServiceUnavailable"


class BlobNotFound(NotFound):
    code = "NoSuchKey"


ERROR_CLASSES = {cls.__name__: cls for cls in (
    WharfError, BadRequest, InvalidName, InvalidPackage, ChecksumMismatch, Unauthorized, Forbidden, NotFound,
    Conflict, PayloadTooLarge, Unavailable, BlobNotFound, TooManyRequests, Gone, StageExpired,
)}


def from_remote(exc_type: str, message: str) -> WharfError:
    """Rebuild a domain error raised in another process (nameko RemoteError carries the class name). Anything
    else is a bug or a driver error whose text (SQL, hosts, paths) must not reach the client: a plain 500."""
    cls = ERROR_CLASSES.get(exc_type)
    if cls is None:
        return WharfError("internal server error")
    return cls(message)
