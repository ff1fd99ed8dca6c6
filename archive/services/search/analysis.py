"""The one Chinese text analysis shared by every search backend and by the query side.

Documents and queries go through the same `normalize` and the same unit scheme, so a
query term is found exactly where its normalised text occurs in a document.

Units and positions
-------------------
Normalised text is cut into *units*: every CJK character is a unit, and every run of
other letters/digits (``ht``, ``2024``, ``1201``) is a unit. Units take consecutive
positions. Punctuation between two CJK characters takes one position of its own
(the `GAP` term), so ``维修，记录`` never matches ``修记``; any other separator takes
none, so ``3栋 2单元`` matches ``3栋2单元`` and ``HT 2024`` matches ``HT-2024``.

Each field is indexed as four position-aligned streams (position = list index):

* ``uni``: the units themselves;
* ``bi``: at each CJK character followed by a CJK character, the bigram starting
  there; everywhere else the unit itself;
* ``tri`` and ``quad``: at each CJK character followed by two (three) more of its
  run, the 3-gram (4-gram) starting there; everywhere else `FILLER`, which no query
  asks for.

A query literal becomes a phrase over one stream (`literal_phrase`): a consecutive
run of bigrams finds a substring of a Chinese run exactly, and ``维修`` can never
match ``维X修``. A literal of exactly three Chinese characters and nothing else is one
3-gram (``认购书``); four or more are a phrase of 4-grams: ``户关系部`` is one term,
``物业服务中心`` two (at offsets 0 and 2). Common phrases are where a search spends its
time, checking positions in every document that holds all the terms; a single gram
needs no positions, and 4-grams are fewer per document than the bigrams they replace,
and fewer per phrase. Backends only ever see these plain term lists.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
import unicodedata
from typing import NamedTuple

import jieba
import opencc

# Text beyond this many characters is not indexed: a multi-megabyte extraction costs
# seconds of analysis and its tail rarely matters for retrieval.
MAX_TEXT_CHARS = 700_000
# Longer letter/digit runs (hashes, base64 junk) are cut so terms stay small.
MAX_UNIT_CHARS = 64

GAP = "_"  # punctuation between two CJK characters
BREAK = "|"  # boundary between two values of a field (title | text | file name …)
FILLER = "_"  # a position of the tri or quad stream that starts no 3- or 4-gram
STREAMS = ("uni", "bi", "tri", "quad")
TRI, QUAD = 3, 4  # characters of a tri- and a quad-stream gram

CJK_CHARS = (
    "\u3040-\u30ff"  # kana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Han
    "\uac00-\ud7af"  # Hangul syllables
    "\U00020000-\U0003134f"
)
_RUN = re.compile(f"([{CJK_CHARS}]+)|[^\\W_{CJK_CHARS}]+")
_OVERLAPPING_PAIRS = re.compile("(?=(..))", re.DOTALL)
_OVERLAPPING_TRIS = re.compile("(?=(...))", re.DOTALL)
_OVERLAPPING_QUADS = re.compile("(?=(....))", re.DOTALL)
_CJK_GRAM = re.compile(f"[{CJK_CHARS}]{{2,}}")
_SPACE_BETWEEN_CJK = re.compile(f"(?<=[{CJK_CHARS}])\\s+(?=[{CJK_CHARS}])")
# A code is letters/digits joined by - / . _ (HT-2024-0031, A3/12): kept whole too.
_CODE = re.compile(f"[^\\W_{CJK_CHARS}]+(?:[-/._][^\\W_{CJK_CHARS}]+)+")
# C0/C1 control characters other than tab and line breaks.
CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class Streams(NamedTuple):
    """Position-aligned unit, bigram, 3-gram and 4-gram streams of one field."""

    uni: list[str]
    bi: list[str]
    tri: list[str]
    quad: list[str]


class Phrase(NamedTuple):
    """What a query literal compiles to: consecutive `terms` in stream `stream`."""

    stream: str  # one of STREAMS
    terms: tuple[str, ...]


@functools.cache
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@functools.cache
def _segmenter() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    jieba.dt.initialize()
    return jieba.dt


def warm_up() -> None:
    """Load the jieba dictionary and OpenCC tables now (about a second) rather than on
    first use, e.g. before taking the index write lock."""
    _segmenter()
    _converter()
    _traditional_chars()


def normalize(text: str) -> str:
    """Fold `text` for matching: NFKC, lowercase, traditional→simplified, and drop the
    whitespace PDF extraction leaves between Chinese characters ("维 修\\n记 录" → "维修记录")."""
    if not text:
        return ""
    text = CONTROL_CHARS.sub(" ", text)
    text = nfkc(text).lower()
    return _SPACE_BETWEEN_CJK.sub("", to_simplified(text))


def nfkc(text: str) -> str:
    """NFKC of `text`; the quick check spares the full pass over text that is already."""
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (OpenCC t2s); other text passes through."""
    return _converter().convert(text)


