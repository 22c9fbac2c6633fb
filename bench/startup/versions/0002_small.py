"""small revision

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade():
    op.add_column("users", sa.Column("age", sa.Integer(), nullable=True))
    op.create_index("users_email_idx", "users", ["email"])
    op.drop_column("users", "nickname")


def downgrade():
    pass
