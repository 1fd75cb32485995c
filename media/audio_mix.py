"""Mixing several live speakers into one 48 kHz mono stream, with a small jitter buffer each.

A bridge hears every speaker of a room as a separate track, each arriving in network-paced
bursts; it sends one track onward. :class:`JitterMixer` keeps a short buffer per speaker and is
pulled at the outgoing track's pace: a speaker whose buffer has run dry is left out (silence)
until it has refilled a little, and one whose buffer has grown past ``max_ms`` loses its oldest
audio, so the delay a bridge adds stays bounded whatever the network does.
"""

from __future__ import annotations

from collections import deque

import numpy as np

RATE = 48000
FRAME_MS = 10
FRAME_SAMPLES = RATE * FRAME_MS // 1000


class _Buffer:
    """One speaker's queued samples, in the chunks they arrived in."""

    def __init__(self) -> None:
        self.chunks: deque[np.ndarray] = deque()
        self.size = 0
        self.primed = False

    def push(self, samples: np.ndarray) -> None:
        self.chunks.append(samples)
        self.size += len(samples)

    def drop_oldest(self, keep: int) -> None:
        while self.size > keep:
            excess = self.size - keep
            head = self.chunks[0]
            if len(head) <= excess:
                self.chunks.popleft()
                self.size -= len(head)
            else:
                self.chunks[0] = head[excess:]
                self.size -= excess

    def take(self, n: int, out: np.ndarray) -> None:
        """Add up to ``n`` samples into ``out`` (int32), consuming them."""
        filled = 0
        while filled < n and self.chunks:
            head = self.chunks[0]
            step = min(n - filled, len(head))
            out[filled : filled + step] += head[:step]
            filled += step
            if step == len(head):
                self.chunks.popleft()
            else:
                self.chunks[0] = head[step:]
        self.size -= filled


class JitterMixer:
    """Per-speaker jitter buffers summed into one stream of int16 samples.

    Args:
        prime_ms: audio a speaker must have queued before it is heard (again, after running dry).
        max_ms: the most audio a speaker may have queued; older audio is dropped beyond it.
    """

    def __init__(self, *, prime_ms: int = 20, max_ms: int = 120) -> None:
        if not 0 <= prime_ms < max_ms:
            raise ValueError("prime_ms must be at least 0 and below max_ms")
        self._prime = RATE * prime_ms // 1000
        self._max = RATE * max_ms // 1000
        self._buffers: dict[str, _Buffer] = {}

    @property
    def speakers(self) -> frozenset[str]:
        """The speakers being mixed."""
        return frozenset(self._buffers)

    def queued_s(self) -> float:
        """The most audio any speaker has queued, in seconds: the delay this mixer adds now."""
        return max((b.size for b in self._buffers.values()), default=0) / RATE

    def add(self, speaker: str) -> None:
        """Start mixing ``speaker`` (nothing is heard until its first samples are primed)."""
        self._buffers.setdefault(speaker, _Buffer())

    def remove(self, speaker: str) -> None:
        """Stop mixing ``speaker``, dropping what it had queued."""
        self._buffers.pop(speaker, None)

    def push(self, speaker: str, samples: np.ndarray) -> None:
        """Queue ``samples`` (48 kHz mono int16) of ``speaker``; unknown speakers are added."""
        buffer = self._buffers.setdefault(speaker, _Buffer())
        buffer.push(samples)
        if buffer.size > self._max:
            buffer.drop_oldest(self._max)

    def queued(self, speaker: str) -> int:
        """Samples of ``speaker`` waiting to be mixed."""
        buffer = self._buffers.get(speaker)
        return buffer.size if buffer else 0

    def pull(self, n: int = FRAME_SAMPLES) -> np.ndarray:
        """The next ``n`` samples of the mix (int16, clipped); silence where nobody is heard."""
        acc = np.zeros(n, dtype=np.int32)
        for buffer in self._buffers.values():
            if not buffer.primed and buffer.size >= max(self._prime, 1):
                buffer.primed = True
            if not buffer.primed:
                continue
            if buffer.size < n:
                buffer.primed = False  # ran dry: refill before it is heard again
            buffer.take(n, acc)
        return np.clip(acc, -32768, 32767).astype(np.int16)
