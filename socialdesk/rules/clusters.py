"""Incident clusters: near-duplicate mentions grouped as they arrive.

During a spike the same complaint comes in reworded, with the same link, as a copy-paste
campaign or a storm of manual reposts. Each mention's folded words (numbers, order ids and
handles left out, so "order A1234567" and "order A7654321" read alike) get a MinHash signature
(rensa: the same estimator as datasketch, ~7 µs a text instead of ~250 µs, so ingest keeps its
pace). `ClusterIndex` keeps the signatures of recent cluster heads in an LSH table (16 bands of
2 rows): a mention whose estimated Jaccard similarity with a head reaches `threshold` joins that
head's cluster; otherwise it becomes a head itself. Heads older than `window` are forgotten, so a
cluster is one incident, not every message that ever said "where is my order".

Pure and in memory: the service that owns an index feeds it what it stores and rebuilds it at
start from the signatures kept in the store.
"""

from __future__ import annotations

import operator
import re
import threading
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rensa import RMinHash

PERMUTATIONS = 32
BANDS = 16
ROWS = PERMUTATIONS // BANDS
SEED = 20261202
MIN_WORDS = 3  # fewer distinct words than this say too little to compare
THRESHOLD = 0.5
SURE = int(0.9 * PERMUTATIONS)  # this many equal minimums: a copy, the search can stop
WINDOW = timedelta(hours=1)
# Words too common to say what a message is about (the languages the simulator and most brands
# see); folded, so without accents.
STOP_WORDS = frozenset("""
a an and are as at be been but by can could did do does for from had has have he her his how i if in
is it its just me my no not of on or our so that the their them they this to too us was we were what
when where which who why will with would you your yours im ive dont cant its
der die das und ist ich nicht mit ein eine zu den von fur auf es sie wir ihr
le la les et est je pas un une des du de en que qui pour sur vous nous il elle
el los las y es no un una de del que en por para con mi su se lo
o os as e nao um uma do da de que em por para com meu minha
""".split())


# A folded word of two characters or more, with no digit, that is not a handle.
_CONTENT_WORD = re.compile(r"(?<!\S)(?!@)[^\s\d]{2,}(?!\S)")


def _words(folded: str) -> set[str]:
    """Content words of a folded text: no stop words, no handles, nothing with a digit."""
    return set(_CONTENT_WORD.findall(folded)) - STOP_WORDS


def signature(folded: str) -> bytes | None:
    """The MinHash signature of a folded text (see rules.fold), or None when it has too few words."""
    words = _words(folded)
    if len(words) < MIN_WORDS:
        return None
    minhash = RMinHash(PERMUTATIONS, SEED)
    minhash.update(list(words))
    return array("I", minhash.digest()).tobytes()


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of two signatures: the share of equal minimums."""
    return _equal(array("I", a), array("I", b)) / PERMUTATIONS


def _equal(a: array, b: array) -> int:
    return sum(map(operator.eq, a, b))


_WIDTH = ROWS * 4  # bytes of a band


@dataclass(frozen=True, slots=True)
class Head:
    conversation_id: int
    signature: bytes
    at: datetime
    minimums: array  # the signature as numbers, compared without converting it again
    seconds: float  # `at` as a timestamp (cheap to compare)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a new conversation goes: `cluster_id` is the head's conversation id (the new
    conversation's own id when it starts a cluster that may grow later: then `joined` is False).
    `at` and `head_at` are the two first messages' times."""

    conversation_id: int
    cluster_id: int
    joined: bool
    at: datetime
    head_at: datetime


class ClusterIndex:
    """Recent cluster heads by LSH band. Thread-safe: pollers of several channels share one."""

    def __init__(self, *, threshold: float = THRESHOLD, window: timedelta = WINDOW) -> None:
        self.threshold, self.window = threshold, window
        self._window = window.total_seconds()
        self._bands: list[dict[bytes, Head]] = [{} for _ in range(BANDS)]  # band -> its rows -> head
        self._lock = threading.Lock()
        self._pruned_at: float | None = None

    def place(self, new: Iterable[tuple[int, bytes | None, datetime]]) -> list[Placement]:
        """Place new conversations (id, signature, first message time), oldest first, and
        remember those that start a cluster. Only conversations with a signature are placed."""
        placed: list[Placement] = []
        with self._lock:
            for conversation_id, sig, at in new:
                if sig is None:
                    continue
                minimums, seconds = array("I", sig), at.timestamp()
                head = self._match(sig, minimums, seconds)
                if head is None:
                    self._remember(Head(conversation_id, sig, at, minimums, seconds))
                    placed.append(Placement(conversation_id, conversation_id, False, at, at))
                else:
                    placed.append(Placement(conversation_id, head.conversation_id, True, at, head.at))
                self._prune(seconds)
        return placed

    def forget(self, conversation_ids: set[int]) -> None:
        """Drop heads that were never stored (their transaction rolled back)."""
        with self._lock:
            self._bands = [{key: head for key, head in band.items() if head.conversation_id not in conversation_ids}
                           for band in self._bands]

    def load(self, heads: Iterable[tuple[int, bytes, datetime]]) -> None:
        """Rebuild from stored conversations (oldest first) after a restart."""
        self.place(heads)

    def _match(self, sig: bytes, minimums: array, seconds: float) -> Head | None:
        best, most = None, self.threshold * PERMUTATIONS
        tried: set[int] = set()
        for band, heads in enumerate(self._bands):
            head = heads.get(sig[band * _WIDTH:(band + 1) * _WIDTH])
            if head is None or head.conversation_id in tried or abs(seconds - head.seconds) > self._window:
                continue
            tried.add(head.conversation_id)
            equal = _equal(minimums, head.minimums)
            if equal >= SURE:  # a copy: no closer head to look for
                return head
            if equal >= most:
                best, most = head, equal
        return best

    def _remember(self, head: Head) -> None:
        for band, heads in enumerate(self._bands):
            key = head.signature[band * _WIDTH:(band + 1) * _WIDTH]
            current = heads.get(key)
            if current is None or abs(head.seconds - current.seconds) > self._window:
                heads[key] = head

    def _prune(self, now: float) -> None:
        if self._pruned_at is not None and abs(now - self._pruned_at) < self._window / 4:
            return
        self._pruned_at = now
        self._bands = [{key: head for key, head in band.items() if abs(now - head.seconds) <= self._window}
                       for band in self._bands]
