"""Reading pages: home and search, sign in/out, namespaces, packages (overview, files, history), labels and
organizations. Visibility is decided by ``services.gateway.identity`` exactly as for the API."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import flash, redirect, render_template, request, send_from_directory, url_for
from packaging.version import InvalidVersion, Version

from services.kernel import names
from services.kernel import scopes as scope_rules
from services.kernel.errors import BadRequest, Forbidden, NotFound, Unauthorized

from .. import access
from ..identity import RANK, groups_as_seen, namespace_role, package_role, private_packages, search_scope
from . import description
from . import session as web_session
from .blueprint import bp, clients, settings

HISTORY_LIMIT = 200
RECENT_LIMIT = 10          # packages and namespaces on the home page


def reader():
    return web_session.reader()


# ---------------------------------------------------------------------------------------------- helpers
def version_key(v: str):
    try:
        return (1, Version(v), "")
    except InvalidVersion:
        return (0, Version("0"), v)


def human_size(n) -> str:
    if not isinstance(n, int):
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


bp.add_app_template_filter(human_size, "size")


@bp.app_template_filter("license")
def license_text(value) -> str:
    """``license`` is a string, or (anaconda-client's inspectors) ``{"name", "family", "url"}``."""
    if isinstance(value, dict):
        return str(value.get("name") or value.get("family") or "") or "–"
    return str(value) if value else "–"


@bp.app_template_filter("when")
def when(ts: str | None) -> str:
    if not ts:
        return "–"
    return ts.replace("T", " ")[:16] + " UTC"


def load_namespace(owner: str) -> tuple[str, dict, str | None]:
    owner = names.owner(owner)
    account = clients().auth.get_user(owner)
    account.pop("email", None)
    return owner, account, namespace_role(clients(), reader(), owner, "api:read")


def load_package(owner: str, package: str) -> tuple[str, str, dict, str | None]:
    """The package as the reader may see it (NotFound when private and not readable), and their role on it."""
    owner, package = names.owner(owner), names.package(package)
    role = package_role(clients(), reader(), owner, package, "api:read")
    pkg = clients().registry.get_package(owner, package, role is not None)
    return owner, package, pkg, role


def visible_packages(owner: str) -> list[dict]:
    whole, extra = private_packages(clients(), reader(), owner, "api:read")
    return clients().registry.list_packages(owner, whole, viewer=reader().login, extra_packages=extra)


def safe_next(value: str | None) -> str:
    """Only same-site paths are followed after sign-in (no open redirect, no header injection: control
    characters are refused), and never back to the sign-in form itself."""
    value = unquote(value or "")
    if len(value) > 2048 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return url_for("web.home")
    parts = urlsplit(value)
    if not value.startswith("/") or value.startswith("//") or parts.scheme or parts.netloc or "\\" in value:
        return url_for("web.home")
    if parts.path.rstrip("/") in (url_for("web.login"), url_for("web.logout")):
        return url_for("web.home")
    return value


# ---------------------------------------------------------------------------------------------- favicon
FAVICON_MAX_AGE = 7 * 86400


@bp.get("/favicon.ico")
@access.public
def favicon():
    """Browsers ask for /favicon.ico on every site; pages also link the SVG (static/web/favicon.svg)."""
    return send_from_directory(bp.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=FAVICON_MAX_AGE)


# ---------------------------------------------------------------------------------------------- home, search
@bp.get("/")
@access.see("api:read", owner=None, credential=access.SESSION)
def home():
    me = reader()
    mine = []
    if not me.anonymous:
        mine = [{"login": me.login, "user_type": "user"}] + clients().auth.user_orgs(me.login)
    # what changed last, as search shows it to this reader: public packages, and private ones only when granted
    scope = search_scope(clients(), me)
    recent = clients().registry.recent(RECENT_LIMIT, viewer=None if me.anonymous or me.org else me.login,
                                       private_owners=scope["owners"], private_packages=scope["packages"])
    return render_template("home.html", mine=mine, recent=recent)


@bp.get("/search")
@access.see("api:read", owner=None, credential=access.SESSION)
def search():
    query = request.args.get("q", "").strip()
    if len(query) > 200:
        raise BadRequest("query too long")
    results = []
    if query:
        me = reader()
        scope = search_scope(clients(), me)
        results = clients().registry.search(
            query, package_type=request.args.get("type") or None, platform=None,
            viewer=None if me.anonymous or me.org else me.login,
            private_owners=scope["owners"], private_packages=scope["packages"])
    return render_template("search.html", query=query, results=results)


# ---------------------------------------------------------------------------------------------- sign in/out
@bp.route("/login", methods=["GET", "POST"])
@access.self_(credential=access.SESSION)                    # the proof is the login and password of the form
def login():
    nxt = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=nxt, login_value="")
    login_value = request.form.get("login", "").strip()
    password = request.form.get("password", "")
    if not login_value or not password:
        return render_template("login.html", next=nxt, login_value=login_value,
                               error="Enter your login and password."), 400
    try:
        web_session.sign_in(login_value, password)
    except (Unauthorized, Forbidden, NotFound, BadRequest):
        return render_template("login.html", next=nxt, login_value=login_value,
                               error="Wrong login or password."), 401
    flash(f"Signed in as {login_value.lower()}.")
    return redirect(nxt, code=303)


