"""HTML mail as plain text (stdlib `html.parser`): scripts, styles and the head dropped, entities
decoded, block elements and `<br>` kept as line breaks, link targets kept after their text.

Standard library only."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = {"p", "div", "tr", "li", "ul", "ol", "dl", "dt", "dd", "table", "blockquote", "pre", "hr",
           "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer", "address",
           "center", "form", "fieldset", "figure", "main", "nav", "aside"}
_PARAGRAPHS = {"p", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"}
_HIDDEN = {"script", "style", "head", "title", "template", "noscript", "xml"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.hidden = 0
        self.pre = 0
        self.links: list[tuple[str | None, int]] = []  # (href, where its text starts in out)

    def _break(self, lines: int) -> None:
        if not self.out:
            return
        tail = "".join(self.out[-4:]).rstrip(" ")
        have = len(tail) - len(tail.rstrip("\n"))
        if have < lines:
            self.out.append("\n" * (lines - have))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag in _BLOCKS:
            self._break(2 if tag in _PARAGRAPHS else 1)
            self.pre += tag == "pre"
        elif tag in ("td", "th"):
            self.out.append(" ")
        elif tag == "a":
            href = dict(attrs).get("href")
            self.links.append((href if href and href.startswith(("http://", "https://")) else None, len(self.out)))

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS:
            if tag == "pre" and self.pre > 0:
                self.pre -= 1
            self._break(2 if tag in _PARAGRAPHS else 1)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.out[start:]).strip()
            if href and label and href.rstrip("/") not in label:
                self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
            if not self.out or self.out[-1].endswith("\n"):
                data = data.lstrip(" ")
        self.out.append(data)


def html_to_text(html_text: str) -> str:
    """HTML mail as plain text: scripts, styles and the head dropped, entities decoded, block
    elements and `<br>` kept as line breaks, link targets kept after their text."""
    parser = _Text()
    try:
        parser.feed(html_text)
        parser.close()
    except Exception:  # HTMLParser is lenient; this only guards against the unforeseen
        pass
    text = "".join(parser.out)
    text = "\n".join(line.rstrip(" \t") for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()
