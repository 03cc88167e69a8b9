"""Hostile strings: text from users, Claude, tools, files or the network that a careless
screen would interpret (markup, escapes, controls) or choke on (huge, empty, odd widths).

``HOSTILE`` maps a name to the string; ``shown(text)`` is what a literal rendering shows
for it (control characters as visible escapes, via core.display)."""

from __future__ import annotations

from core.display import printable

HOSTILE: dict[str, str] = {
    "closing-tag": "[/bold] stray [claude] line",
    "red-markup": "[red]x[/red]",
    "link": "[link=x]click[/link] [link=https://example.com]",
    "config-section": "[workflows.x] and [b]bold?[/b] [@click=app.quit]quit[/]",
    "telegram-markup": "**bold** __it__ `code` ```py <b>html</b> &amp; [t](tg://x)",
    "ansi": "\x1b[31mred\x1b[0m \x1b[2J\x1b[H cleared? \x1b]0;title\x07",
    "controls": "bell\x07 back\x08space tab\there cr\rreturn nul\x00 del\x7f c1\x9b",
    "bidi": "abc \u202eevil\u202c def \u2066isolated\u2069 end",
    "wide-combining": "漢字かな 🎉 e\u0301 n\u0303 \U0001f469\u200d\U0001f4bb",
    "long-line": "[/bold] " + "x" * 100_000,
    "empty": "",
}

MARKUP_NAMES = ("closing-tag", "red-markup", "link", "config-section", "telegram-markup")
"""Strings whose literal text must appear unchanged wherever they are drawn."""

UNSAFE = ("\x1b", "\x07", "\x08", "\x00", "\x7f", "\x9b", "\u202e", "\u202c", "\u2066", "\u2069", "\r")
"""Characters that must never reach the terminal raw."""


def shown(text: str) -> str:
    return printable(text)
