"""nameko service ``registry``: RPC over RabbitMQ, delegating every call to ``RegistryService``.

``RegistryDependency`` bootstraps the facade from ``WHARF_*`` variables (distributed mode) and runs the outbox
relay in a managed thread: ``relay_pending()`` as soon as a command of this process committed events, every
0.2 s otherwise (what other replicas committed), at once again while there is a backlog; it publishes through
the pika publisher with confirms.
"""
from __future__ import annotations

import logging
import threading

from nameko.extensions import DependencyProvider
from nameko.rpc import rpc

from services.kernel.adapters.amqp_publisher import AmqpEventPublisher
from services.kernel.errors import WharfError
from services.kernel.settings import Settings
from services.nameko_telemetry import Telemetry

from ..bootstrap import bootstrap

log = logging.getLogger("wharf.registry.relay")
STOP_WAIT = 30.0    # longest a stop waits for the relay's round in progress
# domain errors are answers, not crashes: nameko logs them as warnings and still sends them to the caller
domain_rpc = rpc(expected_exceptions=(WharfError,))


class RegistryDependency(DependencyProvider):
    def setup(self):
        settings = Settings.from_env(mode="distributed")
        self.publisher = AmqpEventPublisher(settings.amqp_uri)
        self.relay_interval = settings.relay_poll      # seconds between rounds when not woken (WHARF_RELAY_POLL)
        self._wake = threading.Event()      # green under `nameko run` (eventlet-patched)
        self.service = bootstrap(settings, publisher=self.publisher, on_commit=self._wake.set)
        self._running = False
        self._loop_done = threading.Event()
        self._loop_done.set()            # until the loop runs

    def start(self):
        self._running = True
        self._loop_done.clear()
        self.container.spawn_managed_thread(self._relay_loop, identifier="registry.outbox_relay")

    def stop(self):
        """The relay finishes the round it is in and closes its broker connection itself (within
        ``STOP_WAIT``); the container would otherwise kill it mid-publish, inside pika."""
        self._running = False
        self._wake.set()
        self._loop_done.wait(STOP_WAIT)

    def kill(self):
        self.stop()

    def _relay_loop(self):
        try:
            while self._running:
                published = 0
                try:
                    published = self.service.relay_pending()
                except Exception:  # noqa: BLE001 - the relay must outlive database or broker hiccups
                    log.exception("outbox relay failed; retrying")
                if not published and self._running:
                    self._wake.wait(self.relay_interval)
                    self._wake.clear()
            self.publisher.close()
        finally:
            self._loop_done.set()

    def get_dependency(self, worker_ctx):
        return self.service


