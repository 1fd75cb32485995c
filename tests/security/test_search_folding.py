"""Finding 17: look-alike letters (fullwidth ``ｂｏｉ``, mathematical ``𝐛𝐨𝐢``) fold to the letters
they stand for, in the indexed text and in the query, so neither can hide a word."""

from __future__ import annotations

import unicodedata

import aiohttp
import pytest

from orchestrator.search.folding import exact_tokens, fold, folded_tokens, token_spans
from tests.integration.conftest import World
from tests.integration.test_search import find

LOOK_ALIKES = ["ｂｏｉ", "𝐛𝐨𝐢", "𝒃𝒐𝒊", "𝚋𝚘𝚒", "ＢＯＩ", "ｂồｉ", "𝐛ồ𝐢"]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alike_letters_fold_to_plain_ones(text: str) -> None:
    assert folded_tokens(text) == ["boi"]


def test_exact_tokens_read_look_alikes_and_keep_diacritics() -> None:
    assert exact_tokens("𝐛ồ𝐢 ＴＨƯỜＮＧ") == ["bồi", "thường"]


def test_positions_still_match_the_text_for_highlighting() -> None:
    text = "Xin 𝐛ồ𝐢 thường ﬁ ｄất"
    nfc = unicodedata.normalize("NFC", text)
    assert len(fold(text)) == len(nfc)
    assert [(nfc[s:e], f, x) for s, e, f, x in token_spans(text)] == [
        ("Xin", "xin", "xin"), ("𝐛ồ𝐢", "boi", "bồi"), ("thường", "thuong", "thường"),
        ("ﬁ", "ﬁ", "ﬁ"), ("ｄất", "dat", "dất"),
    ]  # fmt: skip


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("query", ["ｂｏｉ ｔｈｕｏｎｇ", "𝐛𝐨𝐢 𝐭𝐡𝐮𝐨𝐧𝐠", "ＢỒＩ thường"])
async def test_a_look_alike_query_finds_the_indexed_word(
    world: World, http: aiohttp.ClientSession, corpus: dict[str, int], query: str
) -> None:
    status, plain = await find(http, world, "admin", "boi thuong")
    assert status == 200 and plain["hits"]
    status, found = await find(http, world, "admin", query)
    assert status == 200
    assert [h["utterance_id"] for h in found["hits"]] == [h["utterance_id"] for h in plain["hits"]]
