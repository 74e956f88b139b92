"""rules: priority reasons, sensitive data flags, author memory, approvals, alerts

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("reasons", sa.Text(), nullable=True))
        batch.add_column(sa.Column("sensitive", sa.String(100), nullable=True))
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("last_message_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("recent", sa.Text(), nullable=True))
        batch.add_column(sa.Column("acknowledged_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("approval_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("approved_by", sa.String(80), nullable=True))
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("alerts")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("approved_by")
        batch.drop_column("approval_reason")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("acknowledged_at")
        batch.drop_column("recent")
        batch.drop_column("last_message_at")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("sensitive")
        batch.drop_column("reasons")
