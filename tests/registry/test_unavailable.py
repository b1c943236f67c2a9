"""A registry whose PostgreSQL cannot be reached answers ``Unavailable`` (the gateway's 503), never a raw driver
error (a 500): pg8000 reports a refused connection as an InterfaceError, not an OperationalError."""
from __future__ import annotations

import socket

import pytest

from services.kernel.adapters.db import make_engine
from services.kernel.errors import Unavailable
from services.registry.adapters.unit_of_work import SqlUnitOfWork


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]     # nobody listens there once the socket is closed


def test_unreachable_database_is_unavailable():
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{_closed_port()}/wharf_nowhere")
    with pytest.raises(Unavailable, match="registry database unavailable"):
        with SqlUnitOfWork(engine) as uow:
            uow.repo.staged("some-dist-id")
