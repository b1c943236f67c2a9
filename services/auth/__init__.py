"""Auth service: who is who, and who may act on which namespace.

Owns (its own database, ``WHARF_AUTH_DB_URL``): accounts (users and organizations share one namespace of
lower-cased names), organization memberships (today: owners), API tokens (stored only as the keyed sha256
``signing.token_digest``; the plaintext is shown once), passwords (argon2id hashes, never plaintext).

RPC methods (``AuthService`` in ``service_layer/service.py``, nameko service ``auth``):
``create_user``, ``create_org``, ``get_user``, ``user_orgs``, ``add_org_owner``, ``create_token``,
``authenticate``, ``revoke_token``, ``revoke_token_named``, ``list_tokens``, ``token_info``, ``access``.

Events in: none. Events out: none (auth is not event-sourced).
"""
