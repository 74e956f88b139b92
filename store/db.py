"""Engine and session factory (built in a function, never at import) and schema upgrades."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
WRITE_LOCK_WAIT = 30.0
_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


WRITER_CACHE_MB = 64  # pollers and ingest: a bigger page cache keeps the indexes hot
READER_CACHE_MB = 4  # a TUI's screens: a few pages of a million-row queue, per connection


def make_engine(url: str, *, cache_mb: int = WRITER_CACHE_MB, checkpoints: bool = True,
                pool_size: int = 5) -> Engine:
    """An engine for a `sqlite:///…` file or a `postgresql+psycopg://…` server. `cache_mb`: the
    SQLite page cache of each pooled connection (each fills up to it as it reads). Without
    `checkpoints` its connections leave WAL checkpoints to the writers (the pollers, the daemon):
    a bulk command from a screen then commits without copying 100 MB of WAL back first."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=pool_size)
        event.listen(engine, "connect",
                     lambda dbapi_conn, _record: _sqlite_pragmas(dbapi_conn, cache_mb, checkpoints))
        # SQLAlchemy's documented pysqlite recipe: emit BEGIN ourselves so transactions (and
        # SAVEPOINTs) behave. Every write transaction starts by bumping the change counter
        # (store.audit.begin_write), which takes the write lock before anything is read.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        event.listen(engine, "commit", _release_write_lock)
        event.listen(engine, "rollback", _release_write_lock)
        return engine
    # JIT compiling pays off for long analytical queries; a screen's or a command's query spent
    # ~200 ms compiling what ran in less (EXPLAIN of a 50,000-conversation bulk tag). The default
    # random_page_cost (4) is a spinning disk's: with it the planner scanned a million
    # conversations (750 ms) rather than look up 50,000 by key (150 ms) on today's SSDs.
    options = " ".join(filter(None, (parsed.query.get("options"), "-c jit=off -c random_page_cost=1.1")))
    return create_engine(parsed.difference_update_query(["options"]), pool_pre_ping=True,
                         connect_args={"options": options})


def _sqlite_pragmas(dbapi_conn, cache_mb: int, checkpoints: bool) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" listener issue BEGIN itself
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    # Checkpointing every ~16 MB of WAL instead of 4 MB means fewer fsyncs under a spike
    # (PERFORMANCE.md: checkpoint after bulk work).
    cur.execute(f"PRAGMA cache_size=-{int(cache_mb) * 1024}")
    cur.execute(f"PRAGMA wal_autocheckpoint={4000 if checkpoints else 0}")
    cur.close()


def hold_write_lock(session: Session) -> None:
    """Before a transaction's first write on SQLite: queue behind this process's other writers on
    a lock, held until commit or rollback. SQLite's own busy handler sleeps in steps of up to
    100 ms, so a dozen pollers writing at once spent most of a poll cycle asleep; a lock wakes
    the next writer the moment the last one commits. Other processes still meet SQLite's lock."""
    connection = session.connection()
    if connection.dialect.name != "sqlite" or connection.info.get("write_lock") is not None:
        return
    path = str(connection.engine.url.database)
    with _write_locks_guard:
        lock = _write_locks.setdefault(path, threading.Lock())
    if lock.acquire(timeout=WRITE_LOCK_WAIT):
        connection.info["write_lock"] = lock


def _release_write_lock(connection) -> None:
    lock = connection.info.pop("write_lock", None)
    if lock is not None:
        lock.release()


def upsert(session: Session):
    """The dialect's INSERT, which has `on_conflict_do_update` / `on_conflict_do_nothing`."""
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (run on start and by `socialdesk db upgrade`)."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


class ReadOnlyStore(Exception):
    """The store can be read but not written (a read-only file or directory, a standby server)."""


def check_writable(engine: Engine) -> None:
    """Raise ReadOnlyStore unless a write transaction can start; writes nothing."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            # A write that is rolled back: SQLite grants the write lock even to a read-only file.
            cursor.execute("BEGIN IMMEDIATE")
            try:
                cursor.execute("CREATE TABLE socialdesk_write_probe (x INTEGER)")
            finally:
                cursor.execute("ROLLBACK")
        except Exception as exc:
            raise ReadOnlyStore(str(exc)) from None
        finally:
            raw.close()
        return
    with engine.connect() as conn:
        if conn.exec_driver_sql("SHOW transaction_read_only").scalar() == "on":
            raise ReadOnlyStore("the server accepts only read-only transactions")


def open_store(url: str, *, migrate: bool = True, cache_mb: int = WRITER_CACHE_MB, checkpoints: bool = True,
               pool_size: int = 5) -> tuple[Engine, sessionmaker[Session]]:
    engine = make_engine(url, cache_mb=cache_mb, checkpoints=checkpoints, pool_size=pool_size)
    if migrate:
        upgrade(engine)
    return engine, make_sessions(engine)


def open_reader(url: str) -> tuple[Engine, sessionmaker[Session]]:
    """What a TUI's screens read (and run commands) through: small caches, no checkpoints."""
    return open_store(url, migrate=False, cache_mb=READER_CACHE_MB, checkpoints=False, pool_size=3)
