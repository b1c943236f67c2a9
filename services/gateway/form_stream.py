"""The upload receiver's multipart form, read as a stream (werkzeug's sans-I/O ``MultipartDecoder``).

S3's POST-object form puts the file last, after the fields (``key``, ``policy``, ``signature``, ...) that
authorise it; anaconda-client sends it so. Reading the fields first lets the receiver check the policy before it
reads a single byte of the file: a forged, expired or replayed form is refused after a few hundred bytes, instead
of after the whole body (up to ``WHARF_MAX_UPLOAD_SIZE``) was spooled to disk as ``request.form`` would do."""
from __future__ import annotations

import hashlib
from typing import BinaryIO, Callable

from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from services.kernel.errors import BadRequest, PayloadTooLarge

CHUNK = 256 * 1024
FIELDS_CHUNK = 4096             # read size until the file is authorised (a WSGI read blocks until it is filled)
FIELDS_MAX = 64 * 1024          # bytes of all fields before the file together (a policy is about 1 KB)


def receive(stream: BinaryIO, boundary: str, authorise: Callable[[dict], int], sink: BinaryIO) -> tuple[dict, int, str]:
    """Read the form from ``stream``: its fields (up to the file), then ``authorise(fields)`` (which raises to
    refuse, else returns the largest file size allowed), then the file's bytes into ``sink``.
    Returns ``(fields, size, md5 hex)``. Fields after the file are ignored, as S3 does."""
    if not boundary:
        raise BadRequest("the upload must be a multipart/form-data POST")
    decoder = MultipartDecoder(boundary.encode("latin-1"))   # fields bounded below; the file is streamed
    fields: dict[str, str] = {}
    name, buf, field_bytes = None, bytearray(), 0
    limit = None
    md5, size = hashlib.md5(), 0
    in_file = done = ended = False
    while not done:
        try:
            event = decoder.next_event()
        except ValueError as exc:                 # werkzeug: malformed multipart data
            raise BadRequest(f"malformed multipart form ({exc})")
        if isinstance(event, NeedData):
            if ended:
                break                              # the body ended inside a part: truncated
            chunk = stream.read(FIELDS_CHUNK if limit is None else CHUNK)
            ended = not chunk
            decoder.receive_data(chunk or None)
            continue
        if isinstance(event, Epilogue):
            break
        if isinstance(event, File):
            if event.name != "file":
                raise BadRequest(f"unexpected file field {event.name!r}")
            limit = authorise(fields)              # the policy, before any byte of the file is read
            in_file = True
        elif isinstance(event, Field):
            if limit is not None:                  # after the file: ignored (S3 does the same)
                done = True
                continue
            name, buf = event.name, bytearray()
        elif isinstance(event, Data):
            if in_file:
                size += len(event.data)
                if size > limit:
                    raise PayloadTooLarge("upload exceeds the maximum allowed size")
                md5.update(event.data)
                sink.write(event.data)
                if not event.more_data:
                    in_file, done = False, True
            else:
                field_bytes += len(event.data)
                if field_bytes > FIELDS_MAX:
                    raise PayloadTooLarge("the form's fields are too large")
                buf += event.data
                if not event.more_data and name is not None:
                    fields[name] = buf.decode("utf-8", "replace")
                    name = None
    if limit is None:
        raise BadRequest("the form has no file field")
    if in_file:
        raise BadRequest("the upload ended before the file did")
    return fields, size, md5.hexdigest()
