"""Text from feeds is untrusted: cleaned once when it is parsed, escaped again at the terminal.

A feed can put anything into a headline: terminal escape sequences (`ESC]0;…BEL` retitles the
window, `ESC[2J` clears the screen), bidirectional overrides and isolates that make text read
differently from what it holds (Trojan Source, CVE-2021-42574), and invisible characters that
hide words from people or rules. `safe_text` removes them from every field of an item before
it is stored (`bot.models.Item` applies it to its own fields, whichever parser built it);
`for_terminal` shows whatever is left in older databases as inert `\\x1b`-style escapes.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

# Unicode categories never kept in stored text: control characters (C0, DEL, C1), format
# characters (bidi embeddings, overrides, isolates and marks, zero-width characters, tag
# characters, invisible operators), lone surrogates, and line and paragraph separators.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Format characters that are visible marks, kept: Arabic number signs, end of ayah, Syriac
# abbreviation mark, Arabic pound and piastre marks, Kaithi number signs.
VISIBLE_FORMAT = frozenset(
    "\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd"
)
# Line breaks: kept as a newline where a field may hold several lines, else a space.
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
SPACES = frozenset("\t\x1f")  # tab and unit separator: a space
# What a terminal may be shown as is: newlines and tabs that Radar itself writes.
TERMINAL_KEEP = frozenset("\n\t")
MAX_LANGUAGE = 35
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*")
_SPACE_RUN = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n\s*\n(?:\s*\n)+")


def is_unsafe(char: str) -> bool:
    """True for a character that stored text never holds (see `UNSAFE_CATEGORIES`)."""
    return unicodedata.category(char) in UNSAFE_CATEGORIES and char not in VISIBLE_FORMAT


def safe_text(text: str, *, multiline: bool = False) -> str:
    """`text` without control, bidi and invisible format characters.

    Line breaks become spaces (or, with `multiline`, newlines; three or more in a row, two),
    tabs and runs of spaces one space.
    Text that holds none of these characters is returned as it is, at the cost of one scan.
    """
    if text.isprintable():
        return text
    if multiline:
        text = text.replace("\r\n", "\n")
    kept: list[str] = []
    for char in text:
        if char.isprintable() or char == " ":
            kept.append(char)
        elif char in LINE_BREAKS:
            kept.append("\n" if multiline else " ")
        elif char in SPACES:
            kept.append(" ")
        elif not is_unsafe(char):
            kept.append(char)  # other spaces (no-break, ideographic), private use, unassigned
    cleaned = "".join(kept)
    if not multiline:
        return _SPACE_RUN.sub(" ", cleaned).strip()
    lines = [_SPACE_RUN.sub(" ", line).strip() for line in cleaned.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def safe_language(language: str | None) -> str | None:
    """A language tag as feeds write it (`en`, `zh-CN`, `en_us`), or None for anything else."""
    if not language:
        return None
    language = language.strip()
    if len(language) > MAX_LANGUAGE or not _LANGUAGE.fullmatch(language):
        return None
    return language


def _escape(char: str, *, for_json: bool) -> str:
    code = ord(char)
    if for_json:
        if code > 0xFFFF:  # a surrogate pair, as JSON writes characters outside the BMP
            code -= 0x10000
            return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
        return f"\\u{code:04x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _for_terminal(text: str, *, for_json: bool) -> str:
    if text.isprintable():
        return text
    return "".join(
        _escape(c, for_json=for_json) if c not in TERMINAL_KEEP and is_unsafe(c) else c
        for c in text
    )


def for_terminal(text: str) -> str:
    """`text` as a terminal may show it: every control, bidi and invisible format character
    (except newline and tab) written as an escape such as `\\x1b` or `\\u202e`."""
    return _for_terminal(text, for_json=False)


def json_for_terminal(value: Any, *, indent: int | None = None) -> str:
    """JSON of `value` that is safe on a terminal and decodes to the same value: characters
    `for_terminal` would escape are written as JSON `\\u` escapes."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return _for_terminal(text, for_json=True)
