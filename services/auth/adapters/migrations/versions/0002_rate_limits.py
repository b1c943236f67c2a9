"""Rate limits: fixed-window counters of password logins and token creations.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "rate_limits" in set(sa.inspect(op.get_bind()).get_table_names()):
        return   # a database made by create_all of this metadata, adopted (as the baseline does)
    op.create_table("rate_limits",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key")
    )


def downgrade() -> None:
    op.drop_table("rate_limits")
