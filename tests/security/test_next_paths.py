"""Finding 6, the pure part: which ``next`` values the login form keeps."""

from __future__ import annotations

import pytest

from orchestrator.accounts.sign_in import local_path
from tests.security.test_open_redirect import HOSTILE, LOCAL


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_next_becomes_the_home_page(value: str) -> None:
    assert local_path(value) == "/"


@pytest.mark.parametrize("value", LOCAL)
def test_a_local_next_is_kept(value: str) -> None:
    assert local_path(value) == value
