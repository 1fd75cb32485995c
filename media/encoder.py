"""One Ogg/Opus file, written by an ffmpeg process that reads raw PCM on its stdin."""

from __future__ import annotations

import asyncio
from pathlib import Path

import ffmpeg
import numpy as np
import numpy.typing as npt

from media.errors import EncoderError
from media.files import hash_file

RATE = 48000
EXIT_TIMEOUT_S = 10.0

Pcm = npt.NDArray[np.int16]


def encoder_command(path: Path) -> list[str]:
    """ffmpeg reading raw s16le 48 kHz mono on stdin, writing Ogg/Opus voice at 32 kbit/s."""
    stream = ffmpeg.input("pipe:", format="s16le", ar=RATE, ac=1).output(
        str(path), acodec="libopus", audio_bitrate="32k", application="voip", format="ogg"
    )
    args: list[str] = ffmpeg.compile(
        stream.global_args("-hide_banner", "-nostdin", "-loglevel", "error"),
        overwrite_output=True,
    )
    return args


class OpusEncoder:
    """An ffmpeg process encoding everything written to it into the Ogg/Opus file ``path``.

    The Ogg muxer writes a page about every second, so even a file whose encoder was killed
    holds most of its audio.
    """

    def __init__(self, path: Path, proc: asyncio.subprocess.Process) -> None:
        self.path = path
        self.samples = 0
        self._proc = proc

    @classmethod
    async def start(cls, path: Path) -> OpusEncoder:
        """Start ffmpeg writing ``path`` (replaced if it exists)."""
        proc = await asyncio.create_subprocess_exec(
            *encoder_command(path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            # Read only once it exits: at -loglevel error it writes nothing unless it fails.
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(path, proc)

    async def write(self, pcm: Pcm) -> None:
        """Encode ``pcm``; waits only when ffmpeg falls behind (the pipe is full).

        Raises:
            EncoderError: ffmpeg has died.
        """
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            stdin.write(pcm.tobytes())
            self.samples += len(pcm)  # counted before the await: a finisher may take it over
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as e:
            raise EncoderError(f"encoder of {self.path.name} died") from e

    async def finish(self) -> tuple[str, int]:
        """End the file, wait for ffmpeg to exit, and return its SHA-256 and size.

        Raises:
            EncoderError: ffmpeg failed, or did not exit in time (it is killed).
        """
        proc = self._proc
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.close()
        try:
            stderr = await asyncio.wait_for(proc.stderr.read(), EXIT_TIMEOUT_S)
            code = await asyncio.wait_for(proc.wait(), EXIT_TIMEOUT_S)
        except TimeoutError as e:
            proc.kill()
            await proc.wait()
            raise EncoderError(f"encoder of {self.path.name} hung; killed") from e
        if code != 0:
            message = stderr.decode(errors="replace").strip()
            raise EncoderError(f"encoder of {self.path.name} exited with {code}: {message}")
        return await asyncio.to_thread(hash_file, self.path)

    async def discard(self) -> None:
        """End ffmpeg and delete the file (it holds no audio)."""
        proc = self._proc
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), EXIT_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        await asyncio.to_thread(self.path.unlink, missing_ok=True)
