"""Outside text made safe to draw: what users, Claude, tools, files or the network wrote,
shown as typed on a terminal (the CLI's output, every widget of the window).

Control characters (ANSI escapes among them) and bidirectional overrides are shown as
visible escapes (``\\x1b``, ``\\u202e``) so they can neither move the cursor, restyle the
screen nor reorder the text around them; wide and combining characters stay as they are.
This module only makes strings printable: markup is never parsed here, and widgets draw the
result as literal text (``rich.text.Text``), never as markup.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 (tab and newline aside), DEL, C1: ESC starts ANSI sequences
    "\u2028\u2029"  # line and paragraph separators: a line break a terminal does not show as one
    "\u202a-\u202e\u2066-\u2069"  # bidi embeddings, overrides and isolates: they reorder what follows
    "\ud800-\udfff]"  # lone surrogates (surrogate-escaped bytes): no terminal can encode them
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with newlines and tabs kept and every other control, bidi override and lone
    surrogate shown as a visible escape (a Windows line end is a line end)."""
    if not _UNSAFE.search(text):
        return text
    return _UNSAFE.sub(_escape, text.replace("\r\n", "\n"))


def one_line(text: str, width: int | None = None) -> str:
    """``text`` on one line for a cell, a toast or a status line: runs of whitespace become
    one space, unsafe characters visible escapes, and past ``width`` characters it ends in ``…``."""
    if width is not None and len(text) > 16 * width + 64:
        text = text[: 16 * width + 64]  # a 100 KB line is cut before it is scanned
    flat = _UNSAFE.sub(_escape, " ".join(text.split()))
    if width is None or len(flat) <= width:
        return flat
    return flat[: max(width - 1, 0)] + "…"


def clip(text: str, limit: int) -> str:
    """``printable(text)`` cut at ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return printable(text)
    return printable(text[:limit]) + f"… ({len(text) - limit:,} more characters)"
