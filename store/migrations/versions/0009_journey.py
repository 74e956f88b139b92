"""journey: a conversation's follow-up, the satisfaction survey, what a reply was for, handles

- `conversations.previous_id`: a customer who writes after the reopen window starts a new
  conversation linked to the old one.
- `conversations.csat_asked_at / csat_agent_id / csat_at / csat_comment`: the satisfaction
  question went out once (never twice), for whom, when the answer came, and an answer that was
  not a score, kept as the customer's comment.
- `outbox.purpose`: what an outbound message was for besides an agent's answer: "closeout" (the
  public close-out after a private talk), "csat" (the survey), "note" (the public note on a move
  to private).
- `ix_contacts_handle_lower`: the suggestions that link a customer's identities look up the
  handles and addresses named in a conversation.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("previous_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("csat_asked_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("csat_agent_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("csat_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("csat_comment", sa.Text(), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("purpose", sa.String(20), nullable=True))
    op.create_index("ix_contacts_handle_lower", "contacts", [sa.text("lower(handle)")])


def downgrade() -> None:
    op.drop_index("ix_contacts_handle_lower", table_name="contacts")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("purpose")
    with op.batch_alter_table("conversations") as batch:
        for column in ("csat_comment", "csat_at", "csat_agent_id", "csat_asked_at", "previous_id"):
            batch.drop_column(column)
