"""alert deliveries and the audit head

Alert deliveries: alerts queued per target (webhook, email), claimed, sent and marked. Alerts
used to be sent "from now" by whichever process watched the alerts table: alerts raised before
it started or just before it stopped were lost, and two processes sent each one twice.

The audit head: the chain's event count and newest hash in one row, signed when the writer holds
the audit key (store.anchor), so that deleting the newest events, or editing one and recomputing
every later hash, no longer verifies as intact. It starts from the chain as it is, unsigned.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("target", sa.String(20), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("alert_id", "target", name="uq_alert_deliveries_alert_target"),
    )
    op.create_index("ix_alert_deliveries_state", "alert_deliveries", ["state", "next_attempt_at"])
    op.create_index("ix_alerts_at", "alerts", ["at"])
    # Alerts raised before this upgrade were sent (or not) by the old code: never queued now.
    op.execute("INSERT INTO meta (key, value) SELECT 'alert_queue_from', coalesce(max(id), 0) FROM alerts")
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("mac", sa.String(64), nullable=True),
    )
    op.execute("INSERT INTO audit_head (id, events, hash) SELECT 1, count(*), coalesce("
               "(SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1), '" + "0" * 64 + "') FROM audit_events")


def downgrade() -> None:
    op.drop_table("audit_head")
    op.execute("DELETE FROM meta WHERE key = 'alert_queue_from'")
    op.drop_index("ix_alerts_at", table_name="alerts")
    op.drop_index("ix_alert_deliveries_state", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
