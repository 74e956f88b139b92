"""commands: incident clusters, internal notes, indexes for time filters and search

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        # The conversation that started the incident cluster this one belongs to (itself for the
        # first), and the MinHash signature its first message was clustered by.
        batch.add_column(sa.Column("cluster_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("signature", sa.LargeBinary(), nullable=True))
    op.create_index("ix_conversations_cluster", "conversations", ["cluster_id", "id"],
                    sqlite_where=sa.text("cluster_id IS NOT NULL"),
                    postgresql_where=sa.text("cluster_id IS NOT NULL"))
    op.create_index("ix_conversations_published", "conversations", ["published_at"])
    op.create_table(
        "clusters",
        sa.Column("id", sa.Integer(), primary_key=True),  # the first conversation's id
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
    )
    # Search maps matching messages to their conversations through this (compact) index rather
    # than the message rows themselves.
    op.create_index("ix_messages_id_conversation", "messages", ["id", "conversation_id"])
    # Views beyond the open set (done, all, noise) walk one index in queue order; the partial
    # index of done conversations served only "resolved" and "closed".
    op.drop_index("ix_conversations_done", table_name="conversations")
    op.create_index("ix_conversations_order", "conversations", [sa.text("priority DESC"), "published_at", "id"])
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_notes_conversation", "notes", ["conversation_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_notes_conversation", table_name="notes")
    op.drop_table("notes")
    op.drop_index("ix_messages_id_conversation", table_name="messages")
    op.drop_table("clusters")
    op.drop_index("ix_conversations_order", table_name="conversations")
    op.create_index("ix_conversations_done", "conversations", ["status", sa.text("priority DESC"), "published_at", "id"],
                    sqlite_where=sa.text("status IN ('resolved', 'closed')"),
                    postgresql_where=sa.text("status IN ('resolved', 'closed')"))
    op.drop_index("ix_conversations_published", table_name="conversations")
    op.drop_index("ix_conversations_cluster", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("signature")
        batch.drop_column("cluster_id")
