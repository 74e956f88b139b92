"""Realistic Mastodon traffic for a brand account: who writes, what they write, as API entities.

Pure and deterministic from a seed: `Traffic(seed)` draws authors from a skewed (Zipf–Mandelbrot)
population of several thousand accounts, so there are repeat customers and a few influencers, and
writes questions, complaints and praise in six languages as Mastodon-style HTML. A share of it is
noise (reblogs, "RT @brand" posts, bots), about 15% are direct messages, and a few carry hostile
strings (terminal markup, ANSI escapes, bidi overrides, zalgo, escaped HTML).

`notifications(n, seed, start_id)` builds n mention notifications quickly (benchmarks).
"""

from __future__ import annotations

import bisect
import gc
import itertools
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from . import texts

BRAND_ID = "1"
BRAND_USERNAME = "brand"
BRAND_DISPLAY = "Acme Support"
INSTANCE = "https://social.example"
EPOCH = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

LANGUAGES = ("en", "de", "fr", "es", "pt", "ja")
LANGUAGE_WEIGHTS = (0.55, 0.12, 0.10, 0.10, 0.07, 0.06)
REMOTE_DOMAINS = (
    "mastodon.social", "fosstodon.org", "chaos.social", "mstdn.jp", "hachyderm.io", "mas.to",
    "mastodon.online", "piaille.fr", "mastodon.uno", "masto.es", "mastodon.com.br", "social.tchncs.de",
)
DM_SHARE = 0.15
REPLY_SHARE = 0.10
REBLOG_SHARE = 0.04
RT_SHARE = 0.03
HOSTILE_SHARE = 0.03
DELETED_SHARE = 0.003

_ESC = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;", ord("'"): "&#39;"}


def escape(text: str) -> str:
    """HTML-escape like Mastodon (apostrophe as &#39;)."""
    return text.translate(_ESC)


