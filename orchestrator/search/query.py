"""The archive's query language, parsed into a small tree and compiled for each backend (pure).

Syntax: words (``khiếu nại`` = both words), quoted phrases (``"bồi thường đất"``), prefixes
(``bồi*``), numbers in words or digits (``200 triệu`` is a phrase that also finds ``hai trăm
triệu``: :mod:`~orchestrator.search.numbers`), the upper-case operators ``AND``, ``OR`` and ``NOT``
(``OR`` binds tighter than the implicit ``AND``: ``đất OR nhà thu hồi`` = ``(đất OR nhà) AND thu
hồi``). Lower-case ``and``/``or`` are ordinary words. Punctuation and FTS syntax characters are
separators: they never reach the database. Dangling operators (``OR đất``, ``đất AND``) are dropped.
What cannot be given a sane meaning is a :class:`QueryError` with a Vietnamese message (an HTTP
400).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.search.folding import exact_tokens, folded_tokens
from orchestrator.search.numbers import FORMS_SEPARATOR, canonical_tokens, spoken_numbers

__all__ = [
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "Clause",
    "Query",
    "QueryError",
    "Term",
    "parse_query",
    "to_fts5",
    "to_tsquery",
]

MAX_QUERY_CHARS = 500
MAX_TERMS = 32
_OPERATORS = {"AND", "OR", "NOT"}
_SEPARATORS = re.compile(r"[(){}\[\]^:+,;]")
_LEXEME = re.compile(r'"(?P<phrase>[^"]*)"|(?P<bare>[^\s"]+)')


class QueryError(ValueError):
    """A query that cannot be searched; the message is Vietnamese and shown to the user."""


@dataclass(frozen=True)
class Term:
    """A word, a phrase (several tokens in a row) or a prefix (one token ending in ``*``)."""

    tokens: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class Clause:
    """Alternatives, any of which may match (``a OR b``); negated for ``NOT``."""

    alternatives: tuple[Term, ...]
    negated: bool = False


@dataclass(frozen=True)
class Query:
    """Clauses that must all hold: at least one positive."""

    clauses: tuple[Clause, ...]
    exact: bool

    @property
    def positive_terms(self) -> tuple[Term, ...]:
        """The terms that are searched for (for highlighting)."""
        return tuple(t for c in self.clauses if not c.negated for t in c.alternatives)


def _terms(raw: str, phrase: bool, exact: bool) -> list[Term]:
    """The alternatives one lexeme searches: its tokens, and (for a phrase that says a number)
    the same with the number in its value form."""
    tokenize = exact_tokens if exact else folded_tokens
    tokens = [t for t in tokenize(raw) if t != FORMS_SEPARATOR]
    if not tokens:
        return []
    if phrase:
        values = canonical_tokens(raw, exact=exact, loose=True)
        return [Term(tuple(tokens))] + ([Term(tuple(values))] if values else [])
    # "khiếu-nại" is a phrase of two tokens; "bồi*" a prefix (only the last token is one).
    return [Term(tuple(tokens), prefix=raw.endswith("*"))]


def _quote_numbers(text: str) -> str:
    """``text`` with each number typed outside quotes quoted (``200 triệu`` → ``"200 triệu"``),
    so that it is searched as one phrase, with its value form beside it."""
    out, pos = [], 0
    for i, part in enumerate(text.split('"')):
        if i % 2 == 0:
            for number in spoken_numbers(part, loose=True):
                if number.last - number.first > 1 or not part[number.start : number.end].isdigit():
                    out += [part[pos : number.start], '"', part[number.start : number.end], '"']
                    pos = number.end
            out.append(part[pos:])
        else:
            out += ['"', part, '"']
        pos = 0
    return "".join(out)


def parse_query(text: str, *, exact: bool = False) -> Query:
    """Parse ``text``.

    Args:
        text: what the user typed.
        exact: keep diacritics (``đà`` does not find ``da``); otherwise both sides are folded.

    Raises:
        QueryError: empty, too long, an unclosed quote, only negations, too many terms.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"Câu tìm kiếm quá dài (tối đa {MAX_QUERY_CHARS} ký tự).")
    if text.count('"') % 2:
        raise QueryError("Thiếu dấu ngoặc kép đóng cụm từ.")
    # Grouping and FTS syntax characters only separate words (parentheses are not supported).
    text = _quote_numbers(_SEPARATORS.sub(" ", text))
    # Items: a Term list, or an operator string.
    items: list[str | list[Term]] = []
    for m in _LEXEME.finditer(text):
        if m.group("phrase") is not None:
            terms = _terms(m.group("phrase"), True, exact)
        elif m.group("bare") in _OPERATORS:
            items.append(m.group("bare"))
            continue
        else:
            terms = _terms(m.group("bare"), False, exact)
        if terms:
            items.append(terms)
    clauses: list[Clause] = []
    pending_or = False
    pending_not = False
    for item in items:
        if isinstance(item, str):
            if item == "OR":
                pending_or = bool(clauses) and not clauses[-1].negated and not pending_not
            elif item == "NOT":
                pending_not = True
                pending_or = False
            continue
        if pending_or:
            last = clauses.pop()
            clauses.append(Clause(last.alternatives + tuple(item)))
        else:
            clauses.append(Clause(tuple(item), negated=pending_not))
        pending_or = pending_not = False
    if not clauses:
        raise QueryError("Câu tìm kiếm không có từ nào để tìm.")
    if all(c.negated for c in clauses):
        raise QueryError("Cần ít nhất một từ cần tìm, không chỉ các từ bị loại trừ (NOT).")
    if sum(len(t.tokens) for c in clauses for t in c.alternatives) > MAX_TERMS:
        raise QueryError(f"Câu tìm kiếm có quá nhiều từ (tối đa {MAX_TERMS}).")
    return Query(tuple(clauses), exact)


def _fts5_term(term: Term) -> str:
    # Tokens are letters and digits only, so quoting them cannot inject FTS5 syntax.
    quoted = '"' + " ".join(term.tokens) + '"'
    return quoted + "*" if term.prefix else quoted


def _alternatives(clause: Clause, term: Callable[[Term], str], or_sep: str) -> str:
    parts = [term(t) for t in clause.alternatives]
    return parts[0] if len(parts) == 1 else "(" + or_sep.join(parts) + ")"


def _ts_term(term: Term) -> str:
    lexemes = [f"'{t}'" for t in term.tokens]
    if term.prefix:
        lexemes[-1] += ":*"
    return lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")"


def to_fts5(query: Query) -> str:
    """An FTS5 MATCH expression over the column the query's mode searches."""
    column = "text_exact" if query.exact else "text_folded"
    positive = [_alternatives(c, _fts5_term, " OR ") for c in query.clauses if not c.negated]
    expr = "(" + " AND ".join(positive) + ")"
    for c in query.clauses:
        if c.negated:
            expr = f"({expr} NOT {_alternatives(c, _fts5_term, ' OR ')})"
    return f"{column} : {expr}"


def to_tsquery(query: Query) -> str:
    """A PostgreSQL ``to_tsquery('simple', ...)`` text with the same meaning."""
    parts = [("!" if c.negated else "") + _alternatives(c, _ts_term, " | ") for c in query.clauses]
    return " & ".join(parts)
