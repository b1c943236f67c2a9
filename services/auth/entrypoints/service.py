"""nameko service ``auth``: every AuthService method as an RPC, each a one-line delegation.

Domain errors travel as nameko RemoteError carrying the class name (``exc_type``), which the gateway rebuilds
with ``errors.from_remote``; they are declared expected so nameko does not log them as crashes.
"""
from __future__ import annotations

from nameko.extensions import DependencyProvider
from nameko.rpc import rpc

from services.kernel.errors import WharfError
from services.kernel.settings import Settings
from services.nameko_telemetry import Telemetry

from ..bootstrap import bootstrap

expected = rpc(expected_exceptions=WharfError)


class AuthFacade(DependencyProvider):
    """Builds the facade once per container from the WHARF_* environment (distributed mode)."""

    def setup(self):
        self.facade = bootstrap(Settings.from_env(mode="distributed"))

    def get_dependency(self, worker_ctx):
        return self.facade


class AuthRpc:
    name = "auth"
    auth = AuthFacade()
    telemetry = Telemetry()     # metrics endpoint, RPC timings, correlation id per worker

    @expected
    def create_user(self, login, password, email=None, name=None):
        return self.auth.create_user(login, password, email=email, name=name)

    @expected
    def create_org(self, org, owner):
        return self.auth.create_org(org, owner)

    @expected
    def add_org_owner(self, org, login):
        return self.auth.add_org_owner(org, login)

    @expected
    def get_user(self, login):
        return self.auth.get_user(login)

    @expected
    def user_orgs(self, login):
        return self.auth.user_orgs(login)

    @expected
    def visible_orgs(self, login, viewer=None):
        return self.auth.visible_orgs(login, viewer)

    @expected
    def list_users(self):
        return self.auth.list_users()

    @expected
    def list_orgs(self):
        return self.auth.list_orgs()

    @expected
    def set_password(self, login, password):
        return self.auth.set_password(login, password)

    @expected
    def change_password(self, login, current_password, new_password, remote_addr=None, keep_session=None):
        return self.auth.change_password(login, current_password, new_password, remote_addr, keep_session)

    @expected
    def disable_user(self, login):
        return self.auth.disable_user(login)

    @expected
    def enable_user(self, login):
        return self.auth.enable_user(login)

    @expected
    def delete_user(self, login):
        return self.auth.delete_user(login)

    @expected
    def access(self, login, owner, package=None):
        return self.auth.access(login, owner, package)

    @expected
    def grants(self, login, owner):
        return self.auth.grants(login, owner)

    @expected
    def visible_scope(self, login):
        return self.auth.visible_scope(login)

    @expected
    def org_members(self, org):
        return self.auth.org_members(org)

    @expected
    def create_group(self, org, group, perms, actor):
        return self.auth.create_group(org, group, perms, actor)

    @expected
    def delete_group(self, org, group, actor):
        return self.auth.delete_group(org, group, actor)

    @expected
    def list_groups(self, org, actor):
        return self.auth.list_groups(org, actor)

    @expected
    def get_group(self, org, group, actor):
        return self.auth.get_group(org, group, actor)

    @expected
    def group_members(self, org, group, actor):
        return self.auth.group_members(org, group, actor)

    @expected
    def add_group_member(self, org, group, login, actor):
        return self.auth.add_group_member(org, group, login, actor)

    @expected
    def remove_group_member(self, org, group, login, actor):
        return self.auth.remove_group_member(org, group, login, actor)

    @expected
    def is_group_member(self, org, group, login):
        return self.auth.is_group_member(org, group, login)

    @expected
    def group_packages(self, org, group, actor):
        return self.auth.group_packages(org, group, actor)

    @expected
    def add_group_package(self, org, group, package, actor):
        return self.auth.add_group_package(org, group, package, actor)

    @expected
    def remove_group_package(self, org, group, package, actor):
        return self.auth.remove_group_package(org, group, package, actor)

    @expected
    def create_token(self, login, password, note, scopes=None, max_age=None, org=None, fail_if_exists=False,
                     hostname=None, remote_addr=None, application=None):
        return self.auth.create_token(login, password, note, scopes=scopes, max_age=max_age, org=org,
                                      fail_if_exists=fail_if_exists, hostname=hostname,
                                      remote_addr=remote_addr, application=application)

    @expected
    def authenticate_password(self, login, password, remote_addr=None):
        return self.auth.authenticate_password(login, password, remote_addr)

    @expected
    def create_session(self, login, password, max_age, remote_addr=None, user_agent=None):
        return self.auth.create_session(login, password, max_age, remote_addr=remote_addr, user_agent=user_agent)

    @expected
    def authenticate_session(self, session):
        return self.auth.authenticate_session(session)

    @expected
    def end_session(self, session):
        return self.auth.end_session(session)

    @expected
    def authenticate(self, token):
        return self.auth.authenticate(token)

    @expected
    def token_info(self, token):
        return self.auth.token_info(token)

    @expected
    def revoke_token(self, token):
        return self.auth.revoke_token(token)

    @expected
    def revoke_token_named(self, login, name, org=None):
        return self.auth.revoke_token_named(login, name, org=org)

    @expected
    def list_tokens(self, login):
        return self.auth.list_tokens(login)

    @rpc
    def ping(self):
        return "pong"
