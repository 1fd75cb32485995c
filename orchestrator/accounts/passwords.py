"""The password policy: long enough is not enough, it must also be hard to guess.

Strength is estimated by zxcvbn (Dropbox's estimator, with its lists of the 30,000 most common
passwords, of words, names and keyboard patterns), against the account's own name and the
service's name as well. A password must reach score 3 of 4, "safely unguessable" for an attacker
who may try 10^8 guesses; the reason for a refusal is given in Vietnamese.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from zxcvbn import zxcvbn

__all__ = ["MIN_SCORE", "weak_password_reason"]

MIN_SCORE = 3
# zxcvbn's time grows quickly with length and the first 100 characters decide the estimate;
# what follows can only make the password stronger than estimated.
_ESTIMATED_LENGTH = 100
# Words anyone trying passwords here would try first.
_SERVICE_WORDS = ("tiepdan", "tiepcongdan")
# zxcvbn keeps the user's words in a module global while it runs: one estimate at a time.
_estimating = threading.Lock()

_COMMON = "giống một mật khẩu hay bị dùng (có trong danh sách mật khẩu phổ biến)"
_REASONS: Mapping[str, str] = {
    "passwords": _COMMON,
    "user_inputs": "chứa tên đăng nhập, họ tên hoặc tên của hệ thống",
    "dictionary": "chủ yếu là một từ hoặc một tên thông dụng",
    "spatial": "là các phím liền nhau trên bàn phím (như “qwerty”)",
    "repeat": "lặp lại một ký tự hoặc một cụm ký tự (như “aaa”, “abcabc”)",
    "sequence": "là một dãy liên tiếp (như “abcd”, “6543”)",
    "regex": "chứa một năm gần đây",
    "date": "chứa một ngày tháng",
}


def _reason(match: Mapping[str, Any]) -> str | None:
    pattern = str(match["pattern"])
    if pattern == "dictionary":
        return _REASONS.get(str(match["dictionary_name"]), _REASONS["dictionary"])
    return _REASONS.get(pattern)


def weak_password_reason(password: str, *context: str) -> str | None:
    """Why ``password`` is too easy to guess, in Vietnamese; None when it is strong enough.

    Args:
        password: the proposed password.
        context: what else is known about the account (its name, the person's name): a
            password built from them is weaker than it looks.
    """
    words = [w for text in context for w in (text, *re.split(r"[\s._-]+", text)) if len(w) >= 3]
    with _estimating:
        result = zxcvbn(
            password[:_ESTIMATED_LENGTH],
            user_inputs=[*words, *_SERVICE_WORDS],
            max_length=_ESTIMATED_LENGTH,
        )
    if int(result["score"]) >= MIN_SCORE:
        return None
    reasons = dict.fromkeys(r for m in result["sequence"] if (r := _reason(m)) is not None)
    return "; ".join(reasons) or "quá ngắn hoặc quá đơn giản"
