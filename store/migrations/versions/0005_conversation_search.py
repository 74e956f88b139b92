"""conversation search: one full-text row per conversation on SQLite

A search finds conversations, not messages. With an index of messages, a common word (100,000
matches) had to be mapped to its conversations one message at a time (~150 ms of the 150 ms a
search may take); an index whose rows are the conversations answers with their ids (~45 ms).
PostgreSQL keeps its tsvector per message: its planner joins it to conversations in one pass.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# One conversation's text, refreshed from its messages (when one is edited or deleted).
REFRESH = ("DELETE FROM conversations_fts WHERE rowid = {id}; "
           "INSERT INTO conversations_fts(rowid, text) SELECT conversation_id, group_concat(text, char(10)) "
           "FROM messages WHERE conversation_id = {id} GROUP BY conversation_id;")


def upgrade() -> None:
    op.drop_index("ix_messages_id_conversation", table_name="messages")
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS messages_fts_update")
    op.execute("DROP TRIGGER IF EXISTS messages_fts_delete")
    op.execute("DROP TABLE IF EXISTS messages_fts")
    op.execute("CREATE VIRTUAL TABLE conversations_fts USING fts5(text, tokenize='unicode61 remove_diacritics 2')")
    op.execute("INSERT INTO conversations_fts(rowid, text) SELECT conversation_id, group_concat(text, char(10)) "
               "FROM messages GROUP BY conversation_id")
    op.execute("CREATE TRIGGER conversations_fts_edit AFTER UPDATE OF text ON messages BEGIN "
               + REFRESH.format(id="new.conversation_id") + " END")
    op.execute("CREATE TRIGGER conversations_fts_delete AFTER DELETE ON messages BEGIN "
               + REFRESH.format(id="old.conversation_id") + " END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS conversations_fts_edit")
        op.execute("DROP TRIGGER IF EXISTS conversations_fts_delete")
        op.execute("DROP TABLE IF EXISTS conversations_fts")
        op.execute("CREATE VIRTUAL TABLE messages_fts USING fts5("
                   "text, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2')")
        op.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
        op.execute("CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN "
                   "INSERT INTO messages_fts(messages_fts, rowid, text) VALUES('delete', old.id, old.text); "
                   "INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text); END")
        op.execute("CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
                   "INSERT INTO messages_fts(messages_fts, rowid, text) VALUES('delete', old.id, old.text); END")
    op.create_index("ix_messages_id_conversation", "messages", ["id", "conversation_id"])
