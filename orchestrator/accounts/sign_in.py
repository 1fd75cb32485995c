"""What the sign-in form decides without I/O: where it may send people back to, and how a
temporary lock is announced."""

from __future__ import annotations

from orchestrator.web.login_throttle import Lock, LockScope

__all__ = ["FORM_EXPIRED", "local_path", "lock_message"]

FORM_EXPIRED = ("Biểu mẫu đăng nhập đã hết hạn hoặc không phải của trang này. "
                "Hãy đăng nhập lại bằng biểu mẫu dưới đây.")  # fmt: skip
"""Why a sign-in form without its CSRF token is refused; the page shows a fresh form below it."""

# Browsers drop ASCII tabs and newlines anywhere in a URL, and C0 controls and spaces at its ends.
_DROPPED = str.maketrans("", "", "\t\n\r")
_TRIMMED = "".join(map(chr, range(0x21)))


def local_path(value: str) -> str:
    """``value`` as a browser reads it, if that is a path on this site; otherwise ``/``.

    Browsers read ``/\\t/evil.example`` and ``/\\evil.example`` (a backslash is a slash to them)
    as ``//evil.example``: another host. Only what starts with exactly one slash after that
    reading stays on the site.
    """
    path = value.translate(_DROPPED).strip(_TRIMMED).replace("\\", "/")
    return path if path.startswith("/") and not path.startswith("//") else "/"


def _duration(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} phút"
    return f"{hours} giờ" + (f" {minutes} phút" if minutes else "")


def lock_message(lock: Lock) -> str:
    """The Vietnamese sentence that tells who is locked out, why, and for how long."""
    wait = _duration(lock.retry_after_s)
    if lock.scope is LockScope.ACCOUNT:
        return (f"Tài khoản này tạm bị khoá vì đăng nhập sai nhiều lần. "
                f"Hãy thử lại sau {wait}.")  # fmt: skip
    return (f"Địa chỉ mạng của bạn tạm bị khoá vì có quá nhiều lần đăng nhập từ đó. "
            f"Hãy thử lại sau {wait}.")  # fmt: skip