def iso(dt: datetime) -> str:
    """Mastodon's timestamp format: milliseconds and a Z."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def snowflake(ms: int, seq: int = 0) -> int:
    """A Mastodon-style status id: milliseconds since the Unix epoch shifted left 16 bits, plus a
    sequence."""
    return (ms << 16) | (seq & 0xFFFF)


def _render(template: str) -> str:
    """A plain-text template as the inside of a Mastodon <p>: escaped, newlines rendered."""
    return escape(template).replace("\n\n", "</p><p>").replace("\n", "<br />")


def brand_account(instance: str = INSTANCE) -> dict[str, Any]:
    return {
        "id": BRAND_ID,
        "username": BRAND_USERNAME,
        "acct": BRAND_USERNAME,
        "display_name": BRAND_DISPLAY,
        "locked": False,
        "bot": False,
        "discoverable": True,
        "group": False,
        "created_at": "2019-04-01T00:00:00.000Z",
        "note": "<p>Official support account of Acme. We answer 8:00–20:00 CET.</p>",
        "url": f"{instance}/@{BRAND_USERNAME}",
        "uri": f"{instance}/users/{BRAND_USERNAME}",
        "avatar": f"{instance}/avatars/original/missing.png",
        "avatar_static": f"{instance}/avatars/original/missing.png",
        "header": f"{instance}/headers/original/missing.png",
        "header_static": f"{instance}/headers/original/missing.png",
        "followers_count": 48210,
        "following_count": 312,
        "statuses_count": 90210,
        "last_status_at": "2026-03-02",
        "emojis": [],
        "fields": [],
    }


def mention_html(acct: str, instance: str = INSTANCE) -> str:
    """The h-card span Mastodon renders for a mention (remote accounts show the short name)."""
    username, _, domain = acct.partition("@")
    href = f"https://{domain}/@{username}" if domain else f"{instance}/@{username}"
    return (
        f'<span class="h-card" translate="no"><a href="{href}" class="u-url mention">'
        f"@<span>{escape(username)}</span></a></span>"
    )


def text_to_html(text: str, instance: str = INSTANCE) -> str:
    """Plain text as Mastodon renders a local post: escaped, paragraphs, <br />, mentions."""
    out = escape(text)
    if "@" in out:
        out = texts.MENTION_RE.sub(lambda m: m.group(1) + mention_html(m.group(2), instance), out)
    if "#" in out:
        out = texts.HASHTAG_RE.sub(lambda m: m.group(1) + hashtag_html(m.group(2), instance), out)
    paragraphs = [p.replace("\n", "<br />") for p in out.split("\n\n")]
    return "".join(f"<p>{p}</p>" for p in paragraphs)


def hashtag_html(tag: str, instance: str = INSTANCE) -> str:
    return (
        f'<a href="{instance}/tags/{tag.lower()}" class="mention hashtag" rel="tag">'
        f"#<span>{tag}</span></a>"
    )


class _Slots(dict):
    """Template values, drawn only when a template asks for them."""

    def __init__(self, traffic: Traffic, lang: str):
        super().__init__()
        self.traffic = traffic
        self.lang = lang

    def __missing__(self, key: str) -> Any:
        t = self.traffic
        r = t.rng.random()
        if key == "order":
            value: Any = f"A{int(r * 8_999_999) + 1_000_000}"
        elif key == "days":
            value = 2 + int(r * 19)
        elif key == "hours":
            value = 1 + int(r * 47)
        elif key == "amount":
            value = f"{5 + r * 295:.2f}"
        elif key == "product":
            value = t._products[self.lang][int(r * 7)]
        elif key == "city":
            value = t._cities[self.lang][int(r * 6)]
        elif key == "ticket":
            value = int(r * 89_999) + 10_000
        else:
            raise KeyError(key)
        self[key] = value
        return value


class Traffic:
    """A deterministic stream of customer statuses and notifications about one brand account."""

    def __init__(self, seed: int = 0, *, authors: int = 6000, instance: str = INSTANCE):
        self.rng = random.Random(seed)
        self.instance = instance
        self.brand = brand_account(instance)
        self._brand_mention = mention_html(BRAND_USERNAME, instance)
        self._tags = {t: hashtag_html(t, instance) for t in texts.HASHTAGS}
        made = [self._author(i) for i in range(authors)]
        self.authors = [account for account, _ in made]
        self.languages = {account["id"]: lang for account, lang in made}
        self.by_id = {account["id"]: account for account in self.authors}
        # Templates and slot values escaped (and newlines rendered) once, formatted per status.
        self._messages = {lang: [_render(t) for t in ts] for lang, ts in texts.MESSAGES.items()}
        self._followups = {lang: [_render(t) for t in ts] for lang, ts in texts.FOLLOWUPS.items()}
        self._noise = [_render(t.replace("@{brand}", "\0")).replace("\0", self._brand_mention)
                       for t in texts.NOISE]
        self._hostile = [_render(t) for t in texts.HOSTILE]
        self._products = {lang: [escape(p) for p in ps] for lang, ps in texts.PRODUCTS.items()}
        self._cities = {lang: [escape(c) for c in cs] for lang, cs in texts.CITIES.items()}
        self._tag_list = list(self._tags.values())
        self._mentions = [{"id": BRAND_ID, "username": BRAND_USERNAME, "url": self.brand["url"],
                           "acct": BRAND_USERNAME}]
        self._iso_sec = -1
        self._iso_prefix = ""
        # Zipf–Mandelbrot: weight 1/(rank+10) — a long tail with a head of repeat customers.
        self._cum = list(itertools.accumulate(1.0 / (rank + 10) for rank in range(authors)))
        self._total = self._cum[-1]
        self._recent: dict[str, str] = {}  # author id -> their last status id (threads)
        self._shareable: list[dict[str, Any]] = []  # recent public statuses, for reblogs

    # -- population --

    def _author(self, index: int) -> tuple[dict[str, Any], str]:
        rng = self.rng
        lang = rng.choices(LANGUAGES, LANGUAGE_WEIGHTS)[0]
        first, first_ascii = rng.choice(texts.FIRST_NAMES[lang])
        last, last_ascii = rng.choice(texts.LAST_NAMES[lang])
        style = rng.random()
        base = (
            f"{first_ascii}{last_ascii}" if style < 0.4
            else f"{first_ascii}_{last_ascii}" if style < 0.6
            else first_ascii
        )
        username = f"{base.lower()}{rng.randrange(10, 9999) if style > 0.3 else ''}"[:30]
        remote = rng.random() < 0.6
        domain = rng.choice(REMOTE_DOMAINS) if remote else ""
        acct = f"{username}@{domain}" if remote else username
        home = f"https://{domain}" if remote else self.instance
        display = f"{first}{last}" if lang == "ja" else f"{first} {last}"
        roll = rng.random()
        if roll < 0.05:
            display = f"{rng.choice(texts.NAME_EMOJI)} {first}"
        elif roll < 0.07:
            display = rng.choice(texts.HOSTILE_NAMES)
        elif roll < 0.15:
            display = ""
        bot = rng.random() < 0.02
        if index % 600 == 7:  # a handful of influencers, spread over the popularity ranks
            followers = rng.randrange(50_000, 2_500_000)
        else:
            followers = int(rng.lognormvariate(4.0, 1.6))
        account_id = str(100_000_000_000_000_000 + index * 7919 + 13)
        return {
            "id": account_id,
            "username": username,
            "acct": acct,
            "display_name": display,
            "locked": rng.random() < 0.05,
            "bot": bot,
            "discoverable": True,
            "group": False,
            "created_at": iso(EPOCH - timedelta(days=rng.randrange(30, 3000))),
            "note": "",
            "url": f"{home}/@{username}",
            "uri": f"{home}/users/{username}",
            "avatar": f"{home}/avatars/original/missing.png",
            "avatar_static": f"{home}/avatars/original/missing.png",
            "header": f"{home}/headers/original/missing.png",
            "header_static": f"{home}/headers/original/missing.png",
            "followers_count": followers,
            "following_count": int(rng.lognormvariate(4.5, 1.0)),
            "statuses_count": int(rng.lognormvariate(6.0, 1.5)),
            "last_status_at": "2026-03-02",
            "emojis": [],
            "fields": [],
        }, lang

    def pick_author(self) -> dict[str, Any]:
        return self.authors[bisect.bisect(self._cum, self.rng.random() * self._total)]

    def iso_ms(self, ms: int) -> str:
        """`iso()` for milliseconds since the Unix epoch (fast: the seconds part is cached)."""
        sec, milli = divmod(ms, 1000)
        if sec != self._iso_sec:
            self._iso_sec = sec
            self._iso_prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec))
        return f"{self._iso_prefix}{milli:03d}Z"

    def _fill(self, template: str, lang: str) -> str:
        return template.format_map(_Slots(self, lang)) if "{" in template else template

    # -- entities --

    def status(
        self,
        status_id: str,
        created_at: str,
        *,
        author: dict[str, Any] | None = None,
        in_reply_to: tuple[str, str] | None = None,
        visibility: str | None = None,
        followup: bool = False,
        incident: bool = False,
    ) -> dict[str, Any]:
        """One customer status mentioning the brand. `in_reply_to` is (status id, account id);
        `incident`: about the spike's incident (texts.INCIDENT), in public."""
        rnd = self.rng.random
        if author is None:
            author = self.authors[bisect.bisect(self._cum, rnd() * self._total)]
        lang = self.languages.get(author["id"], "en")
        if rnd() < 0.1:  # people do not always write in their own language
            lang = "en"
        if visibility is None:
            r = rnd()
            visibility = "public" if incident else "direct" if r < DM_SHARE else "unlisted" if r > 0.87 else "public"
        mention = self._brand_mention
        if incident:
            lang = "en"
            ending = texts.INCIDENT_ENDINGS[int(rnd() * len(texts.INCIDENT_ENDINGS))]
            body = _render(texts.INCIDENT[int(rnd() * len(texts.INCIDENT))] + ending)
            content = f"<p>{mention} {body}</p>"
        elif followup:
            pool = self._followups[lang]
            body = self._fill(pool[int(rnd() * len(pool))], lang)
            content = f"<p>{mention} {body}</p>"
        elif author["bot"] or (visibility != "direct" and rnd() < RT_SHARE):
            lang = "en"
            body = self._fill(self._noise[int(rnd() * len(self._noise))], lang)
            content = f"<p>{body}</p>"
        else:
            pool = self._messages[lang]
            body = self._fill(pool[int(rnd() * len(pool))], lang)
            if rnd() < HOSTILE_SHARE:
                hostile = self._hostile[int(rnd() * len(self._hostile))]
                body = f"{hostile} {body}" if rnd() < 0.5 else f"{body}</p><p>{hostile}"
            if rnd() < 0.25:
                body = f"{body} {self._tag_list[int(rnd() * len(self._tag_list))]}"
            content = f"<p>{mention} {body}</p>" if rnd() < 0.7 else f"<p>{body} {mention}</p>"
        reply_id = reply_account = reblog = None
        if in_reply_to is not None:
            reply_id, reply_account = in_reply_to
        elif rnd() < REPLY_SHARE:
            reply_id = self._recent.get(author["id"])
            if reply_id is not None:
                reply_account = author["id"]
        if reply_id is None and visibility != "direct" and not followup and rnd() < REBLOG_SHARE:
            if self._shareable:
                # Reblog-like noise: someone boosts an earlier public mention; the outer status
                # carries no text of its own.
                reblog = self._shareable[int(rnd() * len(self._shareable))]
                content = ""
        account = author.copy()
        public = visibility != "direct"
        status = {
            "id": status_id,
            "created_at": created_at,
            "in_reply_to_id": reply_id,
            "in_reply_to_account_id": reply_account,
            "sensitive": False,
            "spoiler_text": "Kundenservice" if rnd() < 0.01 else "",
            "visibility": visibility,
            "language": None if reblog else lang,
            "uri": f"{author['uri']}/statuses/{status_id}",
            "url": f"{author['url']}/{status_id}",
            "replies_count": 0,
            # Heavy-tailed like real engagement: most posts get a handful, about 1 in 100 goes past 50.
            "reblogs_count": min(20_000, int(self.rng.paretovariate(1.6)) - 1) if public else 0,
            "favourites_count": min(50_000, int(self.rng.paretovariate(1.2)) - 1) if public else 0,
            "quotes_count": 0,
            "edited_at": None,
            "content": content,
            "reblog": reblog,
            "application": None,
            "account": account,
            "media_attachments": [],
            "mentions": [self._mentions[0].copy()],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }
        if reblog is None:
            self._recent[author["id"]] = status_id
            if visibility == "public":
                if len(self._shareable) >= 50:
                    self._shareable[int(rnd() * 50)] = status
                else:
                    self._shareable.append(status)
        return status

    def notification(self, notification_id: str, status: dict[str, Any] | None, created_at: str,
                     kind: str = "mention", account: dict[str, Any] | None = None) -> dict[str, Any]:
        if account is None:
            account = status["account"] if status is not None else self.pick_author().copy()
        return {
            "id": notification_id,
            "type": kind,
            "created_at": created_at,
            "group_key": f"ungrouped-{notification_id}",
            "account": account,
            "status": status,
        }

    def other_notification(self, notification_id: str, created_at: str,
                           brand_status: dict[str, Any] | None) -> dict[str, Any]:
        """Noise the `types[]=mention` filter must drop: follows, favourites, reblogs."""
        kind = self.rng.choice(("follow", "favourite", "reblog", "favourite"))
        status = brand_status if kind != "follow" else None
        if kind != "follow" and status is None:
            kind = "follow"
        return self.notification(notification_id, status, created_at, kind,
                                 account=self.pick_author().copy())

    def mention(self, notification_id: str, status_id: str, ms: int, **kwargs: Any) -> dict[str, Any]:
        """A mention notification with a fresh status (or, rarely, a deleted one: status null)."""
        created = self.iso_ms(ms)
        if self.rng.random() < DELETED_SHARE:
            return self.notification(notification_id, None, created, account=self.pick_author().copy())
        return self.notification(notification_id, self.status(status_id, created, **kwargs), created)


def notifications(n: int, seed: int = 0, start_id: int = 1, *, start: datetime = EPOCH,
                  mean_gap: float = 0.2) -> list[dict[str, Any]]:
    """n mention notifications with ids start_id, start_id+1, … (numeric strings), oldest first,
    about `mean_gap` seconds apart from `start`. Deterministic for a seed. Nested objects may be
    shared between items (as they would be after a cache): treat them as read-only."""
    traffic = Traffic(seed)
    expo = traffic.rng.expovariate
    rate = 1.0 / mean_gap
    ms = int(start.timestamp() * 1000)
    mention = traffic.mention
    out = []
    append = out.append
    enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of young dicts: the cyclic GC would rescan them all
    try:
        for i in range(n):
            ms += 1 + int(expo(rate) * 1000)
            append(mention(str(start_id + i), str(snowflake(ms, i)), ms))
    finally:
        if enabled:
            gc.enable()
    return out
