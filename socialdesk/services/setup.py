"""Start-up plumbing shared by the TUI, the daemon and the demo: logging, the store, serving."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import platformdirs
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from socialdesk.config import Config
from socialdesk.store.anchor import attach
from socialdesk.store.db import ReadOnlyStore, check_writable, open_store

from .audit_anchor import audit_anchor
from .credentials import redact
from .runtime import Runtime


class RedactingFormatter(logging.Formatter):
    """Log lines (tracebacks included) with every secret read by this process blanked out."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def log_file(config: Config, default_dir: Path | None = None) -> Path:
    if config.log.file:
        return Path(config.log.file).expanduser()
    return (default_dir or Path(platformdirs.user_log_dir("socialdesk"))) / "socialdesk.log"


def configure_logging(config: Config, default_dir: Path | None = None) -> Path:
    """Log to a file: the TUI owns the terminal, so nothing may print to it."""
    path = log_file(config, default_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.log.level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path


class StoreUnavailable(Exception):
    """The store cannot be opened (or not for writing): one line saying what and where."""


def open_configured_store(config: Config, *, migrate: bool = True,
                          writable: bool = False) -> tuple[Engine, sessionmaker[Session]]:
    """The configured store, upgraded to the newest schema, its audit chain anchored (key and
    head log); `writable`: and able to take writes (the TUI, the daemon and the demo write from
    their first second). Raises StoreUnavailable, never a database traceback."""
    url = make_url(config.store.effective_url)
    where = url.database if url.get_backend_name() == "sqlite" else url.render_as_string(hide_password=True)
    try:
        engine, sessions = open_store(config.store.effective_url, migrate=migrate)
        if writable:
            check_writable(engine)
    except ReadOnlyStore as exc:
        raise StoreUnavailable(f"the store {where} is read-only ({_one_line(exc)}); make it writable for this "
                               "user, or point store.url at a writable one") from None
    except Exception as exc:
        raise StoreUnavailable(f"cannot open the store {where}: {_one_line(exc)}") from None
    attach(sessions, audit_anchor(config))
    return engine, sessions


def _one_line(exc: BaseException) -> str:
    # SQLAlchemy's messages add the SQL and a link on further lines: the driver's own says why.
    return " ".join(str(getattr(exc, "orig", None) or exc).split())


def serve_forever(runtime: Runtime) -> int:
    """Run until SIGINT/SIGTERM, then stop cleanly (pollers finish their page, sender its send)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    runtime.start()
    print(f"socialdesk: serving {len(runtime.pollers)} channel(s); Ctrl+C to stop", flush=True)
    stop.wait()
    runtime.stop()
    return 0
