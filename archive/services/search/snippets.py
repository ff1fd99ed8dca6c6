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
# Look for a match to show in ever longer prefixes of a text: most matches come early.
SCAN_CHARS = (400, 4_000, 50_000)

# Characters whose NFKC form the pattern does not already accept: all NFKC changes but
# full-width ASCII (the pattern takes both widths) and the ideographic space (\s).
_FOLDS = re.compile("[" + re.escape("".join(
    c for c in map(chr, range(0xA0, 0x10000))
    if not ("\uff01" <= c <= "\uff5e" or c == "\u3000" or "\ud800" <= c <= "\udfff")
    and unicodedata.normalize("NFKC", c) != c)) + "]")
# Characters NFKC leaves alone and that lowercase 1:1: no offset bookkeeping needed.
_STABLE = re.compile(r"[\u4e00-\u9fff\u0020-\u007e\n\r\t]+")
# A letter or digit that is not CJK: what continues a letter/digit unit. Case does not
# change the class, and folding case over the CJK ranges would triple its compile time.
_RUN_CHAR = f"(?-i:[^\\W_{analysis.CJK_CHARS}])"
_NOT_AFTER_RUN = f"(?<!{_RUN_CHAR})"
_NOT_BEFORE_RUN = f"(?!{_RUN_CHAR})"


def _fold(text: str) -> tuple[str, list[int] | None]:
    """NFKC + lowercase of `text`, and for each folded character its index in `text`
    (None when folding kept every character in place, as for all CJK text)."""
    folded = analysis.nfkc(text).lower()
    if len(folded) == len(text):
        return folded, None
    # Some character expanded or merged (㎡ → m2): map offsets one stretch at a time.
    parts: list[str] = []
    origin: list[int] = []
    pos = 0
    for m in _STABLE.finditer(text):
        for i in range(pos, m.start()):
            piece = analysis.nfkc(text[i]).lower()
            parts.append(piece)
            origin.extend([i] * len(piece))
        parts.append(m.group().lower())
        origin.extend(range(m.start(), m.end()))
        pos = m.end()
    for i in range(pos, len(text)):
        piece = analysis.nfkc(text[i]).lower()
        parts.append(piece)
        origin.extend([i] * len(piece))
    return "".join(parts), origin


