"""The one query parser: user syntax → a small AST that every backend compiles.

Syntax
------
* terms separated by spaces are AND'ed; each term is a substring match (see `analysis`);
* ``"exact phrase"`` (spaces inside are part of the phrase);
* ``AND``, ``OR``, ``NOT`` (uppercase only; lowercase ``and`` is an ordinary term),
  ``-term`` for NOT, parentheses for grouping; ``OR`` binds looser than ``AND``;
* ``title:``, ``customer:``, ``number:`` (dossier number), ``file:`` restrict a term
  or a quoted phrase to one field; unprefixed terms search every text field;
* at most `MAX_TERMS` terms and `MAX_NESTING` levels of parentheses and NOT (a term
  given twice is searched once).

Malformed input raises `BadRequest` with a Chinese message; nothing else escapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archive.services.errors import BadRequest

from . import analysis

MAX_QUERY_CHARS = 1000
# Terms (words, phrases, field terms) in one query, and levels of parentheses and NOT:
# a person searching writes a handful of each. Every term costs the engines and the
# snippets work; each level costs the parser and the backends a recursion.
MAX_TERMS = 32
MAX_NESTING = 16
FIELDS = {"title": "title", "customer": "customer", "number": "number", "file": "file"}
ALL = "all"  # scope of an unprefixed term: every text field


# --- AST --------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """Documents whose `scope` fields contain `literal` (compiled to `phrase`)."""

    scope: str
    literal: str
    phrase: analysis.Phrase


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class TermIn:
    """Filter: keyword/integer `field` equals one of `values` (none: matches nothing)."""

    field: str
    values: tuple[int | str, ...]


@dataclass(frozen=True)
class Range:
    """Filter: integer `field` within [low, high], a missing bound being open."""

    field: str
    low: int | None
    high: int | None


Node = Match | And | Or | Not | TermIn | Range


def match(scope: str, literal: str) -> Match | None:
    """A Match node for `literal`, or None when it holds nothing searchable (only punctuation)."""
    phrase = analysis.literal_phrase(literal)
    return Match(scope, literal, phrase) if phrase else None


def all_of(nodes: list[Node | None]) -> Node | None:
    """AND of the non-empty `nodes`, flattened, each once; None if there are none."""
    kept: list[Node] = []
    for node in nodes:
        if isinstance(node, And):
            kept.extend(node.children)
        elif node is not None:
            kept.append(node)
    kept = list(dict.fromkeys(kept))
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else And(tuple(kept))


def any_of(nodes: list[Node | None]) -> Node | None:
    """OR of the non-empty `nodes`, flattened, each once; None if there are none."""
    kept: list[Node] = []
    for node in nodes:
        if isinstance(node, Or):
            kept.extend(node.children)
        elif node is not None:
            kept.append(node)
    kept = list(dict.fromkeys(kept))
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else Or(tuple(kept))


def positive_literals(node: Node | None) -> list[str]:
    """Literals a hit must (or may) contain — the ones worth highlighting — each once."""
    return list(dict.fromkeys(_positive_literals(node)))


def _positive_literals(node: Node | None) -> list[str]:
    if isinstance(node, Match):
        return [node.literal] if node.scope in (ALL, "title") else []
    if isinstance(node, And | Or):
        return [lit for child in node.children for lit in _positive_literals(child)]
    return []


# --- lexer ------------------------------------------------------------------------

_OPERATORS = {"AND", "OR", "NOT"}
_FIELD_PREFIX = re.compile(r"^([A-Za-z]+):(.*)$", re.DOTALL)
_WORD_END = re.compile(r'[\s()"]')


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "AND", "OR", "NOT", "TERM"
    text: str = ""
    scope: str = ALL


def _syntax_error(detail: str) -> BadRequest:
    return BadRequest(f"查询语法错误：{detail}", code="bad_query")


def _read_phrase(text: str, start: int) -> tuple[str, int]:
    """The phrase opened by the quote at `start`, and the index after its closing quote."""
    end = text.find('"', start + 1)
    if end < 0:
        raise _syntax_error("引号不成对")
    return text[start + 1 : end], end + 1


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token(char))
            i += 1
        elif char == '"':
            phrase, i = _read_phrase(text, i)
            tokens.append(_Token("TERM", phrase))
        elif char == "-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] != ")":
            tokens.append(_Token("NOT"))
            i += 1
        else:
            m = _WORD_END.search(text, i)
            end = m.start() if m else n
            word = text[i:end]
            i = end
            prefix = _FIELD_PREFIX.match(word)
            scope = FIELDS.get(prefix.group(1).lower()) if prefix else None
            if word in _OPERATORS:
                tokens.append(_Token(word))
            elif scope and not prefix.group(2) and i < n and text[i] == '"':
                phrase, i = _read_phrase(text, i)
                tokens.append(_Token("TERM", phrase, scope))
            elif scope:
                tokens.append(_Token("TERM", prefix.group(2), scope))
            else:
                tokens.append(_Token("TERM", word))
    return tokens


# --- parser -----------------------------------------------------------------------

_STARTS_OPERAND = {"TERM", "(", "NOT"}


class _Parser:
    """Recursive descent: or := and (OR and)* ; and := unary (AND? unary)* ;
    unary := NOT unary | primary ; primary := TERM | '(' or ')'."""

    def __init__(self, tokens: list[_Token]):
        self.tokens = tokens
        self.pos = 0
        self.depth = 0  # parentheses and NOTs open around the current token

    def peek(self) -> str | None:
        return self.tokens[self.pos].kind if self.pos < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def operand_after(self, operator: str) -> None:
        if self.peek() not in _STARTS_OPERAND:
            raise _syntax_error(f"“{operator}”后缺少检索词")

    def parse(self) -> Node | None:
        node = self.parse_or()
        if self.peek() is not None:
            # Only a stray ")" can stop the top-level expression early.
            raise _syntax_error("括号不成对")
        return node

    def parse_or(self) -> Node | None:
        nodes = [self.parse_and()]
        while self.peek() == "OR":
            self.take()
            self.operand_after("OR")
            nodes.append(self.parse_and())
        return any_of(nodes)

    def parse_and(self) -> Node | None:
        nodes = [self.parse_unary()]
        while True:
            kind = self.peek()
            if kind == "AND":
                self.take()
                self.operand_after("AND")
            elif kind not in _STARTS_OPERAND:
                return all_of(nodes)
            nodes.append(self.parse_unary())

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _syntax_error(f"括号或 NOT 嵌套过深，不能超过 {MAX_NESTING} 层")

    def parse_unary(self) -> Node | None:
        if self.peek() == "NOT":
            self.take()
            self.operand_after("NOT")
            self.nest()
            child = self.parse_unary()
            self.depth -= 1
            return Not(child) if child is not None else None
        return self.parse_primary()

    def parse_primary(self) -> Node | None:
        kind = self.peek()
        if kind == "(":
            self.take()
            if self.peek() == ")":
                raise _syntax_error("括号内没有检索词")
            self.nest()
            node = self.parse_or()
            if self.peek() != ")":
                raise _syntax_error("括号不成对")
            self.take()
            self.depth -= 1
            return node
        if kind == "TERM":
            token = self.take()
            return match(token.scope, token.text)
        if kind in ("AND", "OR"):
            raise _syntax_error(f"“{kind}”前缺少检索词")
        raise _syntax_error("括号不成对")


def parse(text: str) -> Node | None:
    """Parse user query `text`; None when it holds nothing to search for (match all)."""
    if len(text) > MAX_QUERY_CHARS:
        raise BadRequest(f"查询过长：不能超过{MAX_QUERY_CHARS}个字符", code="bad_query")
    tokens = _lex(analysis.CONTROL_CHARS.sub("", text))
    terms = sum(token.kind == "TERM" for token in tokens)
    if terms > MAX_TERMS:
        raise BadRequest(f"检索词过多：共 {terms} 个，一次最多 {MAX_TERMS} 个，请精简查询",
                         code="bad_query")
    return _Parser(tokens).parse() if tokens else None
