"""Indexer baseline: conda and PyPI index state, published pointers, shards.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Baseline: the schema as ``metadata.create_all`` made it before Alembic. Each table is created only if it is
missing, so a database created by an older Wharf (no version table) is adopted by this revision as it is.
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "indexer_dirty" not in existing:
        op.create_table("indexer_dirty",
            sa.Column("owner", sa.String(length=200), nullable=False),
            sa.Column("label", sa.String(length=200), nullable=False),
            sa.Column("subdir", sa.String(length=64), nullable=False),
            sa.Column("generation", sa.Integer(), nullable=False),
            sa.Column("published_generation", sa.Integer(), nullable=False),
            sa.Column("changed_at", sa.BigInteger(), server_default="0", nullable=False),
            sa.Column("public_changed_at", sa.BigInteger(), server_default="0", nullable=False),
            sa.PrimaryKeyConstraint("owner", "label", "subdir")
        )
    if "indexer_dirty_names" not in existing:
        op.create_table("indexer_dirty_names",
            sa.Column("owner", sa.String(length=200), nullable=False),
            sa.Column("label", sa.String(length=200), nullable=False),
            sa.Column("subdir", sa.String(length=64), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("generation", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("owner", "label", "subdir", "name")
        )
    if "indexer_files" not in existing:
        op.create_table("indexer_files",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("owner", sa.String(length=200), nullable=False),
            sa.Column("package", sa.String(length=200), nullable=False),
            sa.Column("version", sa.String(length=200), nullable=False),
            sa.Column("basename", sa.String(length=300), nullable=False),
            sa.Column("filename", sa.String(length=300), nullable=False),
            sa.Column("subdir", sa.String(length=64), nullable=False),
            sa.Column("public", sa.Boolean(), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("size", sa.BigInteger(), nullable=False),
            sa.Column("blob_key", sa.String(length=300), nullable=False),
            sa.Column("record_json", sa.Text(), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("run_exports_json", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("owner", "package", "version", "basename", name="uq_indexer_files_ref")
        )
        op.create_index("ix_indexer_files_owner_subdir", "indexer_files", ["owner", "subdir", "filename"], unique=False)
        op.create_index("ix_indexer_files_owner_subdir_name", "indexer_files", ["owner", "subdir", "name"], unique=False)
    if "indexer_published" not in existing:
        op.create_table("indexer_published",
            sa.Column("owner", sa.String(length=200), nullable=False),
            sa.Column("label", sa.String(length=200), nullable=False),
            sa.Column("subdir", sa.String(length=64), nullable=False),
            sa.Column("audience", sa.String(length=16), nullable=False),
            sa.Column("filename", sa.String(length=100), nullable=False),
            sa.Column("key", sa.String(length=300), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("size", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("owner", "label", "subdir", "audience", "filename")
        )
    if "indexer_pypi_dirty" not in existing:
        op.create_table("indexer_pypi_dirty",
            sa.Column("owner", sa.String(length=200), nullable=False),
            sa.Column("label", sa.String(length=200), nullable=False),
            sa.Column("project", sa.String(length=200), nullable=False),
            sa.Column("generation", sa.Integer(), nullable=False),
            sa.Column("published_generation", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("owner", "label", "project")
        )
    if "indexer_pypi_files" not in existing:
        op.create_table("indexer_pypi_files",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("owner", sa.String(length=200), nullable=False),
            sa.Column("package", sa.String(length=200), nullable=False),
            sa.Column("version", sa.String(length=200), nullable=False),
            sa.Column("basename", sa.String(length=300), nullable=False),
            sa.Column("filename", sa.String(length=300), nullable=False),
            sa.Column("project", sa.String(length=200), nullable=False),
            sa.Column("public", sa.Boolean(), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("size", sa.BigInteger(), nullable=False),
            sa.Column("requires_python", sa.String(length=500), nullable=True),
            sa.Column("core_metadata_sha256", sa.String(length=64), nullable=True),
            sa.Column("core_metadata_key", sa.String(length=300), nullable=True),
            sa.Column("blob_key", sa.String(length=300), nullable=False),
            sa.Column("upload_time", sa.String(length=40), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("owner", "package", "version", "basename", name="uq_indexer_pypi_files_ref")
        )
        op.create_index("ix_indexer_pypi_files_filename", "indexer_pypi_files", ["owner", "filename"], unique=False)
        op.create_index("ix_indexer_pypi_files_project", "indexer_pypi_files", ["owner", "project"], unique=False)
    if "indexer_pypi_published" not in existing:
        op.create_table("indexer_pypi_published",
            sa.Column("owner", sa.String(length=200), nullable=False),
            sa.Column("label", sa.String(length=200), nullable=False),
            sa.Column("project", sa.String(length=200), nullable=False),
            sa.Column("audience", sa.String(length=16), nullable=False),
            sa.Column("filename", sa.String(length=100), nullable=False),
            sa.Column("key", sa.String(length=300), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("size", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("owner", "label", "project", "audience", "filename")
        )
    if "indexer_shards" not in existing:
        op.create_table("indexer_shards",
            sa.Column("owner", sa.String(length=200), nullable=False),
            sa.Column("label", sa.String(length=200), nullable=False),
            sa.Column("subdir", sa.String(length=64), nullable=False),
            sa.Column("audience", sa.String(length=16), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("key", sa.String(length=300), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("size", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("owner", "label", "subdir", "audience", "name")
        )
        op.create_index("ix_indexer_shards_sha256", "indexer_shards", ["owner", "label", "subdir", "audience", "sha256"], unique=False)
    if "indexer_stream_positions" not in existing:
        op.create_table("indexer_stream_positions",
            sa.Column("stream_id", sa.String(length=200), nullable=False),
            sa.Column("last_sequence", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("stream_id")
        )
    if "indexer_file_labels" not in existing:
        op.create_table("indexer_file_labels",
            sa.Column("file_id", sa.Integer(), nullable=False),
            sa.Column("label", sa.String(length=200), nullable=False),
            sa.ForeignKeyConstraint(["file_id"], ["indexer_files.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("file_id", "label")
        )
        op.create_index("ix_indexer_file_labels_label", "indexer_file_labels", ["label", "file_id"], unique=False)
    if "indexer_pypi_file_labels" not in existing:
        op.create_table("indexer_pypi_file_labels",
            sa.Column("file_id", sa.Integer(), nullable=False),
            sa.Column("label", sa.String(length=200), nullable=False),
            sa.ForeignKeyConstraint(["file_id"], ["indexer_pypi_files.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("file_id", "label")
        )
        op.create_index("ix_indexer_pypi_file_labels_label", "indexer_pypi_file_labels", ["label", "file_id"], unique=False)


def downgrade() -> None:
    op.drop_table("indexer_pypi_file_labels")
    op.drop_table("indexer_file_labels")
    op.drop_table("indexer_stream_positions")
    op.drop_table("indexer_shards")
    op.drop_table("indexer_pypi_published")
    op.drop_table("indexer_pypi_files")
    op.drop_table("indexer_pypi_dirty")
    op.drop_table("indexer_published")
    op.drop_table("indexer_files")
    op.drop_table("indexer_dirty_names")
    op.drop_table("indexer_dirty")

