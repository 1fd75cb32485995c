"""Relevance: BM25 over the newest matches of a search (pure).

A database's own ranking (FTS5's ``bm25``, PostgreSQL's ``ts_rank``) first counts every row that
holds each searched phrase, over the whole archive: 110 ms for one common phrase in 10,000
session-hours. So relevance is computed here instead, over the newest :data:`RANKED` matches as
the collection: each searched term weighs by how few of them hold it, saturating with how often
an utterance says it, against the utterance's length. Both backends rank the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Final

from orchestrator.search.query import Query, Term

__all__ = ["RANKED", "scores"]

RANKED: Final = 500
"""How many of the newest matches are ordered by relevance; older ones follow by date."""

K1, B = 1.2, 0.75


def _pattern(term: Term) -> re.Pattern[str]:
    """Where ``term`` (a word, a phrase, or a prefix) occurs in space-separated tokens."""
    ending = "" if term.prefix else "(?![^ ])"
    return re.compile("(?<![^ ])" + re.escape(" ".join(term.tokens)) + ending)


def scores(query: Query, texts: Sequence[str]) -> list[float]:
    """BM25 of each of ``texts`` (space-separated tokens, as indexed) for ``query``'s positive
    terms, with ``texts`` as the collection; higher is more relevant."""
    if not texts:
        return []
    patterns = [_pattern(term) for term in query.positive_terms]
    counts = [[len(p.findall(text)) for p in patterns] for text in texts]
    lengths = [text.count(" ") + 1 for text in texts]
    size = len(texts)
    average = sum(lengths) / size
    idf = [
        math.log(1 + (size - held + 0.5) / (held + 0.5))
        for held in (sum(1 for row in counts if row[i]) for i in range(len(patterns)))
    ]
    return [
        sum(
            weight * f * (K1 + 1) / (f + K1 * (1 - B + B * length / average))
            for weight, f in zip(idf, row, strict=True)
        )
        for length, row in zip(lengths, counts, strict=True)
    ]
