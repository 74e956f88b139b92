"""The conversation state machine: which status follows which, and what reopens what.

One table, read by ingest (a customer writes), the sender (a reply went out) and the commands
(take, resolve, close…). Set-based SQL needs the same decisions as SQL, so `case_sql` writes the
table as a CASE over `status` and `from_sql` as the WHERE that says where an event applies.

    new ──assign──► open ──reply_sent──► pending ──customer_wrote──► open
     │                │                     │
     └──resolve/close─┴─────────────────────┴──► resolved | closed ──customer_wrote/reopen──► open
"""

from __future__ import annotations

from typing import Literal

Status = Literal["new", "open", "pending", "resolved", "closed"]
Event = Literal["assign", "reply_sent", "customer_wrote", "wait", "resolve", "close", "reopen"]

OPEN: tuple[Status, ...] = ("new", "open", "pending")
DONE: tuple[Status, ...] = ("resolved", "closed")
STATUSES: tuple[Status, ...] = OPEN + DONE
WAITING_ON_US: tuple[Status, ...] = ("new", "open")  # the brand owes an answer: the SLA clock runs

# event -> {from status: to status}. A status not listed is left as it is (the event does not
# apply to it); `applies` tells a command whether to refuse.
TRANSITIONS: dict[Event, dict[Status, Status]] = {
    # Someone takes it: a new conversation is now being worked on.
    "assign": {"new": "open", "open": "open", "pending": "pending", "resolved": "resolved", "closed": "closed"},
    # Our answer went out: the customer has it, the clock stops until they write again.
    "reply_sent": {"new": "pending", "open": "pending", "pending": "pending"},
    # The customer wrote: anything waiting on them, or finished, is open again.
    "customer_wrote": {"new": "new", "open": "open", "pending": "open", "resolved": "open", "closed": "open"},
    # The agent waits for the customer (no reply sent through us, e.g. answered by phone).
    "wait": {"new": "pending", "open": "pending"},
    "resolve": {"new": "resolved", "open": "resolved", "pending": "resolved"},
    "close": {"new": "closed", "open": "closed", "pending": "closed"},
    "reopen": {"resolved": "open", "closed": "open"},
}


def next_status(event: Event, status: str) -> str | None:
    """The status after `event`, or None when the event does not apply to `status`."""
    return TRANSITIONS[event].get(status)  # type: ignore[call-overload]


def applies(event: Event, status: str) -> bool:
    return status in TRANSITIONS[event]


def sources(event: Event) -> tuple[str, ...]:
    """The statuses the event applies to."""
    return tuple(TRANSITIONS[event])


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def in_sql(values: tuple[str, ...], column: str = "status") -> str:
    """`status IN ('new', 'open')` as literal SQL (the partial indexes repeat it word for word)."""
    return f"{column} IN ({_quoted(values)})"


def from_sql(event: Event, column: str = "status") -> str:
    """`status IN (…)`: where the event applies (literal SQL: usable in executemany)."""
    return in_sql(sources(event), column)


def case_sql(event: Event, column: str = "status") -> str:
    """The new status as a CASE over the current one (unchanged where the event does not apply)."""
    moves: dict[str, list[str]] = {}
    for before, after in TRANSITIONS[event].items():
        if before != after:
            moves.setdefault(after, []).append(before)
    if not moves:
        return column
    whens = " ".join(f"WHEN {column} IN ({_quoted(tuple(befores))}) THEN '{after}'"
                     for after, befores in moves.items())
    return f"CASE {whens} ELSE {column} END"


def is_open(status: str) -> bool:
    return status in OPEN
