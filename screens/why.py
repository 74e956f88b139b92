""""Why is this P1?": the priority's reasons and what the rules noticed, on one line."""

from __future__ import annotations

from rich.text import Text

from socialdesk.screens import format as fmt
from socialdesk.store.views import ConversationDetail
from socialdesk.text import terminal_safe

SENSITIVE = {"card": "a card number", "iban": "an IBAN", "uk_account": "a bank account", "email": "an email address",
             "phone": "a phone number"}


def why(detail: ConversationDetail) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    if detail.sensitive:
        found = ", ".join(SENSITIVE.get(kind, kind.removeprefix("custom:")) for kind in detail.sensitive)
        line.append(f"⚠ public post contains {found}: answer privately · ", style="bold red")
    line.append(f"{fmt.priority_label(detail.priority)} ({detail.priority})", style="bold")
    if detail.reasons:  # each label already says its points ("influencer: 120k followers +25")
        line.append(": " + terminal_safe(" · ".join(label for label, _ in detail.reasons), single_line=True))
    facts = [f"sentiment {detail.sentiment}/10" if detail.sentiment is not None else "",
             detail.language or "", detail.region or "", "key customer" if detail.key_customer else ""]
    if any(facts):
        line.append("  " + " · ".join(f for f in facts if f), style="dim")
    return line