@functools.cache
def traditional_forms() -> dict[str, str]:
    """For each simplified Han character, the characters t2s turns into it on their own
    (发 → 發髮), found by asking the converter once (about 40 ms)."""
    chars = [chr(c) for c in itertools.chain(range(0x3400, 0x4DC0), range(0x4E00, 0xA000),
                                             range(0xF900, 0xFB00))]
    converted = to_simplified("\n".join(chars)).split("\n")
    forms: dict[str, str] = {}
    for char, simple in zip(chars, converted, strict=True):
        if char != simple and len(simple) == 1:
            forms[simple] = forms.get(simple, "") + char
    return forms


@functools.cache
def _traditional_chars() -> re.Pattern[str]:
    return re.compile("[" + re.escape("".join(traditional_forms().values())) + "]")


def may_be_traditional(text: str) -> bool:
    """False if no character of `text` is one t2s changes on its own: such text can skip
    conversion where a rare phrase-level miss costs nothing (snippet marks)."""
    return _traditional_chars().search(text) is not None


def _runs(norm: str) -> list[tuple[str, bool]]:
    """Normalised text as runs of units: (CJK run, True), (letters/digits, False), and
    (GAP, False) between two CJK runs. Two CJK runs are always split by punctuation
    here, as `normalize` has already removed whitespace between CJK characters."""
    out: list[tuple[str, bool]] = []
    prev_cjk = False
    for m in _RUN.finditer(norm):
        run = m.group(1)
        if run is None:
            out.append((m.group()[:MAX_UNIT_CHARS], False))
            prev_cjk = False
        else:
            if prev_cjk:
                out.append((GAP, False))
            out.append((run, True))
            prev_cjk = True
    return out


def units(norm: str) -> tuple[list[str], list[bool]]:
    """Units of normalised text (GAP terms included) and, for each, whether it is a CJK character."""
    found: list[str] = []
    cjk: list[bool] = []
    for run, is_cjk in _runs(norm):
        if is_cjk:
            found.extend(run)
            cjk.extend([True] * len(run))
        else:
            found.append(run)
            cjk.append(False)
    return found, cjk


def _bigrams(found: list[str], cjk: list[bool]) -> list[str]:
    last = len(found) - 1
    return [u + found[i + 1] if cjk[i] and i < last and cjk[i + 1] else u
            for i, u in enumerate(found)]


def streams(values: list[str]) -> Streams:
    """Index streams of the already-normalised values of one field, BREAK between values."""
    uni: list[str] = []
    bi: list[str] = []
    tri: list[str] = []
    quad: list[str] = []
    for value in values:
        runs = _runs(value)
        if not runs:
            continue
        if uni:
            uni.append(BREAK)
            bi.append(BREAK)
            tri.append(BREAK)
            quad.append(BREAK)
        for run, is_cjk in runs:
            if not is_cjk:
                uni.append(run)
                bi.append(run)
                tri.append(FILLER)
                quad.append(FILLER)
                continue
            uni.extend(run)
            if len(run) == 1:  # most runs are short: no regex for them
                bi.append(run)
                tri.append(FILLER)
                quad.append(FILLER)
                continue
            bi.extend(_OVERLAPPING_PAIRS.findall(run))
            bi.append(run[-1])
            if len(run) >= TRI:
                tri.extend(_OVERLAPPING_TRIS.findall(run))
            tri.extend(_FILLERS[: min(TRI - 1, len(run))])
            if len(run) >= QUAD:
                quad.extend(_OVERLAPPING_QUADS.findall(run))
            quad.extend(_FILLERS[: min(QUAD - 1, len(run))])
    return Streams(uni, bi, tri, quad)


