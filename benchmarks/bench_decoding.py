"""Decoding choices and the session's vocabulary: WER of the pipeline per corpus, per variant.

Each variant is the pipeline's :class:`transcription.engine.Transcriber` with some settings or
candidate ``WhisperModel.transcribe`` options changed, run on:

- ``shared/audio`` (real speech with references): cv (Vietnamese), fosd (Vietnamese), ljspeech
  (English). A session's vocabulary is given with every clip, as a session would give it to all
  its speech, most of which never says a name: a hint must not make that speech worse.
- a **domain set** built from one session's vocabulary: sentences a reception says, naming its
  participants, communes, province and agency, spoken by espeak-ng with the demo's voices
  (``orchestrator.cli.demo.voices``). It is a proxy (synthetic voices), kept small and apart
  from ``shared/audio`` so that no choice is fitted to the real clips.

Whisper falls back to sampling at higher temperatures on hard windows, so WER varies from run to
run: ``--repeats`` runs each variant several times and prints mean [min-max]. Use
``--threads 1`` on a shared machine. How to run it and the latest figures:
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_transcribe import AUDIO, CORPORA, corpus_wer, spread  # noqa: E402
from config import load_settings  # noqa: E402
from orchestrator.cli.demo.voices import VOICES  # noqa: E402
from transcription.engine import DecodingOptions, Transcriber, decode  # noqa: E402
from transcription.glossary import SessionVocabulary  # noqa: E402

SESSION = SessionVocabulary(
    title="Tiếp công dân định kỳ tháng 12 tỉnh Hà Tĩnh",
    agency="Ban Tiếp công dân tỉnh Hà Tĩnh",
    province="Hà Tĩnh",
    places=("UBND xã Thạch Kim", "UBND xã Cẩm Xuyên"),
    people=("Phan Đình Trạc", "Nguyễn Thị Huệ", "Lê Văn Khởi", "Võ Thị Thanh Nhàn"),
    case_classification="Khiếu nại",
)
"""A session record as the orchestrator holds it (names made up, places real)."""

DOMAIN_LINES = (
    ("citizen", "Tôi là Nguyễn Thị Huệ, trú tại xã Thạch Kim."),
    ("chair", "Ông Phan Đình Trạc chủ trì buổi tiếp công dân hôm nay."),
    ("citizen", "Bà Võ Thị Thanh Nhàn trình bày khiếu nại về đất đai."),
    ("officer", "Ông Lê Văn Khởi là cán bộ Ban Tiếp công dân tỉnh Hà Tĩnh."),
    ("officer", "Ủy ban nhân dân xã Cẩm Xuyên đã nhận đơn của gia đình bà Huệ."),
    ("central", "Đề nghị xã Thạch Kim báo cáo kết quả giải quyết."),
    ("citizen", "Gia đình ông Khởi chưa nhận tiền bồi thường."),
    ("chair", "Tỉnh Hà Tĩnh sẽ trả lời bằng văn bản trong ba mươi ngày."),
    ("chair", "Xin cảm ơn bà Nguyễn Thị Huệ đã đến trình bày."),
    ("officer", "Ông Trạc đề nghị Ủy ban nhân dân xã Cẩm Xuyên kiểm tra lại hồ sơ."),
)
"""What the session's speakers say, by the demo's cast: most lines name someone or somewhere."""


@dataclass(frozen=True)
class Variant:
    """A way of decoding: settings changed, and candidate options not (yet) settings."""

    name: str
    settings: tuple[tuple[str, Any], ...] = ()
    candidates: tuple[tuple[str, Any], ...] = ()


VARIANTS = (
    Variant("pipeline as configured"),
    Variant("vocabulary: hotwords", settings=(("session_vocabulary", "hotwords"),)),
    Variant("vocabulary: prompt", settings=(("session_vocabulary", "prompt"),)),
    Variant("vocabulary: prompt+glossary", settings=(("session_vocabulary", "prompt+glossary"),)),
    Variant("patience 2", candidates=(("patience", 2.0),)),
    Variant("repetition_penalty 1.05", candidates=(("repetition_penalty", 1.05),)),
    Variant("hallucination_silence_threshold 1", candidates=(
        ("hallucination_silence_threshold", 1.0),)),
    Variant("VAD threshold 0.4, pad 200 ms", candidates=(
        ("vad_parameters", {"threshold": 0.4, "speech_pad_ms": 200}),)),
)  # fmt: skip
"""The variants weighed; the first is the baseline every other is read against."""

Clip = tuple[str, str, "npt.NDArray[np.float32]"]
"""A clip's language, reference and samples."""


def shared_audio() -> dict[str, list[Clip]]:
    """Per corpus, the clips of ``shared/audio`` with their references."""
    with (AUDIO / "manifest.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return {
        corpus: [
            (r["language"], r["reference"], decode(AUDIO / r["file"]))
            for r in rows
            if r["file"].startswith(corpus + "/")
        ]
        for corpus in CORPORA
    }


def domain_set(folder: Path) -> list[Clip]:
    """:data:`DOMAIN_LINES` spoken by espeak-ng with the demo's voices, as 16 kHz samples."""
    clips: list[Clip] = []
    for i, (speaker, text) in enumerate(DOMAIN_LINES):
        voice, rate, pitch = VOICES[speaker]
        wav = folder / f"line{i}.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", str(wav), text],
            check=True,
        )
        clips.append(("vi", text, decode(wav)))
    return clips


def run_variant(
    variant: Variant, threads: int, sets: dict[str, list[Clip]], repeats: int
) -> dict[str, list[float]]:
    """Each set's WER in each of ``repeats`` runs."""
    settings = load_settings()
    whisper = settings.whisper.model_copy(update={"cpu_threads": threads, **dict(variant.settings)})
    transcriber = Transcriber(
        whisper, settings.paths, options=DecodingOptions(candidates=variant.candidates)
    )
    wers: dict[str, list[float]] = {}
    for name, clips in sets.items():
        for _ in range(repeats):
            pairs = [
                (
                    reference,
                    " ".join(
                        s.text
                        for s in transcriber.transcribe(
                            samples, language=language, vocabulary=SESSION
                        )
                    ),
                )
                for language, reference, samples in clips
            ]
            wers.setdefault(name, []).append(corpus_wer(pairs))
    return wers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs of each set and variant")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: default)")
    parser.add_argument(
        "--variants",
        nargs="*",
        type=int,
        help="indices into the variant list (default: all); 0 is the baseline",
    )
    parser.add_argument("--sets", nargs="*", default=[*CORPORA, "domain"])
    args = parser.parse_args()
    chosen = [VARIANTS[i] for i in args.variants] if args.variants else list(VARIANTS)
    with tempfile.TemporaryDirectory() as tmp:
        sets = {**shared_audio(), "domain": domain_set(Path(tmp))}
    sets = {name: clips for name, clips in sets.items() if name in args.sets}
    words = {name: sum(len(ref.split()) for _, ref, _ in clips) for name, clips in sets.items()}
    print(f"WER per set ({args.repeats} run(s) each, mean [min-max]); words: {words}")
    print(f"{'variant':36} " + " ".join(f"{name:>22}" for name in sets) + "   time")
    for variant in chosen:
        started = time.monotonic()
        wers = run_variant(variant, args.threads, sets, args.repeats)
        print(
            f"{variant.name:36} "
            + " ".join(f"{spread(wers[name]):>22}" for name in sets)
            + f" {time.monotonic() - started:6.0f}s",
            flush=True,
        )


if __name__ == "__main__":
    main()
