"""What kind of operation a request is, and whether its credential may do that kind at all: the one place that
checks a token's scopes and an organization token's limit.

Every route of the gateway declares its kind with one of the decorators below; ``create_app`` refuses to start
when a route declares none (``check_declared``), and a gate (``install``) runs before every view: it
authenticates the request's credential the way the route accepts it and decides, from the declaration alone:

====================  =====================================================================================
``public``            nothing is asked of a credential (health, the scope list, the OpenAPI document, static
                      files), or the route checks a proof of its own (password sign-in, a signed upload policy)
``see(action)``       a read whose answer depends on what the reader may see (packages, channels, simple pages,
                      search): a credential that may not do ``action`` here (its scopes do not grant it, or an
                      organization token outside its organization) reads exactly as an anonymous visitor does,
                      so a private thing stays 404 and nothing tells it apart from a missing one
``act(action)``       needs a credential that may do ``action`` on the route's owner: otherwise 403
                      ``InsufficientScope``, the same answer whether the target exists or not
``account(action)``   the user's own account (their tokens, their memberships): as ``act``, and an
                      organization token never may (it acts only on its organization)
``self_``             the presented credential itself (who am I, its own details, revoking it): any valid one
====================  =====================================================================================

A route that answers two audiences at one URL declares its credential as a function of the view's arguments and
the request: ``/conda/<owner>`` is a channel to conda (API credentials) and, asked for by a browser (``Accept:
text/html``), a page about the channel for the person signed in (the session).

The actions are the keys of ``services.kernel.scopes`` (``api:read``, ``api:write``, ``conda:download``,
``pypi:download``, ``pypi:upload``). Views then get the decided reader from ``identity.current_reader()``; the
finer checks of a view (its role on a package, a second owner such as a transfer's target) go through
``identity``, whose ``permits`` is the only test of scopes and organization limits, here and there. An invalid, expired or
revoked token is 401 on every route that looks at credentials (a route choosing its credential per request, like
the channel page of ``/conda/<owner>`` in a browser, looks at the one it chose).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from flask import Flask, current_app, g, request, session

from services.kernel.errors import Unauthorized

from .identity import Reader, authenticate, permits, refuse_scope

PUBLIC, SEE, ACT, ACCOUNT, SELF = "public", "see", "act", "account", "self"
# where a route takes its credential from: an API token (Authorization: token|Bearer, or /t/<token>/ in the
# path), the same or HTTP Basic (pip, uv, twine), the browser's session cookie, or nowhere
API, BASIC, SESSION, NONE = "api", "basic", "session", "none"


@dataclasses.dataclass(frozen=True)
class Policy:
    kind: str
    action: str | None = None
    owner: Callable[[dict], str | None] = lambda args: None      # the namespace acted on, from the view's args
    credential: str | Callable[[dict], str] = API   # or, from the view's args and the request, which one
    path_token: Callable[[dict], str | None] = lambda args: None  # a token carried in the path (/t/<token>/)


def _owner_arg(owner: str | Callable | None) -> Callable[[dict], str | None]:
    if owner is None:
        return lambda args: None
    if callable(owner):
        return owner
    return lambda args: args.get(owner)


def _declare(policy: Policy):
    def mark(view):
        view.wharf_access = policy
        return view
    return mark


def public(view):
    """No credential is looked at."""
    return _declare(Policy(PUBLIC, credential=NONE))(view)


def see(action: str, owner: str | Callable | None = "owner", credential: str | Callable[[dict], str] = API,
        path_token: Callable[[dict], str | None] | None = None):
    return _declare(Policy(SEE, action, _owner_arg(owner), credential, path_token or (lambda args: None)))


def act(action: str, owner: str | Callable | None = "owner", credential: str = API):
    return _declare(Policy(ACT, action, _owner_arg(owner), credential))


def account(action: str, credential: str = API):
    return _declare(Policy(ACCOUNT, action, credential=credential))


def self_(credential: str = API):
    return _declare(Policy(SELF, credential=credential))


def decide(policy: Policy, reader: Reader, owner: str | None) -> Reader:
    """The reader the view works with, or ``InsufficientScope``."""
    if reader.anonymous or policy.kind in (PUBLIC, SELF):
        return reader
    if permits(reader, policy.action, owner, account=policy.kind == ACCOUNT):
        return reader
    if policy.kind == SEE:
        return Reader()            # reads as anonymous: private things stay exactly as invisible as missing ones
    refuse_scope(reader, policy.action)


STATIC = Policy(PUBLIC, credential=NONE)


def _static(endpoint: str) -> bool:
    return endpoint == "static" or endpoint.endswith(".static")    # Flask's own static file views


def policy_of(app: Flask, endpoint: str | None) -> Policy | None:
    if not endpoint:
        return None
    if _static(endpoint):
        return STATIC
    return getattr(app.view_functions.get(endpoint), "wharf_access", None)


def _session_reader(clients) -> Reader:
    """The browser's reader: the session the cookie names (``sid``), authenticated by the auth service as a web
    session (never as an API token). A revoked or expired session signs the browser out (anonymous); it never
    fails the page. ``g.wharf_token`` stays None: a session is no token a view may pass on."""
    sid = session.get("sid")
    if not sid:
        if "token" in session:      # a cookie of an older Wharf held an API token: no longer accepted
            session.clear()
        return Reader()
    try:
        p = clients.auth.authenticate_session(sid)
    except Unauthorized:
        session.clear()
        return Reader()
    return Reader(login=p["login"], scopes=tuple(p.get("scopes") or ()) or None, token_id=p.get("token_id"),
                  org=p.get("org"))


def gate() -> None:
    """Runs before every view: authenticate as the route accepts, decide, remember the reader on ``g``."""
    policy = policy_of(current_app, request.endpoint)
    if policy is None:              # no route matched (404/405 answered by Flask), nothing to decide
        return
    clients = current_app.extensions["wharf.clients"]
    args = request.view_args or {}
    g.wharf_token = None
    credential = policy.credential(args) if callable(policy.credential) else policy.credential
    if credential == NONE:
        reader = Reader()
    elif credential == SESSION:
        reader = _session_reader(clients)
    else:
        token = policy.path_token(args)
        reader = authenticate(clients, token, allow_basic=credential == BASIC)
    owner = policy.owner(args)
    g.wharf_reader = decide(policy, reader, owner)
    g.wharf_policy = policy


def install(app: Flask) -> None:
    app.before_request(gate)


def check_declared(app: Flask) -> None:
    """Every route declares its kind of operation: a route without one would be a route nothing checks."""
    missing = sorted(e for e in app.view_functions if policy_of(app, e) is None)
    if missing:
        raise RuntimeError(f"routes without an access policy (services/gateway/access.py): {', '.join(missing)}")