@bp.post("/logout")
@access.self_(credential=access.SESSION)
def logout():
    web_session.sign_out()
    flash("Signed out.")
    return redirect(url_for("web.home"), code=303)


# ---------------------------------------------------------------------------------------------- namespaces
@bp.get("/<owner>")
@access.see("api:read", credential=access.SESSION)
def namespace(owner):
    owner, account, role = load_namespace(owner)
    packages = sorted(visible_packages(owner), key=lambda p: p["name"].lower())
    return render_template("namespace.html", owner=owner, account=account, role=role, packages=packages,
                           tab="packages")


@bp.get("/<owner>/-/labels")
@access.see("api:read", credential=access.SESSION)
def labels(owner):
    owner, account, role = load_namespace(owner)
    whole, _extra = private_packages(clients(), reader(), owner, "api:read")
    found = clients().registry.list_labels(owner, whole)
    return render_template("labels.html", owner=owner, account=account, role=role, labels=found, tab="labels",
                           can_write=RANK[role] >= RANK["write"])


@bp.get("/<owner>/-/labels/<label>")
@access.see("api:read", credential=access.SESSION)
def label_page(owner, label):
    owner, account, role = load_namespace(owner)
    label = names.label(label)
    whole, _extra = private_packages(clients(), reader(), owner, "api:read")
    found = clients().registry.get_label(owner, label, whole)
    others = sorted(lb for lb in clients().registry.list_labels(owner, whole) if lb != label)
    files = sorted(found["files"], key=lambda f: (f["package"], version_key(f["version"]), f["basename"]))
    return render_template("label.html", owner=owner, account=account, role=role, label=found, files=files,
                           others=others, tab="labels", can_write=RANK[role] >= RANK["write"])


@bp.get("/<owner>/-/members")
@access.see("api:read", credential=access.SESSION)
def members(owner):
    owner, account, role = load_namespace(owner)
    if account.get("user_type") != "org":
        raise NotFound(f"{owner} is not an organization")
    me = reader()
    if me.anonymous:
        raise Unauthorized("sign in to see the members of an organization")
    groups = groups_as_seen(clients(), me, owner,        # Forbidden unless a member, like the API
                            clients().auth.list_groups(owner, actor=me.login))
    for grp in groups:
        grp["members"] = clients().auth.group_members(owner, grp["name"], actor=me.login)
    # owners and group members, each with their role on the whole organization (None: package grants only)
    member_roles = [(m, clients().auth.access(m, owner)) for m in clients().auth.org_members(owner)]
    return render_template("members.html", owner=owner, account=account, role=role, groups=groups,
                           members=member_roles, tab="members", is_admin=role == "admin")


