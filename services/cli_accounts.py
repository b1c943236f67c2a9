"""Account administration commands of ``wharf`` (registered by ``services/cli.py``), for whoever runs the server:
they reach the databases directly, with the server's environment, as ``wharf user create`` does.

    wharf user list [--json]                        every user: state, e-mail, organizations
    wharf user passwd LOGIN [--password PW]         set a new password (prompted twice when not given); the
                                                    user's web sessions end, API tokens stay
    wharf user disable LOGIN | enable LOGIN         no login and every token refused (401) / allowed again
    wharf user delete LOGIN [--remove-packages]     revoke every token, leave every organization and group,
                                                    keep the name reserved; refused while the user's namespace
                                                    holds packages, unless --remove-packages removes them
                                                    (recorded as package_removed events: the indexes follow)
    wharf org list [--json]                         every organization: owners and groups
    wharf org add-owner ORG LOGIN                   make a user an owner (admin) of an organization

In embedded mode the commands refuse a data directory without the server's databases instead of creating a new,
empty one (``--data`` / ``WHARF_DATA_DIR``; the default no longer depends on the working directory)."""
from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path

from services.kernel.errors import WharfError

ADMIN_ACTOR = "system"
SHOWN_PACKAGES = 10


class NoServerData(WharfError):
    """``wharf`` prints the message and exits 2, as for every domain error."""


def require_server_data(args) -> None:
    """An administration command must find the server's data, never start a new data directory: checked before
    the settings are made (in embedded mode they create the data directory and its secret key)."""
    from services.kernel.settings import server_data_dir
    data_dir = server_data_dir(getattr(args, "data", None))
    if data_dir is None:      # the auth database is elsewhere (WHARF_AUTH_DB_URL, distributed mode)
        return
    if (Path(data_dir) / "auth.db").exists():
        return
    where = os.path.abspath(data_dir)
    hint = ""
    if (Path.cwd() / "data" / "auth.db").exists() and os.path.abspath("data") != where:
        hint = (f"; ./data here holds Wharf data (the default of older versions): use --data {os.path.abspath('data')}")
    raise NoServerData(f"no Wharf data in {where} (no auth.db): start the server first (`wharf serve` prints its "
                       f"data directory), or point --data or WHARF_DATA_DIR at the server's data directory{hint}")


def legacy_data_hint(settings) -> str | None:
    """At ``wharf serve``: a ./data of an older Wharf's default in the working directory that this server will
    not use."""
    here = Path.cwd() / "data"
    if (here / "auth.db").exists() and os.path.abspath(here) != os.path.abspath(settings.data_dir):
        return (f"note: {here} holds Wharf data (./data was the default before); this server uses "
                f"{os.path.abspath(settings.data_dir)}. Pass --data {here} to keep using it.")
    return None


def admin_auth(args, settings=None):
    """The auth facade on the server's databases (``settings``: made from ``args`` when not given)."""
    from services.auth.bootstrap import bootstrap
    return bootstrap(settings or _settings(args))


def _settings(args):
    from services.cli import _settings as settings_of
    require_server_data(args)
    return settings_of(args)


def _print(rows: list[dict], as_json: bool, columns: list[tuple[str, str]]) -> None:
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = [[title for _key, title in columns]]
    for row in rows:
        table.append([", ".join(v) if isinstance(v := row.get(key), list) else str(v if v is not None else "-")
                      for key, _title in columns])
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    for r in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())


# ------------------------------------------------------------------------------------------------ commands
def cmd_user_list(args) -> int:
    users = admin_auth(args).list_users()
    _print(users, args.json, [("login", "LOGIN"), ("state", "STATE"), ("email", "EMAIL"),
                              ("created_at", "CREATED"), ("orgs", "ORGANIZATIONS")])
    return 0


def cmd_user_passwd(args) -> int:
    auth = admin_auth(args)
    password = args.password
    if password is None:
        password = getpass.getpass(f"New password for {args.login}: ")
        if getpass.getpass("Again: ") != password:
            print("error: the two passwords differ", file=sys.stderr)
            return 2
    out = auth.set_password(args.login, password)
    print(f"password of {out['login']} changed; {out['sessions_revoked']} web session(s) ended")
    return 0


