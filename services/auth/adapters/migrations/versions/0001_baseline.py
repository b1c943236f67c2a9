"""Auth baseline: accounts, organizations, groups, tokens.

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
    if "accounts" not in existing:
        op.create_table("accounts",
            sa.Column("login", sa.String(length=63), nullable=False),
            sa.Column("user_type", sa.String(length=8), nullable=False),
            sa.Column("name", sa.String(length=255), nullable=True),
            sa.Column("email", sa.String(length=255), nullable=True),
            sa.Column("description", sa.Text(), nullable=True),
            sa.Column("location", sa.String(length=255), nullable=True),
            sa.Column("company", sa.String(length=255), nullable=True),
            sa.Column("url", sa.String(length=255), nullable=True),
            sa.Column("password_hash", sa.String(length=255), nullable=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.CheckConstraint("user_type IN ('user', 'org')", name="ck_accounts_user_type"),
            sa.PrimaryKeyConstraint("login")
        )
    if "org_groups" not in existing:
        op.create_table("org_groups",
            sa.Column("org", sa.String(length=63), nullable=False),
            sa.Column("group_name", sa.String(length=64), nullable=False),
            sa.Column("perms", sa.String(length=8), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.CheckConstraint("perms IN ('read', 'write', 'admin')", name="ck_org_groups_perms"),
            sa.ForeignKeyConstraint(["org"], ["accounts.login"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("org", "group_name")
        )
    if "org_memberships" not in existing:
        op.create_table("org_memberships",
            sa.Column("org", sa.String(length=63), nullable=False),
            sa.Column("login", sa.String(length=63), nullable=False),
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.ForeignKeyConstraint(["login"], ["accounts.login"], ondelete="CASCADE"),
            sa.ForeignKeyConstraint(["org"], ["accounts.login"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("org", "login")
        )
        op.create_index("ix_org_memberships_login", "org_memberships", ["login"], unique=False)
    if "tokens" not in existing:
        op.create_table("tokens",
            sa.Column("id", sa.String(length=32), nullable=False),
            sa.Column("digest", sa.String(length=64), nullable=False),
            sa.Column("login", sa.String(length=63), nullable=False),
            sa.Column("org", sa.String(length=63), nullable=True),
            sa.Column("holder", sa.String(length=63), nullable=False),
            sa.Column("note", sa.String(length=255), nullable=False),
            sa.Column("scopes", sa.JSON(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("expires_at", sa.DateTime(), nullable=True),
            sa.Column("revoked_at", sa.DateTime(), nullable=True),
            sa.Column("application", sa.String(length=255), nullable=True),
            sa.Column("hostname", sa.String(length=255), nullable=True),
            sa.Column("remote_addr", sa.String(length=255), nullable=True),
            sa.ForeignKeyConstraint(["login"], ["accounts.login"], ondelete="CASCADE"),
            sa.ForeignKeyConstraint(["org"], ["accounts.login"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("digest")
        )
        op.create_index("ix_tokens_login", "tokens", ["login"], unique=False)
        op.create_index("uq_tokens_live_note", "tokens", ["holder", "note"], unique=True, sqlite_where=sa.text("revoked_at IS NULL"), postgresql_where=sa.text("revoked_at IS NULL"))
    if "org_group_members" not in existing:
        op.create_table("org_group_members",
            sa.Column("org", sa.String(length=63), nullable=False),
            sa.Column("group_name", sa.String(length=64), nullable=False),
            sa.Column("login", sa.String(length=63), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.ForeignKeyConstraint(["login"], ["accounts.login"], ondelete="CASCADE"),
            sa.ForeignKeyConstraint(["org", "group_name"], ["org_groups.org", "org_groups.group_name"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("org", "group_name", "login")
        )
        op.create_index("ix_org_group_members_login", "org_group_members", ["login"], unique=False)
    if "org_group_packages" not in existing:
        op.create_table("org_group_packages",
            sa.Column("org", sa.String(length=63), nullable=False),
            sa.Column("group_name", sa.String(length=64), nullable=False),
            sa.Column("package", sa.String(length=128), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.ForeignKeyConstraint(["org", "group_name"], ["org_groups.org", "org_groups.group_name"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("org", "group_name", "package")
        )


def downgrade() -> None:
    op.drop_table("org_group_packages")
    op.drop_table("org_group_members")
    op.drop_table("tokens")
    op.drop_table("org_memberships")
    op.drop_table("org_groups")
    op.drop_table("accounts")