# ---------------------------------------------------------------------------------------------- packages
def _labels_of(pkg: dict, kind: str | None = None) -> list[str]:
    """The labels the package's files carry (of one distribution type when ``kind`` is given), main first."""
    found = {lb for f in pkg["files"] if kind is None or f["distribution_type"] == kind for lb in f["labels"]}
    return sorted(found, key=lambda lb: (lb != "main", lb))


def _channel_suffix(label: str) -> str:
    return "" if label == "main" else f"/label/{label}"


def install_lines(owner: str, package: str, pkg: dict) -> dict:
    """Install commands for the channels (labels) the package's files are in, and only those: a package only
    in ``dev`` is not installable from the plain channel. ``{kind: {"lines": [...], "token": [...]}}``; the
    token form is the same channel with ``/t/<TOKEN>`` (private packages, or a reader without a login)."""
    base = settings().public_url
    out = {}
    conda = _labels_of(pkg, "conda")
    if conda:
        out["conda"] = {
            "lines": [f"conda install -c {base}/conda/{owner}{_channel_suffix(lb)} {package}" for lb in conda],
            "token": [f"conda install -c {base}/conda/t/<TOKEN>/{owner}{_channel_suffix(lb)} {package}"
                      for lb in conda]}
    pypi = _labels_of(pkg, "pypi")
    if pypi:
        out["pip"] = {
            "lines": [f"pip install --index-url {base}/pypi/{owner}{_channel_suffix(lb)}/simple {package}"
                      for lb in pypi],
            "token": [f"pip install --index-url {base}/pypi/t/<TOKEN>/{owner}{_channel_suffix(lb)}/simple {package}"
                      for lb in pypi]}
    if any(f["distribution_type"] not in ("conda", "pypi") for f in pkg["files"]):
        out["file"] = {"lines": [f"anaconda download {owner}/{package}"], "token": []}
    return out


def _page_context(owner, package, pkg, role, tab):
    return dict(owner=owner, package=package, pkg=pkg, role=role, tab=tab,
                can_write=RANK[role] >= RANK["write"], can_admin=role == "admin")


def package_description(owner: str, package: str, pkg: dict) -> dict | None:
    """The latest release's description (PyPI uploads keep theirs there, with ``description_content_type``),
    else the package's own; rendered by ``description.render``."""
    if pkg.get("latest_version"):
        try:
            attrs = clients().registry.get_release(owner, package, pkg["latest_version"], True)["public_attrs"]
        except NotFound:
            attrs = {}
        if isinstance(attrs, dict) and isinstance(attrs.get("description"), str) and attrs["description"].strip():
            pypi = "pypi" in {f["distribution_type"] for f in pkg["files"] if f["version"] == pkg["latest_version"]}
            return description.render(attrs["description"], attrs.get("description_content_type"),
                                      default=description.RST if pypi else description.PLAIN)
    attrs = pkg.get("public_attrs") or {}
    return description.render(pkg.get("description"), attrs.get("description_content_type"))


@bp.get("/<owner>/<package>")
@access.see("api:read", credential=access.SESSION)
def package_page(owner, package):
    owner, package, pkg, role = load_package(owner, package)
    return render_template("package.html", install=install_lines(owner, package, pkg), labels=_labels_of(pkg),
                           description=package_description(owner, package, pkg),
                           **_page_context(owner, package, pkg, role, "overview"))


@bp.get("/<owner>/<package>/files")
@access.see("api:read", credential=access.SESSION)
def package_files(owner, package):
    owner, package, pkg, role = load_package(owner, package)
    label = request.args.get("label") or ""
    if label:
        label = names.label(label)
    files = [f for f in pkg["files"] if not label or label in f["labels"]]
    by_version: dict[str, list] = {}
    for f in sorted(files, key=lambda f: f["basename"]):
        by_version.setdefault(f["version"], []).append(f)
    groups = sorted(by_version.items(), key=lambda kv: version_key(kv[0]), reverse=True)
    return render_template("files.html", groups=groups, label=label, labels=_labels_of(pkg),
                           **_page_context(owner, package, pkg, role, "files"))


