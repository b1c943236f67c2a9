"""The HTTP front of the gateway in both modes: waitress, with time limits per connection.

``wharf serve`` serves the embedded gateway with it; ``wharf run gateway`` runs it inside each gunicorn worker
(``WaitressWorker``: gunicorn still forks, watches and restarts the workers, waitress does their I/O).

Why waitress. Its one I/O thread (asyncore on ``poll``) reads every request, headers and body, without a thread
of its own, and hands only complete requests to the application threads. A client that connects and sends
nothing, half its headers, or a body a byte at a time costs a socket and a buffer, never a thread, so it cannot
make a normal client wait. gunicorn's ``gthread`` worker gives each connection with data a thread that reads
the request from a blocking socket: 10 connections that sent half a request were enough to leave some normal
requests unanswered (issue 15, item 6). What waitress lacked, this module adds:

- ``Limits.header_timeout``: the longest time from a request's first byte to the end of its headers. waitress
  only closes connections idle for ``channel_timeout`` (a client sending a byte every few seconds is never
  idle) and only those with no partial request.
- ``Limits.body_timeout``: the longest time without a byte while a body arrives, or while a response waits
  for a client that does not read it (that last one holds an application thread in waitress once more than
  ``outbuf_high_watermark`` bytes wait; it was never cut).
- ``Limits.keepalive``: the longest idle time between two requests of a connection.
- ``Limits.max_connections``: per process; waitress's default of 100 was the limit the slow clients reached
  (100 connections that sent half a request stopped ``wharf serve`` accepting for 300 s). Above it new
  connections wait in the listen backlog. The open-files limit is raised to fit.

Connections are cut between two rounds of the I/O loop (``Front.serve_once``), never while the loop is
registering or dispatching descriptors, so a descriptor number freed by a cut cannot be mistaken for a new one.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time

from gunicorn.workers.base import Worker
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.buffers import ReadOnlyFileBasedBuffer
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

log = logging.getLogger("wharf.http")

LARGE_WRITE = 256 * 1024     # bytes of one write that are sent from where they are, not copied into a buffer
TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: 16\r\n\r\nRequest Timeout\n")


@dataclasses.dataclass(frozen=True)
class Limits:
    max_connections: int = 1000      # per process
    header_timeout: float = 30.0     # connection (first request) or first byte (later ones) -> end of headers
    body_timeout: float = 60.0       # without a byte, reading a body or writing to a client that does not read
    keepalive: float = 75.0          # idle between two requests of one connection
    threads: int = 16                # application threads
    max_body: int = 2 * 1024 ** 3 + 1024 ** 2

    @classmethod
    def from_settings(cls, settings, threads: int) -> "Limits":
        return cls(max_connections=settings.gateway_max_connections,
                   header_timeout=settings.gateway_header_timeout,
                   body_timeout=settings.gateway_body_timeout,
                   keepalive=settings.gateway_keepalive,
                   threads=threads,
                   max_body=settings.max_upload_size + 1024 * 1024)


class _Channel(HTTPChannel):
    """waitress's connection, remembering since when it has been waiting for the headers of a request: from the
    connection itself for the first request (a client that connects and sends nothing is a slow client too),
    from its first byte for a later one (between two requests the keep-alive limit applies)."""

    head_since: float | None = None      # time.time(); None: not waiting for headers

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.head_since = self.creation_time

    def received(self, data):
        if data and self.request is None and self.head_since is None:
            self.head_since = time.time()
        done = super().received(data)
        if self.request is None or self.request.headers_finished:
            self.head_since = None
        elif self.head_since is None:         # the bytes that finished a body began the next request
            self.head_since = time.time()
        return done

    def write_soon(self, data):
        """A large body (a repodata.json of tens of MB is one write) is sent from the application's own bytes.
        waitress copies every write into its output buffer, which spills anything above ``outbuf_overflow``
        (1 MB) into a temporary file: 38 MB written to disk and read back per response (about half gthread's
        rate for such responses in a run on this machine; on a par with it this way)."""
        if type(data) is bytes and len(data) >= LARGE_WRITE:
            return super().write_soon(_BytesBuffer(data))
        return super().write_soon(data)


class _BytesBuffer(ReadOnlyFileBasedBuffer):
    """An output buffer over one immutable bytes object, handed to the socket in slices of a memoryview: no copy
    (waitress appends a ``ReadOnlyFileBasedBuffer``, its ``wsgi.file_wrapper``, to its output as it is)."""

    def __init__(self, data: bytes):       # noqa: super().__init__ wants a file
        self.view = memoryview(data)
        self.pos = 0
        self.remain = len(data)

    def prepare(self, size=None):
        return self.remain

    def get(self, numbytes=-1, skip=False):
        if numbytes < 0 or numbytes > self.remain:
            numbytes = self.remain
        chunk = self.view[self.pos:self.pos + numbytes]
        if skip:
            self.skip(numbytes)
        return chunk

    def skip(self, numbytes, allow_prune=0):
        self.pos += numbytes
        self.remain -= numbytes

    def prune(self):
        pass

    def close(self):
        self.remain = 0


class _Server(TcpWSGIServer):
    channel_class = _Channel

    def maintenance(self, now):
        """waitress's own sweep (idle for ``channel_timeout``) is replaced by ``Front.reap``."""


