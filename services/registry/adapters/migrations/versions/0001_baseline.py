"""Registry baseline: the event log, streams and the read projections.

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
    if "collaborators" not in existing:
        op.create_table("collaborators",
            sa.Column("owner", sa.String(length=64), nullable=False),
            sa.Column("package", sa.String(length=128), nullable=False),
            sa.Column("login", sa.String(length=64), nullable=False),
            sa.Column("created_pos", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("owner", "package", "login")
        )
        op.create_index("ix_collaborators_login", "collaborators", ["login"], unique=False)
    if "events" not in existing:
        op.create_table("events",
            sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("event_id", sa.String(length=64), nullable=False),
            sa.Column("stream_id", sa.String(length=200), nullable=False),
            sa.Column("sequence", sa.Integer(), nullable=False),
            sa.Column("type", sa.String(length=64), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("occurred_at", sa.String(length=40), nullable=False),
            sa.Column("actor", sa.String(length=200), nullable=False),
            sa.Column("correlation_id", sa.String(length=200), nullable=True),
            sa.Column("data", sa.Text(), nullable=False),
            sa.Column("published", sa.Boolean(), server_default=sa.false(), nullable=False),
            sa.PrimaryKeyConstraint("position"),
            sa.UniqueConstraint("event_id"),
            sa.UniqueConstraint("stream_id", "sequence", name="uq_events_stream_sequence")
        )
        op.create_index("ix_events_published_position", "events", ["published", "position"], unique=False)
    if "file_labels" not in existing:
        op.create_table("file_labels",
            sa.Column("owner", sa.String(length=64), nullable=False),
            sa.Column("package", sa.String(length=128), nullable=False),
            sa.Column("version", sa.String(length=64), nullable=False),
            sa.Column("basename", sa.String(length=250), nullable=False),
            sa.Column("label", sa.String(length=64), nullable=False),
            sa.PrimaryKeyConstraint("owner", "package", "version", "basename", "label")
        )
        op.create_index("ix_file_labels_owner_label", "file_labels", ["owner", "label"], unique=False)
    if "files" not in existing:
        op.create_table("files",
            sa.Column("owner", sa.String(length=64), nullable=False),
            sa.Column("package", sa.String(length=128), nullable=False),
            sa.Column("version", sa.String(length=64), nullable=False),
            sa.Column("basename", sa.String(length=250), nullable=False),
            sa.Column("file_id", sa.String(length=64), nullable=False),
            sa.Column("filename", sa.String(length=250), nullable=False),
            sa.Column("distribution_type", sa.String(length=32), nullable=False),
            sa.Column("subdir", sa.String(length=32), nullable=True),
            sa.Column("blob_key", sa.String(length=250), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("md5", sa.String(length=32), nullable=False),
            sa.Column("size", sa.BigInteger(), nullable=False),
            sa.Column("record", sa.Text(), nullable=True),
            sa.Column("attrs", sa.Text(), nullable=False),
            sa.Column("metadata", sa.Text(), nullable=False),
            sa.Column("description", sa.Text(), nullable=True),
            sa.Column("upload_time", sa.String(length=40), nullable=False),
            sa.Column("uploader", sa.String(length=200), nullable=False),
            sa.Column("created_pos", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("owner", "package", "version", "basename")
        )
    if "label_locks" not in existing:
        op.create_table("label_locks",
            sa.Column("owner", sa.String(length=64), nullable=False),
            sa.Column("label", sa.String(length=64), nullable=False),
            sa.Column("locked", sa.Boolean(), nullable=False),
            sa.PrimaryKeyConstraint("owner", "label")
        )
    if "packages" not in existing:
        op.create_table("packages",
            sa.Column("owner", sa.String(length=64), nullable=False),
            sa.Column("name", sa.String(length=128), nullable=False),
            sa.Column("package_id", sa.String(length=64), nullable=False),
            sa.Column("public", sa.Boolean(), nullable=False),
            sa.Column("summary", sa.Text(), nullable=True),
            sa.Column("public_attrs", sa.Text(), nullable=False),
            sa.Column("package_types", sa.Text(), nullable=False),
            sa.Column("created_at", sa.String(length=40), nullable=False),
            sa.Column("modified_at", sa.String(length=40), nullable=False),
            sa.Column("created_pos", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("owner", "name")
        )
    if "releases" not in existing:
        op.create_table("releases",
            sa.Column("owner", sa.String(length=64), nullable=False),
            sa.Column("package", sa.String(length=128), nullable=False),
            sa.Column("version", sa.String(length=64), nullable=False),
            sa.Column("attrs", sa.Text(), nullable=False),
            sa.Column("created_at", sa.String(length=40), nullable=False),
            sa.Column("modified_at", sa.String(length=40), nullable=False),
            sa.Column("created_pos", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("owner", "package", "version")
        )
    if "staged" not in existing:
        op.create_table("staged",
            sa.Column("dist_id", sa.String(length=64), nullable=False),
            sa.Column("owner", sa.String(length=64), nullable=False),
            sa.Column("package", sa.String(length=128), nullable=False),
            sa.Column("version", sa.String(length=64), nullable=False),
            sa.Column("basename", sa.String(length=250), nullable=False),
            sa.Column("distribution_type", sa.String(length=32), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=True),
            sa.Column("labels", sa.Text(), nullable=False),
            sa.Column("attrs", sa.Text(), nullable=False),
            sa.Column("dependencies", sa.Text(), nullable=True),
            sa.Column("description", sa.Text(), nullable=True),
            sa.Column("actor", sa.String(length=200), nullable=False),
            sa.Column("created_at", sa.String(length=40), nullable=False),
            sa.PrimaryKeyConstraint("dist_id")
        )
    if "streams" not in existing:
        op.create_table("streams",
            sa.Column("stream_id", sa.String(length=200), nullable=False),
            sa.Column("last_sequence", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("stream_id")
        )


def downgrade() -> None:
    op.drop_table("streams")
    op.drop_table("staged")
    op.drop_table("releases")
    op.drop_table("packages")
    op.drop_table("label_locks")
    op.drop_table("files")
    op.drop_table("file_labels")
    op.drop_table("events")
    op.drop_table("collaborators")