class RegistryRpc:
    name = "registry"
    registry = RegistryDependency()
    telemetry = Telemetry()     # metrics endpoint, RPC timings, correlation id per worker

    @rpc
    def ping(self):
        return "pong"  # `wharf health registry` (probes)

    @domain_rpc
    def get_package(self, owner, package, private_ok=False):
        return self.registry.get_package(owner, package, private_ok)

    @domain_rpc
    def list_packages(self, owner, private_ok=False, viewer=None, extra_packages=()):
        return self.registry.list_packages(owner, private_ok, viewer, extra_packages)

    @domain_rpc
    def create_package(self, owner, package, public=True, public_attrs=None, actor="system", correlation_id=None):
        return self.registry.create_package(owner, package, public, public_attrs, actor, correlation_id)

    @domain_rpc
    def update_package(self, owner, package, changes, actor="system", correlation_id=None):
        return self.registry.update_package(owner, package, changes, actor, correlation_id)

    @domain_rpc
    def remove_package(self, owner, package, actor="system", correlation_id=None):
        return self.registry.remove_package(owner, package, actor, correlation_id)

    @domain_rpc
    def get_release(self, owner, package, version, private_ok=True):
        return self.registry.get_release(owner, package, version, private_ok)

    @domain_rpc
    def create_release(self, owner, package, version, attrs=None, actor="system", correlation_id=None):
        return self.registry.create_release(owner, package, version, attrs, actor, correlation_id)

    @domain_rpc
    def update_release(self, owner, package, version, attrs, actor="system", correlation_id=None):
        return self.registry.update_release(owner, package, version, attrs, actor, correlation_id)

    @domain_rpc
    def remove_release(self, owner, package, version, actor="system", correlation_id=None):
        return self.registry.remove_release(owner, package, version, actor, correlation_id)

    @domain_rpc
    def get_file(self, owner, package, version, basename, private_ok=True):
        return self.registry.get_file(owner, package, version, basename, private_ok)

    @domain_rpc
    def stage(self, owner, package, version, basename, distribution_type, sha256=None, labels=None, attrs=None,
              dependencies=None, description=None, actor="system"):
        return self.registry.stage(owner, package, version, basename, distribution_type, sha256, labels, attrs,
                                   dependencies, description, actor)

    @domain_rpc
    def get_staged(self, dist_id):
        return self.registry.get_staged(dist_id)

    @domain_rpc
    def discard_staged(self, dist_id):
        return self.registry.discard_staged(dist_id)

    @domain_rpc
    def commit(self, dist_id, blob_meta, actor="system", correlation_id=None):
        return self.registry.commit(dist_id, blob_meta, actor, correlation_id)

    @domain_rpc
    def committed_file(self, dist_id):
        return self.registry.committed_file(dist_id)

    @domain_rpc
    def remove_file(self, owner, package, version, basename, actor="system", correlation_id=None):
        return self.registry.remove_file(owner, package, version, basename, actor, correlation_id)

    @domain_rpc
    def package_history(self, owner, package, limit=200):
        return self.registry.package_history(owner, package, limit)

    @domain_rpc
    def count_download(self, owner, package, version, basename):
        return self.registry.count_download(owner, package, version, basename)

    @domain_rpc
    def list_labels(self, owner, private_ok=False):
        return self.registry.list_labels(owner, private_ok)

    @domain_rpc
    def get_label(self, owner, label, private_ok=False):
        return self.registry.get_label(owner, label, private_ok)

    @domain_rpc
    def label_files(self, owner, label, package=None, version=None, basename=None, actor="system",
                    correlation_id=None):
        return self.registry.label_files(owner, label, package, version, basename, actor, correlation_id)

    @domain_rpc
    def unlabel_files(self, owner, label, package=None, version=None, basename=None, actor="system",
                      correlation_id=None):
        return self.registry.unlabel_files(owner, label, package, version, basename, actor, correlation_id)

    @domain_rpc
    def copy_label(self, owner, from_label, to_label, actor="system", correlation_id=None):
        return self.registry.copy_label(owner, from_label, to_label, actor, correlation_id)

    @domain_rpc
    def remove_label(self, owner, label, actor="system", correlation_id=None):
        return self.registry.remove_label(owner, label, actor, correlation_id)

    @domain_rpc
    def lock_label(self, owner, label, locked=True, actor="system", correlation_id=None):
        return self.registry.lock_label(owner, label, locked, actor, correlation_id)

    @domain_rpc
    def copy_files(self, owner, package, version, basename=None, to_owner=None, from_label="main",
                   to_label="main", mode="add", actor="system", correlation_id=None):
        return self.registry.copy_files(owner, package, version, basename, to_owner, from_label, to_label, mode,
                                        actor, correlation_id)

    @domain_rpc
    def transfer_package(self, owner, package, to_owner, actor="system", correlation_id=None):
        return self.registry.transfer_package(owner, package, to_owner, actor, correlation_id)

    @domain_rpc
    def add_collaborator(self, owner, package, login, actor="system", correlation_id=None):
        return self.registry.add_collaborator(owner, package, login, actor, correlation_id)

    @domain_rpc
    def remove_collaborator(self, owner, package, login, actor="system", correlation_id=None):
        return self.registry.remove_collaborator(owner, package, login, actor, correlation_id)

    @domain_rpc
    def list_collaborators(self, owner, package):
        return self.registry.list_collaborators(owner, package)

    @domain_rpc
    def is_collaborator(self, owner, package, login):
        return self.registry.is_collaborator(owner, package, login)

    @domain_rpc
    def collaborator_packages(self, owner, login):
        return self.registry.collaborator_packages(owner, login)

    @domain_rpc
    def search(self, query="", package_type=None, platform=None, viewer=None, private_owners=(),
               private_packages=()):
        return self.registry.search(query, package_type, platform, viewer, private_owners, private_packages)

    @domain_rpc
    def recent(self, limit=10, viewer=None, private_owners=(), private_packages=()):
        return self.registry.recent(limit, viewer, private_owners, private_packages)

    @domain_rpc
    def read_stream(self, stream_id, after_sequence=0, limit=1000):
        return self.registry.read_stream(stream_id, after_sequence, limit)

    @domain_rpc
    def stream_heads(self):
        return self.registry.stream_heads()

    @domain_rpc
    def read_log(self, after_position=0, limit=1000):
        return self.registry.read_log(after_position, limit)

    @domain_rpc
    def relay_pending(self, limit=500):
        return self.registry.relay_pending(limit)

    @domain_rpc
    def rebuild_projections(self):
        return self.registry.rebuild_projections()
