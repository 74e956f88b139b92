"""How each platform counts the length of a reply.

- ``chars``: Unicode code points (Mastodon, Telegram, email).
- ``utf16``: UTF-16 code units (JavaScript ``String.length``: Facebook, Instagram).
- ``bytes``: UTF-8 bytes.
- ``graphemes``: user-perceived characters (Bluesky's 300): Unicode's extended grapheme clusters
  (UAX #29): a base character with its combining marks, an Indic conjunct, an emoji with its
  skin tone, tags or ZWJ sequence, a flag's two regional indicators, a Hangul syllable's jamo
  each count once.
- ``weighted``: X/Twitter's weighted length, twitter-text v3 configuration: the text is NFC
  normalised; code points in 0–4351, 8192–8205, 8208–8223 and 8242–8247 weigh 1, every other one
  weighs 2; an emoji (with its variation selector, skin tone, keycap, tag sequence, ZWJ sequence,
  or a pair of regional indicators for a flag) weighs 2 as a whole; every URL weighs 23 whatever
  its length. A post may weigh at most 280.

URL detection follows twitter-text's extractor closely but compactly: ``http(s)://`` URLs with
any (IDN) host, and URLs without a protocol on ASCII hosts ending in a known top-level domain.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata

import regex

METHODS = ("chars", "utf16", "bytes", "weighted", "graphemes")
MAX_WEIGHTED = 280
URL_WEIGHT = 23

# --- weights ---------------------------------------------------------------------------------

_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))  # weight 1; everything else 2


def _weight(cp: int) -> int:
    if cp <= 4351:
        return 1
    for lo, hi in _LIGHT[1:]:
        if lo <= cp <= hi:
            return 1
    return 2


# --- emoji (enough of UTS #51 to group sequences; every emoji weighs 2 anyway) ----------------

_ZWJ, _VS15, _VS16, _KEYCAP = 0x200D, 0xFE0E, 0xFE0F, 0x20E3
_PICTO_RANGES = (
    (0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2300, 0x23FF), (0x2B00, 0x2BFF),
    (0x2190, 0x21FF), (0x25A0, 0x25FF), (0x2900, 0x297F),
)
_PICTO_SINGLES = frozenset((0x203C, 0x2049, 0x2139, 0x24C2, 0x3030, 0x303D, 0x3297, 0x3299))
_TEXT_DEFAULT = frozenset((0x00A9, 0x00AE, 0x2122))  # emoji only when followed by U+FE0F
_KEYCAP_BASES = frozenset(map(ord, "#*0123456789"))


def _is_regional(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


def _is_picto(cp: int) -> bool:
    if cp in _PICTO_SINGLES:
        return True
    return any(lo <= cp <= hi for lo, hi in _PICTO_RANGES)


def _is_modifier(cp: int) -> bool:
    # variation selectors, skin tones, tag characters (subdivision flags), combining keycap
    return cp in (_VS15, _VS16, _KEYCAP) or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F


def _emoji_end(cps: list[int], i: int) -> int:
    """If an emoji starts at cps[i], the index just after it; else i."""
    n = len(cps)
    cp = cps[i]
    nxt = cps[i + 1] if i + 1 < n else -1
    if _is_regional(cp):
        return i + 2 if _is_regional(nxt) else i + 1
    if cp in _KEYCAP_BASES:
        if nxt == _KEYCAP:
            return i + 2
        if nxt == _VS16 and i + 2 < n and cps[i + 2] == _KEYCAP:
            return i + 3
        return i
    if cp in _TEXT_DEFAULT:
        if nxt != _VS16:
            return i
    elif not _is_picto(cp):
        return i
    j = i + 1
    while j < n:
        c = cps[j]
        if _is_modifier(c):
            j += 1
        elif c == _ZWJ and j + 1 < n and (_is_picto(cps[j + 1]) or cps[j + 1] in _TEXT_DEFAULT):
            j += 2
        else:
            break
    return j


# --- URLs ------------------------------------------------------------------------------------

_CCTLDS = (
    "ac ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo bq "
    "br bs bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do "
    "dz ec ee eg eh er es et eu fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt "
    "gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp ke kg kh ki km kn kp kr "
    "kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm mn mo mp mq mr ms mt "
    "mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt "
    "pw py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st su sv sx sy sz tc "
    "td tf tg th tj tk tl tm tn to tp tr tt tv tw tz ua ug uk um us uy uz va vc ve vg vi vn vu wf "
    "ws ye yt za zm zw"
)
_GTLDS = (
    "com net org edu gov mil int info biz name pro mobi aero coop museum jobs travel tel asia cat "
    "post xxx app dev page blog shop store online site website xyz tech club live news media cloud "
    "email link help support agency digital social world today network company group ltd llc inc "
    "solutions services systems center design art studio photo photography music video games game "
    "fun space life love team zone works global city london nyc paris berlin tokyo amsterdam wiki "
    "ninja guru bike taxi hotel money bank insurance finance careers academy school "
    "health care clinic dental fitness auto cars food cafe bar pizza restaurant fashion style "
    "shoes watch radio press report reviews events tickets deals sale cheap discount "
    "marketing consulting software computer technology host hosting domains codes "
    "google amazon apple microsoft youtube"
)
_IDN_TLDS = (
    "みんな コム 中国 中國 中文网 公司 网络 網絡 在线 网址 商城 游戏 移动 香港 台湾 台灣 新加坡 한국 "
    "рф укр бел срб мкд қаз мон ελ ευ ไทย भारत پاکستان السعودية امارات مصر ایران عمان قطر "
    "الاردن الجزائر المغرب تونس سورية فلسطين موقع شبكة"
)
_TLDS = sorted(set((_CCTLDS + " " + _GTLDS + " " + _IDN_TLDS).split()), key=lambda t: (-len(t), t))
_TLD = r"(?=[^\W\d_][^\s.]|xn--)(?:" + "|".join(map(re.escape, _TLDS)) + r"|xn--[a-z0-9-]+)(?![a-z0-9@+\-])"

# A host label character: anything but spaces, punctuation, controls and invalid characters.
_U = (r"[^\s!-/:-@\[-`{-\xbf\xd7\xf7\u061c\u2000-\u206f\u3000-\u303f\ufe10-\ufe6f"
      r"\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65\ufeff\ufffe\uffff]")
_A = r"[a-z0-9\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0300-\u036f\u1e00-\u1eff]"  # ASCII + Latin
_LATIN_CYRILLIC = r"a-z0-9\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0400-\u04ff\u1e00-\u1eff"
_PATH = rf"[{_LATIN_CYRILLIC}!*';:=+,.$/%#\[\]\-\u2013_~|&@()]"
_QUERY = r"[a-z0-9!?*'();:&=+$/%#\[\]\-_.,~|@]"


def _host(c: str) -> str:
    # subdomains may hold underscores, the registered name may not
    return rf"(?:{c}(?:(?:{c}|[_\-])*{c})?\.)*{c}(?:(?:{c}|-)*{c})?\.{_TLD}"


_URL_RE = re.compile(
    r"(?<![a-z0-9@\uff20$#\uff03\ufeff\ufffe\uffff])"
    # A bare host starts after a character that cannot be part of it: one start per word, so a
    # 100 KB word (or zalgo: every combining mark is a host character) is scanned once.
    rf"(?:(?P<proto>https?://)(?P<host>{_host(_U)})|(?<![\-_./])(?<!{_A})(?P<bare>{_host(_A)}))"
    r"(?P<port>:[0-9]{1,5})?"
    rf"(?P<rest>(?:/{_PATH}*)?(?:\?{_QUERY}*)?)",
    re.IGNORECASE,
)
_TCO_RE = re.compile(rf"/[a-z0-9]+(?:\?{_QUERY}*)?", re.IGNORECASE)
_END_OK = re.compile(rf"[{_LATIN_CYRILLIC}=_#/+\-&]", re.IGNORECASE)


def _trim(rest: str) -> str:
    """Drop the trailing punctuation a URL cannot end with (keeping balanced parentheses)."""
    end, opened, closed = len(rest), rest.count("("), rest.count(")")
    while end:
        last = rest[end - 1]
        if last == ")":
            if opened >= closed:
                break
            closed -= 1
        elif last == "(":
            opened -= 1
        elif _END_OK.match(last):
            break
        end -= 1
    return rest[:end]


def _label_ok(label: str) -> bool:
    if label[:4].lower() == "xn--":  # already punycode: must be ASCII
        return label.isascii() and len(label) <= 63
    if label.isascii():
        return len(label) <= 63
    if len(label) > 59:  # punycode spends at least a character per code point, after "xn--"
        return False
    try:
        return len(b"xn--" + label.lower().encode("punycode")) <= 63
    except UnicodeError:
        return False


def url_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) code-point offsets of the URLs in ``text``, as X finds them."""
    spans: list[tuple[int, int]] = []
    if "." not in text:  # every URL has a dot: the common case stays cheap
        return spans
    for m in _URL_RE.finditer(text):
        host = m.group("host") or m.group("bare")
        if not all(_label_ok(label) for label in host.split(".")):
            continue
        rest = m.group("rest")
        if m.group("proto") and host.lower() == "t.co" and rest:
            tco = _TCO_RE.match(rest)  # t.co links: an alphanumeric slug, at most 40 long
            if tco is None or len(tco.group(0)) > 41:
                continue
            rest = tco.group(0)
        else:
            rest = _trim(rest)
        spans.append((m.start(), m.start("rest") + len(rest)))
    return spans


