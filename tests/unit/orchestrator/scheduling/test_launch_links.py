"""Signed launch links: round trip, forgery, tampering, and the validity window to the second."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from orchestrator.core.timezone import VN_TZ
from orchestrator.scheduling.launch_links import (
    AUDIENCE,
    LaunchClaims,
    LaunchLinkError,
    LinkProblem,
    launch_window,
    sign_launch_token,
    verify_launch_token,
)

SECRET = "k" * 48  # PyJWT warns below 32 bytes, and warnings are errors here
START = datetime(2026, 12, 15, 8, 0, tzinfo=VN_TZ)
END = datetime(2026, 12, 15, 11, 0, tzinfo=VN_TZ)
OPENS, CLOSES = launch_window(START, END)
CLAIMS = LaunchClaims(user_id=7, session_id=42, occurrence_start=START)
ISSUED = datetime(2026, 12, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def token(secret: str = SECRET) -> str:
    return sign_launch_token(secret, CLAIMS, OPENS, CLOSES, issued_at=ISSUED)


def problem(token: str, now: datetime = START) -> LaunchLinkError:
    with pytest.raises(LaunchLinkError) as caught:
        verify_launch_token(SECRET, token, now)
    assert str(caught.value) == caught.value.message_vi
    return caught.value


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_launch_window_opens_half_an_hour_early() -> None:
    assert (OPENS, CLOSES) == (START - timedelta(minutes=30), END)
    assert launch_window(START, END, timedelta(minutes=10))[0] == START - timedelta(minutes=10)


def test_round_trip() -> None:
    claims = verify_launch_token(SECRET, token(), START)
    assert claims == CLAIMS
    assert claims.occurrence_start.tzinfo is UTC


def test_the_token_carries_its_type_audience_and_times() -> None:
    t = token()
    assert jwt.get_unverified_header(t)["typ"] == AUDIENCE
    payload = jwt.decode(t, options={"verify_signature": False})
    assert payload["aud"] == AUDIENCE
    assert payload["iat"] == int(ISSUED.timestamp())
    assert (payload["nbf"], payload["exp"]) == (int(OPENS.timestamp()), int(CLOSES.timestamp()))


@pytest.mark.parametrize(
    ("now", "valid"),
    [
        (OPENS - SECOND, False),
        (OPENS - SECOND / 2, False),
        (OPENS, True),
        (START, True),
        (CLOSES - SECOND / 2, True),
        (CLOSES, False),
    ],
    ids=["before-open", "half-second-before-open", "opens", "start", "just-before-end", "end"],
)
def test_boundaries_are_exact(now: datetime, valid: bool) -> None:
    if valid:
        assert verify_launch_token(SECRET, token(), now) == CLAIMS
    else:
        assert problem(token(), now).reason in {LinkProblem.NOT_YET_VALID, LinkProblem.EXPIRED}


def test_before_the_window_says_when_it_opens() -> None:
    error = problem(token(), OPENS - timedelta(days=2))
    assert error.reason is LinkProblem.NOT_YET_VALID
    assert error.message_vi == (
        "Liên kết chỉ dùng được từ 07:30 ngày 15/12/2026 (30 phút trước giờ bắt đầu)."
    )


def test_after_the_window_says_when_it_ended() -> None:
    error = problem(token(), CLOSES + timedelta(hours=5))
    assert error.reason is LinkProblem.EXPIRED
    assert error.message_vi == (
        "Liên kết vào phiên đã hết hạn: phiên tiếp đã kết thúc lúc 11:00 ngày 15/12/2026."
    )


def test_another_secret_is_forged() -> None:
    assert problem(token("x" * 48)).reason is LinkProblem.FORGED


def test_a_tampered_payload_is_forged() -> None:
    header, payload, signature = token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered = f"{header}.{b64({**claims, 'sub': '8'})}.{signature}"
    assert problem(tampered).reason is LinkProblem.FORGED


def test_an_unsigned_token_is_forged() -> None:
    header, payload, _ = token().split(".")
    unsigned = f"{b64({'alg': 'none', 'typ': AUDIENCE})}.{payload}."
    assert problem(unsigned).reason is LinkProblem.FORGED


@pytest.mark.parametrize(
    "garbage",
    ["", "not-a-token", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30", "....."],
)
def test_garbage_is_malformed(garbage: str) -> None:
    assert problem(garbage).reason is LinkProblem.MALFORMED


def payload(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "sub": "7",
        "sid": 42,
        "occ": int(START.timestamp()),
        "nbf": int(OPENS.timestamp()),
        "exp": int(CLOSES.timestamp()),
        "iat": int(ISSUED.timestamp()),
        "aud": AUDIENCE,
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


@pytest.mark.parametrize(
    ("claims", "headers"),
    [
        (payload(aud="tiepdan-session"), {"typ": AUDIENCE}),
        (payload(), {"typ": "JWT"}),
        (payload(occ=None), {"typ": AUDIENCE}),
        (payload(sid="42"), {"typ": AUDIENCE}),
        (payload(sub="bảy"), {"typ": AUDIENCE}),
    ],
    ids=["other-audience", "other-typ", "missing-claim", "string-session", "non-numeric-user"],
)
def test_our_signature_on_the_wrong_shape_is_malformed(
    claims: dict[str, object], headers: dict[str, str]
) -> None:
    other = jwt.encode(claims, SECRET, algorithm="HS256", headers=headers)
    assert problem(other).reason is LinkProblem.MALFORMED


def test_naive_times_and_empty_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        verify_launch_token(SECRET, token(), datetime(2026, 12, 15, 8))
    with pytest.raises(ValueError, match="after"):
        sign_launch_token(SECRET, CLAIMS, CLOSES, OPENS, issued_at=ISSUED)
