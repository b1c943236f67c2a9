"""The upload receiver behind ``post_url``: an S3-style multipart form POST without an Authorization header,
authorised by the signed, expiring policy in the form. Checks Content-MD5 and Content-Length, then hands the
bytes to storage (local staging in embedded mode, a presigned PUT to S3 in distributed mode). Answers 201 with
S3's PostResponse XML, or S3 error XML (which anaconda-client parses)."""
from __future__ import annotations

import base64
import binascii
import tempfile

from flask import Blueprint, Response, current_app, request

from services.kernel.errors import BadRequest, PayloadTooLarge

from .. import access, form_stream
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
    if request.mimetype != "multipart/form-data":
        raise BadRequest("the upload must be a multipart/form-data POST")
    staged = {}

    def authorise(fields: dict) -> int:
        info = clients().storage.check_upload({k: fields.get(k) for k in ("key", "policy", "signature")})
        # a policy is good for its own stage only while that stage is open: replayed after the commit (or after
        # a refusal discarded the stage) it would leave bytes nobody will ever commit
        clients().registry.get_staged(info["dist_id"])
        staged.update(info)
        return int(info.get("max_size") or settings.max_upload_size)

    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        form, size, md5_hex = form_stream.receive(request.stream, request.mimetype_params.get("boundary", ""),
                                                  authorise, spool)
        sent_md5 = form.get("Content-MD5")
        if sent_md5:
            try:
                expected = base64.b64decode(sent_md5, validate=True)
            except (binascii.Error, ValueError):
                return s3_error("InvalidDigest", "The Content-MD5 you specified was not valid.", 400)
            if expected != bytes.fromhex(md5_hex):
                return s3_error("InvalidDigest", "The Content-MD5 you specified did not match what was received.",
                                400)
        sent_len = form.get("Content-Length")
        if sent_len and sent_len.isdigit() and int(sent_len) != size:
            return s3_error("IncompleteBody", "The request body is shorter or longer than Content-Length.", 400)
        spool.seek(0)
        dist_id = staged["dist_id"]
        stage_bytes(clients(), dist_id, spool, size)
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>{settings.public_url}'
            f'/api/_upload/{dist_id}</Location><Key>{dist_id}</Key><ETag>"{md5_hex}"</ETag></PostResponse>')
    return Response(body, status=201, mimetype="application/xml", headers={"ETag": f'"{md5_hex}"'})
