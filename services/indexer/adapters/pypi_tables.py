"""The indexer's PyPI tables (same ``metadata`` as tables.py).

- ``pypi_files``: one row per wheel or sdist: its canonical ``project`` (PEP 503), what a simple page lists
  (sha256, size, requires_python, core metadata hash, upload time) and what a download needs (blob keys).
- ``pypi_file_labels``: labels carried by each file.
- ``pypi_dirty``: pages to rebuild per (owner, label, project), generations as in ``indexer_dirty``; the
  project ``""`` is the label's project list.
- ``pypi_published``: pointers to the current page blobs of each (owner, label, project, audience, filename).
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from .tables import metadata

pypi_files = Table(
    "indexer_pypi_files", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(200), nullable=False),
    Column("package", String(200), nullable=False),
    Column("version", String(200), nullable=False),
    Column("basename", String(300), nullable=False),
    Column("filename", String(300), nullable=False),
    Column("project", String(200), nullable=False),
    Column("public", Boolean, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("requires_python", String(500), nullable=True),
    Column("core_metadata_sha256", String(64), nullable=True),
    Column("core_metadata_key", String(300), nullable=True),
    Column("blob_key", String(300), nullable=False),
    Column("upload_time", String(40), nullable=False),
    UniqueConstraint("owner", "package", "version", "basename", name="uq_indexer_pypi_files_ref"),
    Index("ix_indexer_pypi_files_project", "owner", "project"),
    Index("ix_indexer_pypi_files_filename", "owner", "filename"),
)

pypi_file_labels = Table(
    "indexer_pypi_file_labels", metadata,
    Column("file_id", Integer, ForeignKey("indexer_pypi_files.id", ondelete="CASCADE"), primary_key=True),
    Column("label", String(200), primary_key=True),
    Index("ix_indexer_pypi_file_labels_label", "label", "file_id"),
)

pypi_dirty = Table(
    "indexer_pypi_dirty", metadata,
    Column("owner", String(200), primary_key=True),
    Column("label", String(200), primary_key=True),
    Column("project", String(200), primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("published_generation", Integer, nullable=False),
)

pypi_published = Table(
    "indexer_pypi_published", metadata,
    Column("owner", String(200), primary_key=True),
    Column("label", String(200), primary_key=True),
    Column("project", String(200), primary_key=True),
    Column("audience", String(16), primary_key=True),
    Column("filename", String(100), primary_key=True),
    Column("key", String(300), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
)

PYPI_TABLES = (pypi_file_labels, pypi_published, pypi_dirty, pypi_files)   # children first (deletes)
