"""Text normalisation and tokenisation shared by rule matching and story merging.

Text is folded the same way for rules and items: HTML stripped, Unicode NFKC (full-width forms
become ASCII), curly quotes and dashes made plain, Latin diacritics removed, Traditional Chinese
characters made Simplified (OpenCC), whitespace collapsed. Tokens are whole words in spaced
scripts and single characters in Chinese, Japanese and Korean, so a CJK phrase matches as a run
of characters without word boundaries, and a term written in Simplified Chinese also finds its
Traditional spelling.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

_TAG = re.compile(r"<!--.*?-->|</?[a-zA-Z][^<>]{0,2000}>", re.S)
_SPACE = re.compile(r"\s+")
_COMBINING_LATIN = re.compile("[\u0300-\u036f]")
# Plain punctuation for typographic forms (and invisible characters dropped).
_PUNCT: dict[str, str] = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u00ad": "",
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\ufeff": "",
}
_PUNCT_CHARS = re.compile("[" + "".join(_PUNCT) + "]")

# Scripts written without spaces between words: each character is a token of its own.
CJK_RANGES = (
    "\u3040-\u30fa\u30fc-\u30ff"  # hiragana, katakana (not the middle dot, which separates words)
    "\u3100-\u312f"  # bopomofo
    "\u3131-\u318e"  # hangul compatibility jamo
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\u1100-\u11ff"  # hangul jamo
)
COMBINING_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_TOKEN = re.compile(
    rf"(?P<cjk>[{CJK_RANGES}])"
    r"|(?P<num>\d+(?:[.,]\d+)*)"
    rf"|(?P<word>[^\W_{CJK_RANGES}]+)"
)
# Text with a combining mark left after NFKC ("Ϋ̀" has no precomposed capital): a word keeps
# its marks. Slower, so only used when there is one.
_MARK = re.compile(f"[{COMBINING_MARKS}]")
_TOKEN_MARKED = re.compile(
    rf"(?P<cjk>[{CJK_RANGES}])"
    r"|(?P<num>\d+(?:[.,]\d+)*)"
    rf"|(?P<word>[^\W_{CJK_RANGES}](?:[^\W_{CJK_RANGES}]|[{COMBINING_MARKS}])*)"
)
_ABBREVIATION = re.compile(r"(?<![^\W\d_])(?:[^\W\d_]\.){1,}[^\W\d_]\.?(?![^\W\d_])")
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+$")
_CJK_CHAR = re.compile(f"[{CJK_RANGES}]")
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def strip_html(text: str) -> str:
    """Remove tags and decode entities (twice, for feeds that double-escape)."""
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(html.unescape(text))
        if "<" in text:
            text = _TAG.sub(" ", text)
    return text


def _plain(match: re.Match[str]) -> str:
    return _PUNCT[match.group()]


def clean(text: str) -> str:
    """Readable plain text: HTML stripped, NFKC, plain punctuation, whitespace collapsed.

    Case and diacritics are kept, so this is what a message shows.
    """
    text = strip_html(text or "")
    text = _PUNCT_CHARS.sub(_plain, unicodedata.normalize("NFKC", text))
    return _SPACE.sub(" ", text).strip()


@lru_cache(maxsize=1)
def _converter() -> Callable[[str], str]:
    import opencc  # loaded when the first CJK text arrives

    return opencc.OpenCC("t2s").convert


@lru_cache(maxsize=16384)
def _fold_word(word: str) -> str:
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFD", word.casefold())
    folded = unicodedata.normalize("NFC", _COMBINING_LATIN.sub("", decomposed))
    return _converter()(folded) if _HAN.search(folded) else folded


def fold(text: str) -> str:
    """Comparison form: `clean` plus case folding and Latin diacritics removed."""
    return " ".join(_fold_word(w) for w in clean(text).split(" ")) if text else ""


def has_cjk(text: str) -> bool:
    return _CJK_CHAR.search(text) is not None


def is_cjk_char(char: str) -> bool:
    return len(char) == 1 and _CJK_CHAR.match(char) is not None


@dataclass(frozen=True, slots=True)
class Tokens:
    """A field's tokens: `folded` for case-insensitive matching, `cased` as written, and which
    are words of a spaced script (not CJK characters, not numbers)."""

    folded: tuple[str, ...]
    cased: tuple[str, ...]
    spaced: tuple[bool, ...] = ()

    def __len__(self) -> int:
        return len(self.folded)


def _drop_abbreviation_dots(match: re.Match[str]) -> str:
    return match.group().replace(".", "")


def tokenize(text: str, *, already_clean: bool = False) -> Tokens:
    """Split text into tokens: words, numbers, and single CJK characters.

    "U.S." becomes "US", "1,000" becomes "1000", "5,5" becomes "5.5"; hyphens, slashes and
    apostrophes separate words ("Entity-List" is "entity", "list").
    """
    cleaned = text if already_clean else clean(text)
    if "." in cleaned:
        cleaned = _ABBREVIATION.sub(_drop_abbreviation_dots, cleaned)
    cased: list[str] = []
    spaced: list[bool] = []
    pattern = _TOKEN_MARKED if _MARK.search(cleaned) else _TOKEN
    for m in pattern.finditer(cleaned):
        token = m.group()
        kind = m.lastgroup
        if kind == "num" and "," in token:
            token = token.replace(",", "") if _THOUSANDS.match(token) else token.replace(",", ".")
        cased.append(token)
        spaced.append(
            kind == "word"
            and (token.isalpha() or all(c.isalpha() or unicodedata.combining(c) for c in token))
        )
    folded = tuple(_fold_word(t) for t in cased)
    return Tokens(folded=folded, cased=tuple(cased), spaced=tuple(spaced))


def words(text: str) -> tuple[str, ...]:
    """Folded tokens of a text."""
    return tokenize(text).folded