@functools.lru_cache(maxsize=256)
def _pattern(literals: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex finding any of the query literals in folded, simplified text.

    A letter/digit unit must not continue a longer run of letters and digits (``ht`` is
    not in ``http``). That test names every CJK range and costs ~10 ms to compile, so
    it is written once per group of alternatives that start (end) with such a unit,
    not once per unit: inside a literal, two letter/digit units are kept apart by a
    separator instead. Compiling then costs about the same for any number of literals,
    and a literal given twice is one alternative."""
    groups: dict[tuple[bool, bool], set[str]] = {}
    for literal in literals:
        units, cjk = analysis.units(analysis.normalize(literal))
        if not units:
            continue
        parts = []
        for i, unit in enumerate(units):
            if unit == analysis.GAP:
                parts.append(r"[\W_]+")
                continue
            if i and cjk[i] and cjk[i - 1]:
                parts.append(r"\s*")  # PDF whitespace between CJK characters is folded away
            elif i and not cjk[i] and not cjk[i - 1]:
                parts.append(r"[\W_]+")  # two letter/digit units: never one run
            elif i:
                parts.append(r"[\W_]*")
            parts.append(_any_script(unit) if cjk[i] else _any_width(unit))
        edges = (not cjk[0], not cjk[-1])
        groups.setdefault(edges, set()).add("".join(parts))
    if not groups:
        return None
    branches = []
    # Longest alternatives first: at one position the longer literal is marked.
    for (starts, ends), alternatives in sorted(groups.items(), key=lambda g: -max(map(len, g[1]))):
        body = "|".join(sorted(alternatives, key=lambda a: (-len(a), a)))
        branches.append(f"{_NOT_AFTER_RUN if starts else ''}(?:{body}){_NOT_BEFORE_RUN if ends else ''}")
    return re.compile("|".join(branches), re.IGNORECASE)


def _any_script(char: str) -> str:
    """Regex for a (simplified) Han character in either script (卫 matches 衛)."""
    forms = analysis.traditional_forms().get(char)
    return f"[{re.escape(char + forms)}]" if forms else re.escape(char)


def _any_width(unit: str) -> str:
    """Regex for a letter/digit unit in half- or full-width form (１２０１ is 1201)."""
    return "".join(f"[{re.escape(c)}{chr(ord(c) + 0xFEE0)}]" if "!" <= c <= "~" else re.escape(c)
                   for c in unit)


def _find(pattern: re.Pattern[str], folded: str) -> tuple[str, re.Match[str] | None]:
    found = pattern.search(folded)
    if found is None and analysis.may_be_traditional(folded):
        simplified = analysis.to_simplified(folded)
        if len(simplified) == len(folded):  # t2s is 1:1 here, so offsets still hold
            found = pattern.search(simplified)
            if found:
                return simplified, found
    return folded, found


def _locate(text: str, pattern: re.Pattern[str]):
    """(searched text, offset map or None, first match) — match None if there is none.

    The pattern already accepts case, width and spacing variants, so the original
    text is searched as is, in ever longer prefixes (most matches come early); only
    if that fails is it folded (NFKC, traditional→simplified) with an offset map."""
    for limit in SCAN_CHARS:
        found = pattern.search(text, 0, limit)
        if found is not None:
            return text, None, found
        if limit >= len(text):
            break
    head = text[:SCAN_CHARS[-1]]
    if not _FOLDS.search(head) and not analysis.may_be_traditional(head):
        return text, None, None  # folding would change nothing the pattern cares about
    folded, origin = _fold(head)
    folded, found = _find(pattern, folded)
    return folded, origin, found


def _marked(text: str, pattern: re.Pattern[str]) -> tuple[str, int] | None:
    """`text` around its first match, HTML-escaped, matches in <mark>, and where in
    `text` that match starts; None if no match."""
    folded, origin, first = _locate(text, pattern)
    if first is None:
        return None

    def at(i: int) -> int:
        return i if origin is None else origin[i]

    start = max(0, at(first.start()) - CONTEXT_BEFORE)
    end = min(len(text), start + SNIPPET_CHARS)
    out = ["…" if start else ""]
    cursor = start
    for m in pattern.finditer(folded, first.start()):
        if m.end() == m.start():
            continue
        lo, hi = at(m.start()), at(m.end() - 1) + 1
        if hi > end:
            break
        out.append(html.escape(text[cursor:lo]))
        out.append(f"<mark>{html.escape(text[lo:hi])}</mark>")
        cursor = hi
    out.append(html.escape(text[cursor:end]))
    if end < len(text):
        out.append("…")
    return _joined_lines("".join(out)), at(first.start())


# Whitespace between two CJK characters, marks allowed on either side of it: a PDF's
# line wrap, which reads as a stray space in a snippet ("总价人 民币").
_SPACE = re.compile(r"(</?mark>)?\s+(</?mark>)?")
_CJK_CHAR = re.compile(f"[{analysis.CJK_CHARS}]")


def _joined_lines(snippet: str) -> str:
    def join(m: re.Match[str]) -> str:
        start, end = m.start(), m.end()
        if start and end < len(snippet) and _CJK_CHAR.match(snippet, start - 1) \
                and _CJK_CHAR.match(snippet, end):
            return (m.group(1) or "") + (m.group(2) or "")
        return m.group()

    return _SPACE.sub(join, snippet)


def highlight(text: str, title: str, literals: tuple[str, ...]) -> str:
    """A ~120-character snippet of `text` (or `title`) with the query's literals marked."""
    return highlight_at(text, title, literals)[0]


def highlight_at(text: str, title: str, literals: tuple[str, ...]) -> tuple[str, int | None]:
    """The snippet of `highlight`, and the offset in `text` of the match it shows (None
    when the match is in the title or there is none): which of a document's files the
    matching words came from (an OCR'd scan's are marked as such in the lists)."""
    pattern = _pattern(literals) if literals else None
    if pattern is not None:
        found = _marked(text, pattern) if text else None
        if found is not None:
            return found
        snippet = _marked(title, pattern) if title else None
        if snippet is not None:
            return snippet[0], None
    source = text or title
    head = _joined_lines(html.escape(source[:SNIPPET_CHARS]))
    return head + ("…" if len(source) > SNIPPET_CHARS else ""), None