def urls(text: str) -> list[str]:
    """The URLs in ``text``, as X finds them."""
    return [text[a:b] for a, b in url_spans(text)]


# --- counting --------------------------------------------------------------------------------


def _weighted_plain(text: str, emoji: bool) -> int:
    if text.isascii():
        return len(text)
    cps = [ord(c) for c in text]
    total, i, n = 0, 0, len(cps)
    while i < n:
        if emoji:
            j = _emoji_end(cps, i)
            if j > i:
                total += 2
                i = j
                continue
        total += _weight(cps[i])
        i += 1
    return total


def weighted_length(text: str, *, emoji: bool = True) -> int:
    """X's weighted length of ``text``. ``emoji=False`` gives twitter-text's v2 configuration
    (no emoji grouping: every code point weighs on its own)."""
    text = unicodedata.normalize("NFC", text)
    total, pos = 0, 0
    for start, end in url_spans(text):
        total += _weighted_plain(text[pos:start], emoji) + URL_WEIGHT
        pos = end
    return total + _weighted_plain(text[pos:], emoji)


_GRAPHEME = regex.compile(r"\X")


def graphemes(text: str) -> int:
    """The number of user-perceived characters in ``text``: Unicode's extended grapheme
    clusters (UAX #29, with Indic conjuncts) as the `regex` module's ``\\X`` finds them."""
    if text.isascii() and "\r" not in text:
        return len(text)
    return sum(1 for _ in _GRAPHEME.finditer(text))


def count(text: str, method: str) -> int:
    """The length of ``text`` counted the way a platform counts it (see METHODS)."""
    if method == "chars":
        return len(text)
    if method == "utf16":
        return len(text.encode("utf-16-le", "surrogatepass")) // 2
    if method == "bytes":
        return len(text.encode("utf-8", "surrogatepass"))
    if method == "weighted":
        return weighted_length(text)
    if method == "graphemes":
        return graphemes(text)
    raise ValueError(f"unknown length method {method!r} (expected one of {', '.join(METHODS)})")


def fits(text: str, method: str, max_length: int | None) -> bool:
    """Whether ``text`` fits in ``max_length`` counted by ``method`` (no limit: always)."""
    return max_length is None or count(text, method) <= max_length
