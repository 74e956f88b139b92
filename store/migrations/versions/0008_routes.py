"""routes: how a conversation is reached on each channel, and the route every reply took

`conversation_routes` remembers that a conversation continues in a private chat with someone
on a channel ("dm:<their id>") or in an email thread, so the customer's private answer joins the
conversation it answers instead of starting a second one. Each outbox entry keeps the kind of
route it takes (reply, dm, private_reply, email) and, for a message that starts a thread (an email
from a social conversation), what the adapter needs to write it.

Revision ID: 0008
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_routes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel_id", sa.Integer(), sa.ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
        sa.Column("route_key", sa.String(300), nullable=False),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("channel_id", "route_key", name="uq_conversation_routes_key"),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("kind", sa.String(20), nullable=True))
        batch.add_column(sa.Column("reply_ref", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("reply_ref")
        batch.drop_column("kind")
    op.drop_table("conversation_routes")
