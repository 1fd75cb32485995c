"""faster-whisper loads the embedded base model and transcribes real (synthesised) speech."""

from __future__ import annotations

from pathlib import Path

from faster_whisper import WhisperModel

from config import Settings, locate_model
from tests.audio import speak, word_error_rate

SENTENCE = "Please open the window and bring me a glass of water before the meeting starts."


def test_embedded_model_transcribes_english_speech(settings: Settings, tmp_path: Path) -> None:
    model_dir = locate_model(settings.whisper, settings.paths)
    assert Path(model_dir, "model.bin").is_file()
    model = WhisperModel(model_dir, device="cpu", compute_type="int8")
    segments, _info = model.transcribe(
        str(speak(SENTENCE, tmp_path / "sentence.wav")), language="en", beam_size=5
    )
    text = " ".join(segment.text for segment in segments)
    assert word_error_rate(SENTENCE, text) <= 0.20, text
