"""The OpenAPI 3 document of ``/api`` (served at ``/api/openapi.json``), built with apispec and its marshmallow
plugin from the gateway's own URL map and request schemas, so it cannot drift from the routes.

Every ``/api`` route is listed with its path parameters (typed with the same rules as ``services.kernel.names``),
its JSON request body (the marshmallow schema the view loads), and the responses it can give: its success code
and the error statuses, each with the ``{error, code}`` error body. The S3-style upload receiver
(``/api/_upload``, multipart form, XML answers) is documented separately in ARCHITECTURE.md and left out.
"""
from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from . import schemas

# request body schema of each view (endpoint name as Flask registers it)
BODIES = {
    "api_auth.create_authentication": schemas.AuthenticationBody,
    "api_packages.create_package": schemas.PackageBody,
    "api_packages.transfer_package": schemas.TransferBody,
    "api_packages.create_release": schemas.ReleaseBody,
    "api_packages.update_package": schemas.PackagePatchBody,
    "api_packages.update_release": schemas.ReleasePatchBody,
    "api_labels.add_label": schemas.FileFilterBody,
    "api_labels.remove_label": schemas.FileFilterBody,
    "api_packages.stage": schemas.StageBody,
    "api_packages.commit": schemas.CommitBody,
    "api_labels.copy_files": schemas.CopyBody,
    "api_org.create_group": schemas.GroupBody,
    "api_auth.change_password": schemas.PasswordChangeBody,
}
# views answering something other than 200 on success
SUCCESS = {**dict.fromkeys(("api_auth.logout", "api_auth.remove_named", "api_auth.remove_org_named",
                             "api_labels.add_label", "api_labels.remove_label", "api_labels.copy_label",
                             "api_labels.lock_label", "api_org.change_collaborator", "api_packages.remove_package",
                             "api_packages.remove_release"), 201),
           **dict.fromkeys(("api_org.create_group", "api_org.delete_group", "api_org.is_member",
                            "api_org.change_member", "api_org.change_group_package"), 204)}
# a path parameter's JSON-schema (the names rules of services.kernel.names, minus the checks regexes cannot say)
PARAMS = {
    "owner": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"},
    "org": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"},
    "login": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"},
    "to_owner": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"},
    "package": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$"},
    "version": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.+!-]{0,63}$"},
    "label": {"type": "string", "pattern": "^[a-zA-Z][0-9a-zA-Z_.-]{0,63}$"},
    "from_label": {"type": "string", "pattern": "^[a-zA-Z][0-9a-zA-Z_.-]{0,63}$"},
    "to_label": {"type": "string", "pattern": "^[a-zA-Z][0-9a-zA-Z_.-]{0,63}$"},
    "basename": {"type": "string", "pattern": "^([a-z0-9-]{1,32}/)?[A-Za-z0-9_][A-Za-z0-9_.+!~=,-]{0,200}$"},
}
ERRORS = {400: "invalid request or name", 401: "no valid credentials", 403: "visible but not allowed",
          404: "not found (or private and not readable)", 405: "method not allowed",
          409: "conflicts with the current state", 413: "request body too large",
          429: "rate limited (login and token creation) or too many uploads staged at once",
          503: "a backend is unavailable; retry"}
# errors only some operations give
EXTRA_ERRORS = {"api_packages.commit": {410: "the staged upload expired (WHARF_STAGE_TTL); upload again"}}


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "human-readable message"})
    code = fields.String(required=True, metadata={"description": "machine-readable error code"})
    details = fields.Dict(metadata={"description": "extra facts about the error"})


def _flask_path(rule: str) -> tuple[str, list[str]]:
    """``/api/x/<owner>/<path:basename>`` -> (``/api/x/{owner}/{basename}``, [owner, basename])."""
    out, params = [], []
    for part in rule.split("/"):
        if part.startswith("<") and part.endswith(">"):
            name = part[1:-1].split(":")[-1]
            params.append(name)
            out.append("{" + name + "}")
        else:
            out.append(part)
    return "/".join(out), params


def build_spec(app, version: str = "1") -> dict:
    spec = APISpec(title="Wharf API", version=version, openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "The anaconda.org-compatible REST API of Wharf (anaconda-client 1.16)."})
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.security_scheme("token", {"type": "apiKey", "in": "header", "name": "Authorization",
                                              "description": "`token <TOKEN>`"})
    error_response = {"description": "", "content": {"application/json": {"schema": {"$ref":
                                                                                     "#/components/schemas/Error"}}}}
    paths: dict[str, dict] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api") or rule.rule.startswith("/api/_upload") or rule.rule == "/api/":
            continue
        if rule.endpoint.endswith("openapi"):
            continue
        path, params = _flask_path(rule.rule.rstrip("/") or rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op: dict = {"operationId": f"{rule.endpoint}.{method.lower()}",
                        "parameters": [{"name": p, "in": "path", "required": True,
                                        "schema": PARAMS.get(p, {"type": "string", "minLength": 1,
                                                                 "maxLength": 200, "pattern": "^[^/]+$"})}
                                       for p in params],
                        "security": [{"token": []}, {}]}
            body = BODIES.get(rule.endpoint)
            if body is not None and method in ("POST", "PUT", "PATCH"):
                op["requestBody"] = {"required": False,
                                     "content": {"application/json": {"schema": body}}}
            ok = SUCCESS.get(rule.endpoint, 200)
            responses = {str(ok): {"description": "success"}}
            if ok == 200:
                responses["200"]["content"] = {"application/json": {"schema": {
                    "oneOf": [{"type": "object"}, {"type": "array"}]}}}
            if rule.endpoint == "api_packages.download":
                responses["200"] = {"description": "the file's bytes",
                                    "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                        "format": "binary"}}}}
                responses["302"] = {"description": "redirect to a presigned URL (S3)"}
                responses["304"] = {"description": "not modified"}
                responses["206"] = {"description": "partial content (Range)"}
                responses["416"] = dict(error_response, description="unsatisfiable Range")
            for status, text in {**ERRORS, **EXTRA_ERRORS.get(rule.endpoint, {})}.items():
                responses[str(status)] = dict(error_response, description=text)
            op["responses"] = responses
            paths.setdefault(path, {})[method.lower()] = op
    for path, ops in sorted(paths.items()):
        spec.path(path=path, operations=ops)
    return spec.to_dict()
