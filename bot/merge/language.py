"""Which language an item is in: as its feed declares it, else detected (Compact Language
Detector 2, through pycld2), so merging compares wording only within one language."""

from __future__ import annotations

from bot.models import Item
from bot.text import clean


def language_of(item: Item) -> str:
    """A two-letter code ("en", "zh"), or "" when the feed says nothing and detection is
    unsure."""
    if item.language:
        return item.language[:2].lower()
    import pycld2  # loaded when the first item to merge has no declared language

    text = clean(f"{item.title}. {item.summary[:600]}")
    try:
        reliable, _, details = pycld2.detect(text)
    except pycld2.error:  # bytes it cannot read: no guess
        return ""
    code = details[0][1] if details else "un"
    return code[:2] if reliable and code not in ("un", "xx") else ""


def same_language(a_cjk: bool, a_language: str, b_cjk: bool, b_language: str) -> bool:
    """Whether wording can be compared: same script, and not two known, different languages."""
    return a_cjk == b_cjk and not (a_language and b_language and a_language != b_language)
