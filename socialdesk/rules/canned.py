"""Canned responses: templates with a few known variables, per channel kind and language, counted
the way the channel counts (see length.py) so that an over-long reply is flagged before sending.

Template syntax is a safe subset of ``str.format``: ``{customer_name}`` inserts a variable, ``{{``
and ``}}`` are literal braces. Only the names in VARIABLES are allowed; attribute access, indexing,
positional fields, conversions (``!r``) and format specs are rejected when the templates are
compiled, with the template's name in the error. Rendering never calls ``str.format``.

Pure Python, no I/O.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import length

VARIABLES = ("customer_name", "customer_handle", "agent_name", "case_ref", "opening_hours",
             "response_window", "brand")
CUSTOMER_VARIABLES = frozenset(("customer_name", "customer_handle"))  # untrusted, one line

CASE_PREFIX = "SD-"
_CASE_RE = re.compile(r"\bSD-(\d{6,})\b")

# Customer values: controls (C0, DEL, C1), line/paragraph separators and bidi embeddings,
# overrides and isolates are removed or turned into a space (ZWJ and variation selectors stay:
# they are part of emoji in display names).
_LINE_BREAKS = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]")
_SPACES = re.compile(r"[ \t]{2,}")
# Terminal escape sequences (CSI "ESC [ … m", OSC "ESC ] … BEL", C1 CSI) go whole, not just the ESC.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    channels: tuple[str, ...] = ()  # channel kinds it is for; empty: all
    language: str | None = None  # e.g. "en", "pt-BR"; None: any language
    title: str = ""


@dataclass(frozen=True)
class Rendered:
    text: str
    length: int  # counted the channel's way
    max_length: int | None
    too_long: bool
    missing: tuple[str, ...]  # variables the template uses that had no value (rendered as "")


@dataclass(frozen=True)
class _Compiled:
    template: Template
    parts: tuple[tuple[str, str | None], ...]  # (literal text, variable name or None)
    variables: tuple[str, ...]


def case_reference(conversation_id: int) -> str:
    """The customer-facing case reference of a conversation: "SD-000123" (stable)."""
    if isinstance(conversation_id, bool) or not isinstance(conversation_id, int) or conversation_id < 0:
        raise ValueError(f"a case reference needs a conversation id >= 0, not {conversation_id!r}")
    return f"{CASE_PREFIX}{conversation_id:06d}"


def find_case_reference(text: str) -> int | None:
    """The conversation id of the first case reference in ``text`` (e.g. an email subject)."""
    m = _CASE_RE.search(text or "")
    return int(m.group(1)) if m else None


def clean_value(name: str, value: object) -> str:
    """A variable's value made safe to insert: controls removed; for customer-controlled values
    (names, handles) line breaks become spaces and the value is trimmed to one line."""
    text = "" if value is None else str(value)
    if "\x1b" in text or "\x9b" in text:
        text = _ANSI.sub("", text)
    if name in CUSTOMER_VARIABLES:
        text = _LINE_BREAKS.sub(" ", text)
        text = _CONTROLS.sub("", text.replace("\t", " "))
        return _SPACES.sub(" ", text).strip()
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", text)  # keeps \n and \t: admins may write multi-line hours


def _parse(template: Template) -> _Compiled:
    def bad(why: str) -> ValueError:
        return ValueError(f"canned response {template.name!r}: {why}")

    parts: list[tuple[str, str | None]] = []
    used: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template.text))
    except ValueError as exc:  # a lone "{" or "}"
        raise bad(f"bad syntax ({exc}); write {{{{ and }}}} for literal braces") from None
    for literal, field, spec, conversion in parsed:
        if field is None:
            parts.append((literal, None))
            continue
        if field not in VARIABLES:
            shown = "{" + field + "}" if field else "{}"
            raise bad(f"unknown variable {shown} (known: {', '.join(VARIABLES)})")
        if conversion is not None or spec:
            raise bad(f"no conversions or format specs allowed in {{{field}}}")
        parts.append((literal, field))
        if field not in used:
            used.append(field)
    return _Compiled(template, tuple(parts), tuple(used))


def _lang(tag: str | None) -> str | None:
    if not tag:
        return None
    return tag.strip().replace("_", "-").lower() or None


class CannedResponses:
    """A compiled set of templates; build it once with ``compile`` (at start-up)."""

    def __init__(self, compiled: Sequence[_Compiled]):
        self._compiled = {c.template.name: c for c in compiled}
        self._order = tuple(c.template for c in compiled)

    @classmethod
    def compile(cls, templates: Sequence[Template]) -> CannedResponses:
        compiled: list[_Compiled] = []
        seen: set[str] = set()
        for t in templates:
            if not isinstance(t.name, str) or not t.name.strip():
                raise ValueError(f"canned response with text {t.text[:40]!r}…: a name is required")
            if t.name in seen:
                raise ValueError(f"canned response {t.name!r}: defined twice")
            if not isinstance(t.text, str):
                raise ValueError(f"canned response {t.name!r}: text must be a string")
            seen.add(t.name)
            compiled.append(_parse(t))
        return cls(compiled)

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self):
        return iter(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._compiled

    def get(self, name: str) -> Template | None:
        c = self._compiled.get(name)
        return c.template if c else None

    def variables(self, name: str) -> tuple[str, ...]:
        """The variables a template uses, in order of first use."""
        return self._lookup(name).variables

    def choices(self, *, channel_kind: str, language: str | None) -> list[Template]:
        """The templates usable on this channel kind, the conversation's language first: exact
        language, then the same base language ("pt" for "pt-BR" and back), then templates
        without a language, then the others; declaration order within each group."""
        want = _lang(language)
        base = want.split("-")[0] if want else None

        def rank(t: Template) -> int:
            lang = _lang(t.language)
            if lang is None:
                return 2
            if want is not None and lang == want:
                return 0
            if base is not None and lang.split("-")[0] == base:
                return 1
            return 3

        usable = [t for t in self._order if not t.channels or channel_kind in t.channels]
        return sorted(usable, key=rank)  # stable: declaration order within a rank

    def render(self, name: str, variables: Mapping[str, str], *, length_method: str = "chars",
               max_length: int | None = None) -> Rendered:
        compiled = self._lookup(name)
        out: list[str] = []
        missing: list[str] = []
        for literal, field in compiled.parts:
            out.append(literal)
            if field is None:
                continue
            value = clean_value(field, variables.get(field))
            if not value.strip():
                value = ""
                if field not in missing:
                    missing.append(field)
            out.append(value)
        text = "".join(out)
        n = length.count(text, length_method)
        return Rendered(text=text, length=n, max_length=max_length,
                        too_long=max_length is not None and n > max_length, missing=tuple(missing))

    def _lookup(self, name: str) -> _Compiled:
        try:
            return self._compiled[name]
        except KeyError:
            raise KeyError(f"no canned response named {name!r}") from None
