"""Account pages and forms: changing one's password, and deleting an organization's group from its members page.
Each POST carries the session's CSRF token (blueprint.py) and makes the same auth-service call as the API does
(``POST /api/user/password``, ``DELETE /api/group/<org>/<group>``), so the same rules decide."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from services.kernel import names
from services.kernel.errors import BadRequest, TooManyRequests, Unauthorized

from .. import access
from . import session as web_session
from .blueprint import bp, clients, settings


def _me():
    me = web_session.reader()
    if me.anonymous:
        raise Unauthorized("sign in first")
    return me


def _form(error: str | None = None, status: int = 200):
    return render_template("password.html", error=error,
                           min_length=settings().min_password_length), status


@bp.get("/settings/password")
@access.account("api:read", credential=access.SESSION)
def password_form():
    _me()
    return _form()


@bp.post("/settings/password")
@access.account("api:write", credential=access.SESSION)
def change_password():
    """The current password, the new one twice. This browser stays signed in; every other web sign-in of the user
    is ended. API tokens are not touched (the page says so)."""
    me = _me()
    current = request.form.get("current_password", "")
    new = request.form.get("new_password", "")
    if new != request.form.get("confirm_password", ""):
        return _form("The two new passwords differ.", 400)
    try:
        out = clients().auth.change_password(me.login, current, new, remote_addr=request.remote_addr,
                                             keep_session=me.token_id)
    except Unauthorized:
        return _form("Your current password is not right.", 401)
    except TooManyRequests as exc:
        return _form(exc.message, 429)
    except BadRequest as exc:
        return _form(exc.message, 400)
    ended = out.get("sessions_revoked", 0)
    flash("Password changed." + (f" {ended} other sign-in(s) ended." if ended else ""))
    return redirect(url_for("web.password_form"), code=303)


@bp.post("/<owner>/-/groups/<group>/delete")
@access.act("api:write", credential=access.SESSION)
def delete_group(owner, group):
    """Delete a group of an organization (its admins only); confirmed by typing the group's name."""
    me = _me()
    owner = names.owner(owner)
    group = names.label(group).lower()
    if request.form.get("confirm", "").strip().lower() != group:
        raise BadRequest(f"type the group's name ({group}) to confirm its deletion")
    clients().auth.delete_group(owner, group, actor=me.login)
    flash(f"Group {owner}/{group} deleted; its members lost what it granted.")
    return redirect(url_for("web.members", owner=owner), code=303)
