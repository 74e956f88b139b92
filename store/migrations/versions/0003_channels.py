"""channels: reply refs, edits and deletions, automatic and in-doubt replies, health per stream

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

HEALTH = ("last_success_at", "last_error", "last_error_at", "rate_remaining")


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("reply_ref", sa.Text(), nullable=True))
        batch.add_column(sa.Column("edited_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
    # A cursor may list the ids seen in its last second (Graph): more than 400 characters.
    with op.batch_alter_table("cursors") as batch:
        batch.alter_column("value", type_=sa.Text(), existing_type=sa.String(400), existing_nullable=True)
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("automatic", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("in_doubt", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "stream_health",
        sa.Column("channel_id", sa.Integer(), sa.ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("stream", sa.String(40), primary_key=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.Column("rate_limit", sa.Integer(), nullable=True),
        sa.Column("rate_remaining", sa.Integer(), nullable=True),
        sa.Column("rate_reset_at", sa.DateTime(), nullable=True),
    )
    # Until now every channel polled one stream, "mentions": its health moves there.
    op.execute(f"INSERT INTO stream_health (channel_id, stream, {', '.join(HEALTH)}) "
               f"SELECT id, 'mentions', {', '.join(HEALTH)} FROM channels "
               "WHERE last_success_at IS NOT NULL OR last_error IS NOT NULL")
    with op.batch_alter_table("channels") as batch:
        for name in HEALTH:
            batch.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("last_success_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("last_error_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("rate_remaining", sa.Integer(), nullable=True))
    op.drop_table("stream_health")
    with op.batch_alter_table("cursors") as batch:
        batch.alter_column("value", type_=sa.String(400), existing_type=sa.Text(), existing_nullable=True)
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("in_doubt")
        batch.drop_column("automatic")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("deleted_at")
        batch.drop_column("edited_at")
        batch.drop_column("reply_ref")
