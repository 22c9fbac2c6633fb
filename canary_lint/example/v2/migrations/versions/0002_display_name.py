"""replace nickname by display_name, add order currency

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade():
    op.alter_column("users", "nickname", new_column_name="display_name")
    op.add_column("orders", sa.Column("currency", sa.String(3), nullable=False))
    op.create_index("ix_orders_status", "orders", ["status"])


def downgrade():
    op.drop_index("ix_orders_status", table_name="orders")
    op.drop_column("orders", "currency")
    op.alter_column("users", "display_name", new_column_name="nickname")
