"""An utterance's text as HTML (pure): snippets with the query's words in ``<mark>``, the rest
HTML-escaped, cut to a window around the first match; and the whole text with the words the
model was unsure of marked for the player."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from html import escape

from orchestrator.search.folding import token_spans
from orchestrator.search.numbers import spoken_numbers
from orchestrator.search.query import Query, Term

__all__ = ["highlight", "with_unsure_words"]

SNIPPET_TOKENS = 30


def _matches(term: Term, token: str) -> bool:
    # Every token of a phrase is marked where it appears; good enough for a snippet.
    last = len(term.tokens) - 1
    return any(
        token.startswith(t) if term.prefix and i == last else token == t
        for i, t in enumerate(term.tokens)
    )


def highlight(text: str, query: Query, window: int = SNIPPET_TOKENS) -> str:
    """``text`` as HTML with each token the query searched for wrapped in ``<mark>``.

    Long texts are cut to ``window`` tokens starting a little before the first match, with
    ``…`` where text was left out.
    """
    text = unicodedata.normalize("NFC", text)
    spans = token_spans(text)
    terms = query.positive_terms
    marked_set = {
        i
        for i, (_s, _e, folded, exact) in enumerate(spans)
        if any(_matches(t, exact if query.exact else folded) for t in terms)
    }
    # A number found by its value form (``200000000`` for ``hai trăm triệu``): all its words.
    for number in spoken_numbers(text):
        if any(_matches(t, number.digits) for t in terms):
            marked_set.update(range(number.first, number.last))
    marked = sorted(marked_set)
    first = max(0, (marked[0] if marked else 0) - 5)
    if len(spans) <= window:
        first = 0
    last = min(len(spans), first + window)
    begin = spans[first][0] if spans and first > 0 else 0
    end = spans[last - 1][1] if spans and last < len(spans) else len(text)
    out = ["…"] if begin > 0 else []
    pos = begin
    for i in marked:
        if not first <= i < last:
            continue
        start, stop = spans[i][0], spans[i][1]
        out += [escape(text[pos:start]), "<mark>", escape(text[start:stop]), "</mark>"]
        pos = stop
    out.append(escape(text[pos:end]))
    if end < len(text):
        out.append("…")
    return "".join(out)


def with_unsure_words(text: str, unsure: Sequence[Sequence[float]]) -> str:
    """``text`` as HTML with each word the model was unsure of (``[start, end, probability]``
    character spans, :mod:`transcription.confidence`) in ``<span class="unsure">``, its
    probability in the title."""
    out, pos = [], 0
    for start, end, probability in sorted((int(s), int(e), p) for s, e, p in unsure):
        if start < pos or end > len(text):
            continue  # spans of another text than this one: never break the page for them
        title = f"Máy nhận dạng không chắc chắn ({probability:.0%})"
        out += [escape(text[pos:start]), f'<span class="unsure" title="{escape(title)}">',
                escape(text[start:end]), "</span>"]  # fmt: skip
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)