_FILLERS = [FILLER] * (QUAD - 1)


def tokens(text: str) -> list[tuple[str, int]]:
    """All index terms of normalised `text` as (term, position): each unit, and each
    bigram at the position of its first character (the two streams, merged)."""
    uni, bi, *_ = streams([text])
    out = [(u, i) for i, u in enumerate(uni) if u != GAP]
    out.extend((b, i) for i, b in enumerate(bi) if b != uni[i])
    return sorted(out, key=lambda t: (t[1], len(t[0])))


def words(title: str, text: str) -> list[str]:
    """Ranking-only terms of a normalised document: jieba search-mode words of its
    title, and every whole code (HT-2024-0031) of its title and `text`.

    The streams alone decide *whether* a document matches; these only lift documents
    that hold the query as a whole word or code. Jieba is pure Python (~3 µs per
    character): segmenting whole texts would cut indexing speed by four, so only the
    title, where a whole-word match says most about a document, is segmented."""
    out = [w for w in _segmenter().cut_for_search(title, HMM=False) if len(w) > 1 and not w.isspace()]
    out.extend(_CODE.findall(title))
    out.extend(_CODE.findall(text))
    return out


def literal_phrase(text: str) -> Phrase | None:
    """The phrase that finds query literal `text` exactly (None if it has no units).

    Bigrams where the literal continues a CJK run, units elsewhere; a run's last
    character is covered by the bigram before it. A CJK character that ends the
    literal on its own (``修``, ``3栋``) may be followed by anything in a document,
    so such a literal is matched on the unit stream instead. Three Chinese characters
    alone are one 3-gram, four or more are matched on 4-grams."""
    found, cjk = units(normalize(text))
    if not found:
        return None
    if len(found) == TRI and all(cjk):
        return Phrase("tri", ("".join(found),))
    if len(found) >= QUAD and all(cjk):
        return Phrase("quad", tuple("".join(found[i : i + QUAD]) for i in range(len(found) - QUAD + 1)))
    if cjk[-1] and (len(found) == 1 or not cjk[-2]):
        return Phrase("uni", tuple(found))
    grams = _bigrams(found, cjk)
    if cjk[-1]:
        grams.pop()
    return Phrase("bi", tuple(grams))


def _span(term: str) -> int:
    """Units a bi- or quad-stream term covers: its length for a CJK gram, 1 for a unit
    (no unit is two CJK characters, so the term alone tells)."""
    return len(term) if _CJK_GRAM.fullmatch(term) else 1


def sparse_phrase(terms: tuple[str, ...]) -> list[tuple[int, str]]:
    """The fewest (offset, term) pairs of a bi- or quad-stream phrase that still cover
    every unit of it: a bigram at offset i makes the one at i+1 redundant. `3栋维修记录`
    needs (0 3)(1 栋维)(3 修记)(4 记录), not all six terms, and `物业服务中心` needs
    (0 物业服务)(2 服务中心): same matches, fewer position lists to intersect."""
    ends = max(i + _span(t) for i, t in enumerate(terms))
    chosen, unit = [], 0
    while unit < ends:
        if unit < len(terms):
            chosen.append((unit, terms[unit]))
            unit += _span(terms[unit])
        else:  # the last unit is only covered by the bigram before it
            if chosen[-1][0] != len(terms) - 1:
                chosen.append((len(terms) - 1, terms[-1]))
            break
    return chosen


def query_word(text: str) -> str:
    """The `words` term a query literal would match as a whole word or code."""
    return "".join(normalize(text).split())
