"""How the web layer reaches the broker's Redis (sign-in sessions, the sign-in throttle): one
timeout, one retry after a Redis restart, and one Vietnamese 503 when it does not answer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from orchestrator.core.errors import UpstreamUnavailable

__all__ = ["REDIS_DOWN", "REDIS_TIMEOUT_S", "redis_answers", "redis_pool"]

# Redis answers on the same network as the orchestrator; a request waits at most this long for it.
REDIS_TIMEOUT_S = 2.0
REDIS_DOWN = (
    "Không kết nối được kho phiên đăng nhập (Redis), nên tạm thời chưa đăng nhập được. "
    "Vui lòng thử lại sau ít phút; nếu vẫn lỗi, hãy báo quản trị hệ thống."
)


def redis_pool(url: str) -> ConnectionPool:
    """Connections to ``url``. A pooled connection that a Redis restart broke is tried again on
    a new one (an async ``Retry``: redis-py's synchronous one is never awaited on these): without
    it the first request after a restart was a 503."""
    return ConnectionPool.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 2),
        retry_on_error=[RedisConnectionError],
    )


@contextmanager
def redis_answers(*also: type[Exception]) -> Iterator[None]:
    """Redis (or ``also``, a library's own error for it) out of reach is a 503, never a 500."""
    caught: tuple[type[Exception], ...] = (RedisError, OSError, *also)
    try:
        yield
    except caught as e:
        raise UpstreamUnavailable(REDIS_DOWN) from e
