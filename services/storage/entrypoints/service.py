"""nameko service ``storage``: each @rpc delegates to the StorageService facade, nothing else.

Bytes never travel over RPC: the gateway PUTs uploads to ``staging_url`` and redirects downloads to ``blob_url``.
"""
from __future__ import annotations

from nameko.extensions import DependencyProvider
from nameko.rpc import rpc

from services.kernel.settings import Settings
from services.nameko_telemetry import Telemetry

from ..bootstrap import bootstrap


class Storage(DependencyProvider):
    def setup(self):
        self.facade = bootstrap(Settings.from_env(mode="distributed"))

    def get_dependency(self, worker_ctx):
        return self.facade


class StorageRpc:
    name = "storage"
    storage = Storage()
    telemetry = Telemetry()     # metrics endpoint, RPC timings, correlation id per worker

    @rpc
    def upload_form(self, dist_id):
        return self.storage.upload_form(dist_id)

    @rpc
    def check_upload(self, form):
        return self.storage.check_upload(form)

    @rpc
    def staging_url(self, dist_id):
        return self.storage.staging_url(dist_id)

    @rpc
    def finalize(self, dist_id, owner, package, version, basename, distribution_type, sha256=None):
        return self.storage.finalize(dist_id, owner, package, version, basename, distribution_type, sha256)

    @rpc
    def drop_stage(self, dist_id):
        return self.storage.drop_stage(dist_id)

    @rpc
    def blob_url(self, key, filename=None, internal=False, private=False):
        return self.storage.blob_url(key, filename, internal, private)

    @rpc
    def ping(self):
        return "pong"
