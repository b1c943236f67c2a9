"""Auth service: who is who, and who may act on which namespace and package.

Owns (its own database, ``WHARF_AUTH_DB_URL``): accounts (users and organizations share one namespace of
lower-cased names), organization owners, organization groups (their perms, members and packages), API tokens
(stored only as the keyed sha256 ``signing.token_digest``; the plaintext is shown once), passwords (argon2id
hashes, never plaintext). Collaborators on single packages are NOT auth's business: the registry owns them.

Roles (``domain/roles.py``), ordered ``read < write < admin``; the effective role is the max over every grant:
- a user is ``admin`` of their own namespace; an organization's owners are ``admin`` of all its packages;
- a group belongs to one organization, has a name (the label rule, lower-cased, at most 64 characters) and
  ``perms`` (read|write|admin). It grants its perms to its members on the packages added to it. A group with
  NO packages grants its perms on the WHOLE organization: every package, including creating new ones. Hence
  removing a group's last package widens it to the whole organization.
- ``access(login, owner)`` is the namespace-wide role (own namespace, owner, groups without packages);
  ``access(login, owner, package)`` is max(that, perms of the login's groups listing the package).
- Admins of an organization (owners, members of an ``admin`` group without packages) manage its groups and may
  create organization tokens; any member (owner or member of any of its groups) may read its groups.
Auth does not check that a package exists (the gateway asks the registry first), and an organization token
(``principal.org``) is limited to its organization by the gateway; ``authenticate`` returns that ``org``.

RPC methods (``AuthService`` in ``service_layer/service.py``, nameko service ``auth``):
``create_user``, ``create_org``, ``get_user``, ``user_orgs``, ``visible_orgs``, ``add_org_owner``,
``list_users``, ``list_orgs``, ``set_password``, ``change_password``, ``disable_user``, ``enable_user``,
``delete_user``, ``create_token``, ``authenticate``, ``authenticate_password``, ``create_session``,
``authenticate_session``, ``end_session``, ``revoke_token``, ``revoke_token_named``, ``list_tokens``, ``token_info``,
``access(login, owner, package=None)``, ``grants``, ``visible_scope``, ``org_members``, ``create_group``, ``delete_group``,
``list_groups``, ``get_group``, ``group_members``, ``add_group_member``, ``remove_group_member``,
``is_group_member``, ``group_packages``, ``add_group_package``, ``remove_group_package``, ``ping``.

Accounts are ``active``, ``disabled`` (no login, every token refused) or ``deleted`` (a tombstone keeping the name
reserved); see ``service_layer/accounts.py``. Web sign-ins are session tokens that only ``authenticate_session``
accepts. Password attempts are rate limited per (address, account) pair with a backoff, and per address
(``domain/throttle.py``).

Events in: none. Events out: none (auth is not event-sourced: its state changes are commands on its own tables,
each one transaction).
"""
