"""Highlighted snippets of a hit's original text, shared by all backends.

Matching runs on folded text (NFKC + lowercase, then traditional→simplified only if
needed) with an offset map back to the original, so the snippet shows the text as
extracted while marking what the query matched. Everything is HTML-escaped except
our own <mark> tags.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata

from . import analysis

SNIPPET_CHARS = 120
CONTEXT_BEFORE = 30
# Do not scan further than this into a long text for a match to show.
SCAN_CHARS = 100_000

# Characters NFKC leaves alone and that lowercase 1:1: no offset bookkeeping needed.
_STABLE = re.compile(r"[\u4e00-\u9fff\u0020-\u007e\n\r\t]+")
_ASCII_EDGE = f"[^\\W_{analysis.CJK_CHARS}]"


def _fold(text: str) -> tuple[str, list[int]]:
    """NFKC + lowercase of `text`, and for each folded character its index in `text`."""
    parts: list[str] = []
    origin: list[int] = []
    pos = 0
    for m in _STABLE.finditer(text):
        for i in range(pos, m.start()):
            folded = unicodedata.normalize("NFKC", text[i]).lower()
            parts.append(folded)
            origin.extend([i] * len(folded))
        parts.append(m.group().lower())
        origin.extend(range(m.start(), m.end()))
        pos = m.end()
    for i in range(pos, len(text)):
        folded = unicodedata.normalize("NFKC", text[i]).lower()
        parts.append(folded)
        origin.extend([i] * len(folded))
    return "".join(parts), origin


@functools.lru_cache(maxsize=256)
def _pattern(literals: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex finding any of the query literals in folded, simplified text."""
    alternatives = []
    for literal in literals:
        units, cjk = analysis.units(analysis.normalize(literal))
        if not units:
            continue
        parts = []
        for i, unit in enumerate(units):
            if unit == analysis.GAP:
                parts.append(r"[\W_]+")
                continue
            if i:
                # PDF whitespace between CJK characters is folded away by normalize.
                parts.append(r"\s*" if cjk[i] and cjk[i - 1] else r"[\W_]*")
            if cjk[i]:
                parts.append(re.escape(unit))
            else:
                parts.append(f"(?<!{_ASCII_EDGE}){re.escape(unit)}(?!{_ASCII_EDGE})")
        alternatives.append("".join(parts))
    if not alternatives:
        return None
    return re.compile("|".join(sorted(alternatives, key=len, reverse=True)))


def _find(pattern: re.Pattern[str], folded: str) -> tuple[str, re.Match[str] | None]:
    found = pattern.search(folded)
    if found is None:
        simplified = analysis.to_simplified(folded)
        if len(simplified) == len(folded):  # t2s is 1:1 here, so offsets still hold
            found = pattern.search(simplified)
            if found:
                return simplified, found
    return folded, found


def _marked(text: str, pattern: re.Pattern[str]) -> str | None:
    """`text` around its first match, HTML-escaped, matches in <mark>; None if no match."""
    scanned = text[:SCAN_CHARS]
    folded, origin = _fold(scanned)
    folded, first = _find(pattern, folded)
    if first is None:
        return None
    start = max(0, origin[first.start()] - CONTEXT_BEFORE)
    end = min(len(scanned), start + SNIPPET_CHARS)
    out = ["…" if start else ""]
    cursor = start
    for m in pattern.finditer(folded, first.start()):
        if m.end() == m.start():
            continue
        lo, hi = origin[m.start()], origin[m.end() - 1] + 1
        if hi > end:
            break
        out.append(html.escape(text[cursor:lo]))
        out.append(f"<mark>{html.escape(text[lo:hi])}</mark>")
        cursor = hi
    out.append(html.escape(text[cursor:end]))
    if end < len(text):
        out.append("…")
    return "".join(out)


def highlight(text: str, title: str, literals: tuple[str, ...]) -> str:
    """A ~120-character snippet of `text` (or `title`) with the query's literals marked."""
    pattern = _pattern(literals) if literals else None
    if pattern is not None:
        for source in (text, title):
            if source:
                snippet = _marked(source, pattern)
                if snippet is not None:
                    return snippet
    source = text or title
    head = html.escape(source[:SNIPPET_CHARS])
    return head + ("…" if len(source) > SNIPPET_CHARS else "")