class Front:
    """One process's HTTP server: bind ``host``/``port`` (``OSError`` when the port is taken) or serve the
    already-listening ``sockets`` (gunicorn's). ``serve_once`` runs one round of the I/O loop and then cuts the
    connections over their limits."""

    REAP_EVERY = 0.5   # seconds between two sweeps of the open connections

    def __init__(self, app, limits: Limits, host: str | None = None, port: int | None = None,
                 sockets: list | None = None):
        self.limits = limits
        raise_open_files_limit(limits.max_connections + 64)
        kw = dict(threads=limits.threads, ident="wharf", connection_limit=limits.max_connections,
                  asyncore_use_poll=True,      # select() cannot watch descriptors above 1023
                  max_request_body_size=limits.max_body)     # (channel_timeout: unused, see _Server)
        self.map: dict = {}
        self.dispatcher = ThreadedTaskDispatcher()
        self.dispatcher.set_thread_count(limits.threads)
        self.servers: list[_Server] = []
        try:
            if sockets:
                adj = Adjustments(sockets=sockets, **kw)
                for sock in sockets:
                    self.servers.append(_Server(app, self.map, _sock=sock, dispatcher=self.dispatcher, adj=adj,
                                                bind_socket=False,
                                                sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname())))
            else:
                adj = Adjustments(host=host, port=port, **kw)
                for sockinfo in adj.listen:
                    self.servers.append(_Server(app, self.map, dispatcher=self.dispatcher, adj=adj,
                                                sockinfo=sockinfo))
        except BaseException:
            self.close()
            raise
        self._next_reap = 0.0

    @property
    def address(self) -> tuple[str, int]:
        s = self.servers[0]
        return s.effective_host, s.effective_port

    def serve_once(self, timeout: float = 1.0) -> None:
        wasyncore.loop(timeout=timeout, use_poll=True, map=self.map, count=1)
        now = time.time()
        if now >= self._next_reap:
            self._next_reap = now + self.REAP_EVERY
            self.reap(now)

    def serve_forever(self) -> None:
        while True:
            self.serve_once(1.0)

    def channels(self) -> list[_Channel]:
        return [ch for s in self.servers for ch in list(s.active_channels.values())]

    def reap(self, now: float | None = None) -> dict[str, int]:
        """Close the connections over a limit; returns how many per reason."""
        now = time.time() if now is None else now
        lim = self.limits
        cut: dict[str, int] = {}
        for ch in self.channels():
            reason = _over_limit(ch, lim, now)
            if reason is None:
                continue
            if reason in ("headers", "body"):
                try:          # the client is told why (it is still sending, so it is reading too, or gone)
                    ch.socket.send(TIMEOUT_RESPONSE)
                except OSError:
                    pass
            ch.handle_close()
            cut[reason] = cut.get(reason, 0) + 1
        if cut.keys() - {"idle"}:
            log.info("closed slow connections: %s (limits: headers %gs, body %gs; %d open)",
                     ", ".join(f"{n} {r}" for r, n in sorted(cut.items())), lim.header_timeout, lim.body_timeout,
                     len(self.channels()))
        return cut

    def stop_accepting(self) -> None:
        for s in self.servers:
            if s.accepting:
                s.del_channel()        # out of the loop; the socket itself belongs to whoever bound it
                s.accepting = False

    def busy(self) -> bool:
        """A request is with the application, or a response is still being sent."""
        return any(ch.requests or ch.total_outbufs_len for ch in self.channels())

    def close(self, timeout: float = 5.0) -> None:
        for ch in self.channels():
            ch.handle_close()
        for s in self.servers:
            try:
                s.close()          # the listening socket and the loop's wake-up pipe
            except OSError:
                pass
        self.servers = []
        self.dispatcher.shutdown(timeout=timeout)


def _over_limit(ch: _Channel, lim: Limits, now: float) -> str | None:
    """Why ``ch`` must be closed now, or None: ``headers`` (not complete within the header limit of the
    connection or of the request's first byte), ``body`` (silent longer than the body limit), ``unread`` (a
    response unsent for as long), ``idle`` (between two requests, longer than the keep-alive limit)."""
    if ch.requests:                                      # with the application
        if ch.total_outbufs_len and now - ch.last_activity > lim.body_timeout:
            return "unread"                              # the response is not being read
        return None
    if ch.head_since is not None:
        return "headers" if now - ch.head_since > lim.header_timeout else None
    if ch.request is not None:                           # headers done, the body is still arriving
        return "body" if now - ch.last_activity > lim.body_timeout else None
    if ch.total_outbufs_len:                             # the end of a response is still being sent
        return "unread" if now - ch.last_activity > lim.body_timeout else None
    return "idle" if now - ch.last_activity > lim.keepalive else None


def raise_open_files_limit(wanted: int) -> None:
    """Every connection is a descriptor: raise the soft limit of open files towards ``wanted`` (up to the hard
    limit), and say so when the hard limit is lower."""
    try:
        import resource
    except ImportError:      # not on this platform
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        log.warning("open files limit is %d: fewer connections than WHARF_GATEWAY_MAX_CONNECTIONS can be open "
                    "(raise `ulimit -n`)", target)


def gunicorn_worker(limits: Limits):
    """A gunicorn worker class serving with ``Front`` and ``limits`` (see ``WaitressWorker``)."""
    return type("WaitressWorker", (WaitressWorker,), {"limits": limits})


class WaitressWorker(Worker):
    """A gunicorn worker whose requests waitress serves (``Front`` on the arbiter's listening sockets): gunicorn
    keeps forking, watching (``notify`` at least every second) and replacing workers; SIGTERM stops accepting
    and lets the requests in flight finish within ``graceful_timeout``."""

    limits = Limits()

    def run(self):
        front = Front(self.wsgi, self.limits, sockets=[s.sock for s in self.sockets])
        try:
            while self.alive:
                self.notify()
                if self.ppid != os.getppid():
                    self.log.info("Parent changed, shutting down: %s", self)
                    break
                front.serve_once(1.0)
            front.stop_accepting()
            deadline = time.monotonic() + self.cfg.graceful_timeout
            while front.busy() and time.monotonic() < deadline:
                self.notify()
                front.serve_once(0.2)
        finally:
            front.close()