def _event_files(ev: dict, package: str) -> list[dict]:
    return [f for f in ev["data"].get("files") or [] if isinstance(f, dict) and f.get("package") == package]


def _describe(ev: dict, package: str) -> str | None:
    d, t = ev["data"], ev["type"]
    if t in ("files_labeled", "files_unlabeled", "label_copied", "label_removed"):
        mine = _event_files(ev, package)
        if not mine:
            return None
        listing = ", ".join(f"{f.get('version')}/{f.get('basename')}" for f in mine[:5])
        more = f" and {len(mine) - 5} more" if len(mine) > 5 else ""
        return {"files_labeled": f"label {d.get('label')} added to {listing}{more}",
                "files_unlabeled": f"label {d.get('label')} removed from {listing}{more}",
                "label_copied": f"label {d.get('from_label')} copied to {d.get('to_label')}: {listing}{more}",
                "label_removed": f"label {d.get('label')} removed: {listing}{more}"}[t]
    if d.get("package") != package:
        return None
    if t == "package_created":
        return f"package created ({'public' if d.get('public') else 'private'})"
    if t == "package_updated":
        ch = d.get("changes") or {}
        parts = []
        if "public" in ch:
            parts.append("made " + ("public" if ch["public"] else "private"))
        if "summary" in ch:
            parts.append("summary changed")
        if ch.get("public_attrs"):
            parts.append("attributes changed")
        return "package updated: " + (", ".join(parts) or "metadata")
    simple = {
        "package_removed": "package deleted",
        "release_created": f"version {d.get('version')} created",
        "release_updated": f"version {d.get('version')} updated",
        "release_removed": f"version {d.get('version')} removed",
        "file_uploaded": f"{'replaced' if d.get('replaced') else 'uploaded'} {d.get('version')}/{d.get('basename')}"
                         f" ({', '.join(d.get('labels') or [])})",
        "file_removed": f"removed {d.get('version')}/{d.get('basename')}",
        "package_transferred": f"transferred to {d.get('to_owner')}",
        "collaborator_added": f"collaborator {d.get('login')} added",
        "collaborator_removed": f"collaborator {d.get('login')} removed",
    }
    return simple.get(t)


def package_history(owner: str, package: str) -> tuple[list[dict], bool]:
    """The events of the owner's stream that changed this package, newest first (at most HISTORY_LIMIT), and
    whether the package was created in this namespace (else it came by a transfer)."""
    events = []
    for ev in clients().registry.package_history(owner, package, 100000):
        text = _describe(ev, package)
        if text:
            events.append({"when": ev["occurred_at"], "actor": ev["actor"], "type": ev["type"], "text": text,
                           "sequence": ev["sequence"]})
    created_here = any(e["type"] == "package_created" for e in events)
    return events[:HISTORY_LIMIT], created_here


@bp.get("/<owner>/<package>/history")
@access.see("api:read", credential=access.SESSION)
def package_history_page(owner, package):
    owner, package, pkg, role = load_package(owner, package)
    events, created_here = package_history(owner, package)
    return render_template("history.html", events=events, created_here=created_here,
                           **_page_context(owner, package, pkg, role, "history"))


# ---------------------------------------------------------------------------------------------- tokens
@bp.get("/settings/tokens")
@access.account("api:read", credential=access.SESSION)
def tokens():
    me = reader()
    if me.anonymous:
        raise Unauthorized("sign in to manage your tokens")
    listed = sorted(clients().auth.list_tokens(me.login), key=lambda t: t.get("created_at") or "", reverse=True)
    current = web_session.current_session()
    current_id = None
    if current:
        from flask import g
        current_id = g.wharf_reader.token_id
    return render_template("tokens.html", tokens=listed, scopes=scope_rules.SCOPES, current_id=current_id,
                           session_prefix=web_session.SESSION_NOTE_PREFIX)