def cmd_user_disable(args) -> int:
    out = admin_auth(args).disable_user(args.login)
    print(f"{out['login']} is disabled: no login, every token refused ({out['sessions_revoked']} web session(s) "
          f"ended); `wharf user enable {out['login']}` undoes it")
    return 0


def cmd_user_enable(args) -> int:
    out = admin_auth(args).enable_user(args.login)
    print(f"{out['login']} is enabled")
    return 0


def cmd_user_delete(args) -> int:
    from services.kernel import names
    from services.registry.bootstrap import bootstrap as registry_bootstrap
    settings = _settings(args)
    auth = admin_auth(args, settings)
    login = names.owner(args.login)
    auth.get_user(login)                                      # NotFound first, before the registry is asked
    registry = registry_bootstrap(settings)                   # no relay here: the running registry's relay
    packages = [p["name"] for p in registry.list_packages(login, private_ok=True)]   # publishes what this writes
    if packages and not args.remove_packages:
        shown = ", ".join(packages[:SHOWN_PACKAGES]) + (" ..." if len(packages) > SHOWN_PACKAGES else "")
        print(f"error: the namespace {login} holds {len(packages)} package(s) ({shown}); remove them or transfer "
              f"them to an organization first, or pass --remove-packages to remove them with the user",
              file=sys.stderr)
        return 1
    out = auth.delete_user(login)                             # every token revoked: nothing new can arrive now
    removed = 0
    if args.remove_packages:
        for package in registry.list_packages(login, private_ok=True):
            registry.remove_package(login, package["name"], actor=ADMIN_ACTOR)
            removed += 1
    print(f"deleted user {login}: {out['tokens_revoked']} token(s) revoked, {out['memberships_removed']} "
          f"membership(s) removed, {removed} package(s) removed; the name stays reserved")
    return 0


def cmd_org_list(args) -> int:
    orgs = admin_auth(args).list_orgs()
    _print(orgs, args.json, [("login", "ORGANIZATION"), ("owners", "OWNERS"), ("groups", "GROUPS"),
                             ("created_at", "CREATED")])
    return 0


def cmd_org_add_owner(args) -> int:
    auth = admin_auth(args)
    auth.add_org_owner(args.org, args.login)
    print(f"{args.login.lower()} is now an owner of {args.org.lower()}")
    return 0


def add_account_commands(user_parsers, org_parsers) -> None:
    """Register the sub-commands above on ``wharf user`` and ``wharf org`` (every one takes ``--data``)."""
    def add(parsers, name, fn, help_text):
        p = parsers.add_parser(name, help=help_text)
        p.add_argument("--data")
        p.set_defaults(fn=fn)
        return p

    p = add(user_parsers, "list", cmd_user_list, "list users: state, e-mail, organizations")
    p.add_argument("--json", action="store_true")
    p = add(user_parsers, "passwd", cmd_user_passwd, "set a user's password (prompted when --password is not given)")
    p.add_argument("login")
    p.add_argument("--password")
    for name, fn, text in (("disable", cmd_user_disable, "refuse the user's logins and every token of theirs"),
                           ("enable", cmd_user_enable, "let a disabled user log in again")):
        add(user_parsers, name, fn, text).add_argument("login")
    p = add(user_parsers, "delete", cmd_user_delete, "delete a user (tokens revoked, memberships removed)")
    p.add_argument("login")
    p.add_argument("--remove-packages", action="store_true",
                   help="also remove every package of the user's namespace (otherwise the deletion is refused)")
    p = add(org_parsers, "list", cmd_org_list, "list organizations: owners and groups")
    p.add_argument("--json", action="store_true")
    p = add(org_parsers, "add-owner", cmd_org_add_owner, "make a user an owner of an organization")
    p.add_argument("org")
    p.add_argument("login")
