"""The upload receiver behind ``post_url``: an S3-style multipart form POST without an Authorization header,
authorised by the signed, expiring policy in the form. Checks Content-MD5 and Content-Length, then hands the
bytes to storage (local staging in embedded mode, a presigned PUT to S3 in distributed mode). Answers 201 with
S3's PostResponse XML, or S3 error XML (which anaconda-client parses)."""
from __future__ import annotations

import base64
import binascii
import hashlib


from flask import Blueprint, Response, current_app, request

from services.kernel.errors import BadRequest, PayloadTooLarge

from .. import access
from ..errors import s3_error
from ..uploads import stage_bytes

bp = Blueprint("upload", __name__)


def clients():
    return current_app.extensions["wharf.clients"]


@bp.post("/api/_upload")
@access.public                 # authorised by the signed, expiring policy in the form
def receive():
    settings = current_app.config["WHARF_SETTINGS"]
    if request.content_length is not None and request.content_length > settings.max_upload_size + 65536:
        raise PayloadTooLarge("upload exceeds the maximum allowed size")
    form = request.form.to_dict()
    info = clients().storage.check_upload({k: form.get(k) for k in ("key", "policy", "signature")})
    # a policy is good for its own stage only while that stage is open: replayed after the commit (or after a
    # refusal discarded the stage) it would leave bytes nobody will ever commit
    clients().registry.get_staged(info["dist_id"])
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("the form has no file field")
    stream = upload.stream
    md5, size = hashlib.md5(), 0
    while True:
        chunk = stream.read(1024 * 1024)
        if not chunk:
            break
        md5.update(chunk)
        size += len(chunk)
        if size > int(info.get("max_size") or settings.max_upload_size):
            raise PayloadTooLarge("upload exceeds the maximum allowed size")
    sent_md5 = form.get("Content-MD5")
    if sent_md5:
        try:
            expected = base64.b64decode(sent_md5, validate=True)
        except (binascii.Error, ValueError):
            return s3_error("InvalidDigest", "The Content-MD5 you specified was not valid.", 400)
        if expected != md5.digest():
            return s3_error("InvalidDigest", "The Content-MD5 you specified did not match what was received.",
                            400)
    sent_len = form.get("Content-Length")
    if sent_len and sent_len.isdigit() and int(sent_len) != size:
        return s3_error("IncompleteBody", "The request body is shorter or longer than Content-Length.", 400)
    stream.seek(0)
    dist_id = info["dist_id"]
    stage_bytes(clients(), dist_id, stream, size)
    etag = md5.hexdigest()
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>{settings.public_url}'
            f'/api/_upload/{dist_id}</Location><Key>{dist_id}</Key><ETag>"{etag}"</ETag></PostResponse>')
    return Response(body, status=201, mimetype="application/xml", headers={"ETag": f'"{etag}"'})
