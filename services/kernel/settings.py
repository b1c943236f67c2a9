"""Configuration from environment variables: the only module that reads a ``WHARF_*`` variable (a test scans the
sources). Every variable is documented in README.md ("Configuration").

Embedded mode derives everything from ``data_dir``; distributed mode reads database URLs, the AMQP URI and the
S3 endpoint from the environment. Every value is checked when it is read: an unusable one is a
``ConfigurationError`` naming the variable, which `wharf` prints in one line and exits 78 with.

``LogSettings`` is the part a process needs before anything else (logging is configured first, so that even a
bad setting is reported in the process's log format); ``server_data_dir`` is where the administration commands
look for the server's data without creating it.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
from pathlib import Path

from .private_files import private_dir, private_file


class ConfigurationError(RuntimeError):
    """A setting is missing or unusable (names the variable). Retrying with the same environment cannot help:
    `wharf` reports it in one line, and `wharf run` stops restarting a service that fails with one."""


def _int(env, name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "")
    if raw is None or str(raw).strip() == "":
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigurationError(f"{name}={raw!r}: at least {minimum}")
    return value


def _seconds(env, name: str, default: float) -> float:
    """A positive number of seconds (a fraction allowed)."""
    raw = env.get(name, "")
    if raw is None or str(raw).strip() == "":
        return default
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise ConfigurationError(f"{name}={raw!r}: a positive number of seconds")
    return value


def _port(env, name: str, default: int, empty: int | None = None) -> int:
    """A TCP port (0-65535); ``empty``: the value of a variable set to the empty string (default: ``default``)."""
    raw = env.get(name)
    if raw is None:
        return default
    if str(raw).strip() == "":
        return default if empty is None else empty
    value = _int(env, name, default)
    if value > 65535:
        raise ConfigurationError(f"{name}={raw!r}: a port number, 0 to 65535")
    return value


def _address(env, name: str, default: str) -> str:
    """``host:port`` (gunicorn's bind address)."""
    raw = (env.get(name) or "").strip() or default
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigurationError(f"{name}={raw!r}: an address as host:port, e.g. {default}")
    return raw


def _choice(env, name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name) or ""
    value = raw.strip().lower() or default
    if value not in choices:
        raise ConfigurationError(f"{name}={raw!r}: one of {', '.join(choices)}")
    return value


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclasses.dataclass(frozen=True)
class LogSettings:
    """How a process logs: ``WHARF_LOG_FORMAT`` (text | json), ``WHARF_LOG_LEVEL`` and ``WHARF_SERVICE`` (the
    service name of records written before the process configured logging; default: the process's own)."""
    format: str = "text"
    level: str = "INFO"
    service: str = ""

    @classmethod
    def from_env(cls, env: dict | None = None, strict: bool = True) -> "LogSettings":
        """``strict=False``: an unusable value falls back to its default instead of raising (for the handler
        ``import services`` installs, which must not fail; the process's own configuration reports it)."""
        env = os.environ if env is None else env
        try:
            fmt = _choice(env, "WHARF_LOG_FORMAT", "text", ("text", "json"))
        except ConfigurationError:
            if strict:
                raise
            fmt = "text"
        raw_level = env.get("WHARF_LOG_LEVEL") or ""
        level = raw_level.strip().upper() or "INFO"
        if level not in LOG_LEVELS:
            if strict:
                raise ConfigurationError(f"WHARF_LOG_LEVEL={raw_level!r}: one of {', '.join(LOG_LEVELS)}")
            level = "INFO"
        return cls(format=fmt, level=level, service=(env.get("WHARF_SERVICE") or "").strip())


def server_data_dir(data: str | None = None, env: dict | None = None) -> str | None:
    """The embedded data directory the administration commands must find (``--data``, ``WHARF_DATA_DIR``, else
    the default), read without creating anything; None when the server's auth database is elsewhere
    (``WHARF_AUTH_DB_URL``, or a mode other than embedded)."""
    env = os.environ if env is None else env
    if env.get("WHARF_AUTH_DB_URL") or env.get("WHARF_MODE", "embedded") != "embedded":
        return None
    return data or env.get("WHARF_DATA_DIR") or default_data_dir(env)


def _bool(v: str | None, default: bool = False) -> bool:
    if v is None or v == "":
        return default
    return v.strip().lower() in ("1", "true", "yes", "on")


def default_data_dir(env: dict | None = None) -> str:
    """Where embedded data lives when neither ``--data`` nor ``WHARF_DATA_DIR`` says: a per-user directory
    (``$XDG_DATA_HOME/wharf``, else ``~/.local/share/wharf``), the same from any working directory, so
    ``wharf user create`` run elsewhere reaches the data ``wharf serve`` uses instead of starting a new ./data."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or ""
    if not os.path.isabs(base):
        home = env.get("HOME") or str(Path.home())
        base = os.path.join(home, ".local", "share")
    return os.path.join(base, "wharf")


@dataclasses.dataclass
class Settings:
    mode: str = "embedded"                       # embedded | distributed
    data_dir: str = dataclasses.field(default_factory=default_data_dir)
    public_url: str = "http://127.0.0.1:8080"    # how clients reach the gateway (post_url, download links)
    secret_key: str = ""
    auth_db_url: str = ""
    registry_db_url: str = ""
    indexer_db_url: str = ""
    amqp_uri: str = "amqp://guest:guest@127.0.0.1:5672/"
    blob_backend: str = "local"                  # local | s3
    s3_endpoint: str = ""                        # host:port
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "wharf"
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    s3_public_endpoint: str = ""                 # host:port clients use for presigned URLs (default: s3_endpoint)
    index_max_age: int = 30                      # Cache-Control max-age for index files, seconds
    shard_grace: int = 600                       # seconds a replaced shard stays readable (0: not at all)
    index_cache_rows: int = 300_000              # records an indexer keeps in memory across its channels
    catch_up_interval: float = 30.0              # seconds between an indexer's catch-ups to the log's head
    max_upload_size: int = 2 * 1024 ** 3         # bytes
    max_json_size: int = 1024 ** 2               # bytes of a JSON request body
    gc_grace: int = 86400                        # seconds an unreferenced blob is kept before `wharf gc` may delete it
    stage_ttl: int = 21600                       # seconds a staged upload stays open (then expired: commit refused)
    max_staged_uploads: int = 20                 # open staged uploads per user (429 above)
    login_rate_account: int = 20                 # password logins / token creations per account per window
    login_rate_address: int = 120                # ... per client address per window
    login_rate_window: int = 60                  # seconds
    login_backoff_after: int = 5                 # failed passwords of one account from one address before backoff
    login_backoff_max: int = 900                 # seconds: the longest wait the backoff imposes
    min_password_length: int = 10                # characters of a new password (creation and changes)
    upload_policy_ttl: int = 3600                # seconds a stage's post_url stays valid
    presign_ttl: int = 600                       # seconds a download redirect stays valid
    rpc_timeout: float = 300.0                 # finalize reads whole packages
    auto_migrate: bool = True                    # services upgrade their database schema at start
    web_secure_cookie: bool = False              # web UI session cookie only over HTTPS
    web_session_max_age: int = 7 * 86400         # web UI sign-in lifetime (cookie and its server-side token)
    instance_id: str = ""                        # names this process (indexer publication log); "": host:pid
    # the HTTP front of the gateway (services/http_front.py), per process: `wharf serve`, each gunicorn worker
    gateway_max_connections: int = 1000          # open connections; more wait in the listen backlog
    gateway_header_timeout: int = 30             # seconds from a request's first byte to the end of its headers
    gateway_body_timeout: int = 60               # seconds without a byte of a body, or of a response being read
    gateway_keepalive: int = 75                  # seconds an idle keep-alive connection stays open
    # processes: `wharf serve` listens on host:port; `wharf run gateway` on gateway_bind with gunicorn workers
    host: str = "127.0.0.1"                      # `wharf serve` (--host wins)
    port: int = 8080                             # `wharf serve` (--port wins)
    gateway_bind: str = "0.0.0.0:8080"           # `wharf run gateway`: host:port
    gateway_workers: int = 2                     # `wharf run gateway`: gunicorn worker processes
    gateway_threads: int = 8                     # `wharf run gateway`: application threads per worker
    max_workers: int = 10                        # nameko workers per service process
    relay_poll: float = 0.2                      # seconds between the registry relay's rounds when not woken
    # observability
    metrics_port: int = 0                        # /metrics and /healthz of the process; 0: off (distributed: 9100)
    metrics_addr: str = "0.0.0.0"
    indexer_partitions: int = 16                 # owner partitions of the indexer's queue-lag gauge
    log_format: str = "text"                     # text | json
    log_level: str = "INFO"
    log_service: str = ""                        # WHARF_SERVICE: service name of records before logging is set up

    def __post_init__(self):
        data = Path(self.data_dir)
        if not self.auth_db_url:
            self.auth_db_url = f"sqlite:///{data / 'auth.db'}"
        if not self.registry_db_url:
            self.registry_db_url = f"sqlite:///{data / 'registry.db'}"
        if not self.indexer_db_url:
            self.indexer_db_url = f"sqlite:///{data / 'indexer.db'}"
        if not self.secret_key:
            self.secret_key = _persistent_secret(data) if self.mode == "embedded" else ""
        self.public_url = self.public_url.rstrip("/")
        if not self.catch_up_interval > 0:
            raise ConfigurationError("WHARF_CATCH_UP_INTERVAL must be a positive number of seconds")
        if not self.rpc_timeout > 0:
            raise ConfigurationError("WHARF_RPC_TIMEOUT must be a positive number of seconds")
        if not self.relay_poll > 0:
            raise ConfigurationError("WHARF_RELAY_POLL must be a positive number of seconds")

    @property
    def logging(self) -> LogSettings:
        return LogSettings(format=self.log_format, level=self.log_level, service=self.log_service)

    @property
    def blobs_dir(self) -> str:
        return str(Path(self.data_dir) / "blobs")

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides) -> "Settings":
        env = os.environ if env is None else env
        g = lambda k, d="": env.get(k, d)  # noqa: E731
        mode = overrides.pop("mode", None) or g("WHARF_MODE", "embedded")
        host = overrides.pop("host", None) or g("WHARF_HOST").strip() or "127.0.0.1"
        port = overrides.pop("port", None)
        port = _port(env, "WHARF_PORT", 8080) if port is None else port
        log = LogSettings.from_env(env)
        kw = dict(
            mode=mode,
            data_dir=g("WHARF_DATA_DIR") or default_data_dir(env),
            # `wharf serve` is reached where it listens unless told otherwise
            public_url=g("WHARF_PUBLIC_URL") or (f"http://{host}:{port}" if mode == "embedded"
                                                 else "http://127.0.0.1:8080"),
            secret_key=g("WHARF_SECRET_KEY"),
            auth_db_url=g("WHARF_AUTH_DB_URL"),
            registry_db_url=g("WHARF_REGISTRY_DB_URL"),
            indexer_db_url=g("WHARF_INDEXER_DB_URL"),
            amqp_uri=g("WHARF_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"),
            blob_backend=g("WHARF_BLOB_BACKEND", "s3" if mode == "distributed" else "local"),
            s3_endpoint=g("WHARF_S3_ENDPOINT"),
            s3_access_key=g("WHARF_S3_ACCESS_KEY"),
            s3_secret_key=g("WHARF_S3_SECRET_KEY"),
            s3_bucket=g("WHARF_S3_BUCKET", "wharf"),
            s3_secure=_bool(g("WHARF_S3_SECURE"), False),
            s3_region=g("WHARF_S3_REGION", "us-east-1"),
            s3_public_endpoint=g("WHARF_S3_PUBLIC_ENDPOINT"),
            index_max_age=_int(env, "WHARF_INDEX_MAX_AGE", 30),
            shard_grace=_int(env, "WHARF_SHARD_GRACE", 600),
            index_cache_rows=_int(env, "WHARF_INDEX_CACHE_ROWS", 300_000),
            catch_up_interval=_seconds(env, "WHARF_CATCH_UP_INTERVAL", 30.0),
            rpc_timeout=_seconds(env, "WHARF_RPC_TIMEOUT", 300.0),
            max_upload_size=_int(env, "WHARF_MAX_UPLOAD_SIZE", 2 * 1024 ** 3, minimum=1),
            auto_migrate=_bool(g("WHARF_AUTO_MIGRATE"), True),
            max_json_size=_int(env, "WHARF_MAX_JSON_SIZE", 1024 ** 2, minimum=1),
            gc_grace=_int(env, "WHARF_GC_GRACE", 86400),
            stage_ttl=_int(env, "WHARF_STAGE_TTL", 21600),
            max_staged_uploads=_int(env, "WHARF_MAX_STAGED_UPLOADS", 20),
            login_rate_account=_int(env, "WHARF_LOGIN_RATE_ACCOUNT", 20),
            login_rate_address=_int(env, "WHARF_LOGIN_RATE_ADDRESS", 120),
            login_rate_window=_int(env, "WHARF_LOGIN_RATE_WINDOW", 60, minimum=1),
            login_backoff_after=_int(env, "WHARF_LOGIN_BACKOFF_AFTER", 5),
            login_backoff_max=_int(env, "WHARF_LOGIN_BACKOFF_MAX", 900),
            min_password_length=_int(env, "WHARF_MIN_PASSWORD_LENGTH", 10),
            web_secure_cookie=_bool(g("WHARF_WEB_SECURE_COOKIE"), False),
            web_session_max_age=_int(env, "WHARF_WEB_SESSION_MAX_AGE", 7 * 86400, minimum=1),
            instance_id=g("WHARF_INSTANCE_ID"),
            gateway_max_connections=_int(env, "WHARF_GATEWAY_MAX_CONNECTIONS", 1000, minimum=1),
            gateway_header_timeout=_int(env, "WHARF_GATEWAY_HEADER_TIMEOUT", 30, minimum=1),
            gateway_body_timeout=_int(env, "WHARF_GATEWAY_BODY_TIMEOUT", 60, minimum=1),
            gateway_keepalive=_int(env, "WHARF_GATEWAY_KEEPALIVE", 75, minimum=1),
            host=host,
            port=port,
            gateway_bind=_address(env, "WHARF_GATEWAY_BIND", "0.0.0.0:8080"),
            gateway_workers=_int(env, "WHARF_GATEWAY_WORKERS", 2, minimum=1),
            gateway_threads=_int(env, "WHARF_GATEWAY_THREADS", 8, minimum=1),
            max_workers=_int(env, "WHARF_MAX_WORKERS", 10, minimum=1),
            relay_poll=_seconds(env, "WHARF_RELAY_POLL", 0.2),
            # a set but empty WHARF_METRICS_PORT turns the endpoint off, as 0 does
            metrics_port=_port(env, "WHARF_METRICS_PORT", 9100 if mode == "distributed" else 0, empty=0),
            metrics_addr=g("WHARF_METRICS_ADDR").strip() or "0.0.0.0",
            indexer_partitions=_int(env, "WHARF_INDEXER_PARTITIONS", 16, minimum=1),
            log_format=log.format,
            log_level=log.level,
            log_service=log.service,
        )
        kw.update(overrides)
        s = cls(**kw)
        if s.mode == "distributed" and not s.secret_key:
            raise ConfigurationError("WHARF_SECRET_KEY must be set in distributed mode")
        return s


def _persistent_secret(data: Path) -> str:
    """Embedded mode keeps a random secret in the data directory so restarts keep tokens and policies valid.
    The directory is the server's alone (0700) and so is the key (0600), created so before anything is written."""
    private_dir(data)
    path = data / "secret_key"
    if not path.exists() or not path.read_text().strip():
        private_file(path)
        path.write_text(secrets.token_hex(32))
    private_file(path)
    return path.read_text().strip()
