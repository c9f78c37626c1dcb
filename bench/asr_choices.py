"""The figures behind each decoding, segmentation and normalisation choice (docs/asr.md).

On ../shared/data/speech_vi with the bundled base model (int8, CPU):
  * per file: greedy vs beam 5, VAD on/off, sequential vs batched decoder;
  * joined with 0.5 s pauses into one recording: one window sequence vs batched pieces of 15/20/30 s,
    with and without decoding again the speech that no word covers, and the chunked plan;
  * scoring normalisation: plain (NFC, lower case, no punctuation) vs + unified spellings vs + numbers;
  * hallucination guards: what comes out of silence, a tone, noise and music.
WER does not depend on machine load; the wall times printed do.

    .venv/bin/python bench/asr_choices.py [--threads 2] [--only perfile,long,norm,guards]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transcribe.audio import load_audio  # noqa: E402
from transcribe.chunking import prepare_chunks, read_wav  # noqa: E402
from transcribe.engine import transcribe_audio  # noqa: E402
from transcribe.evaluate import join_with_pauses, read_references, score  # noqa: E402
from transcribe.options import DecodeOptions, PlanOptions  # noqa: E402
from transcribe.transcript import merge_transcripts  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SPEECH_VI = DATA / "speech_vi"


def plain_wer(refs: list[str], hyps: list[str]) -> float:
    """The project's scoring rule only: NFC, lower case, punctuation removed."""
    import jiwer

    def norm(text: str) -> str:
        text = unicodedata.normalize("NFC", text).lower()
        return " ".join("".join(" " if unicodedata.category(c)[0] in "PS" else c for c in text).split())
    return round(jiwer.wer([norm(r) for r in refs], [norm(h) for h in hyps]), 4)


def spelling_only_wer(refs: list[str], hyps: list[str]) -> float:
    """Plain scoring plus unified spellings, numbers left as written."""
    import jiwer

    from transcribe.normalize import unify_spelling

    def norm(text: str) -> str:
        text = unicodedata.normalize("NFC", text).lower()
        kept = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in text)
        return " ".join(unify_spelling(w) for w in kept.split())
    return round(jiwer.wer([norm(r) for r in refs], [norm(h) for h in hyps]), 4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", default="perfile,long,norm,guards")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    cpu = {"device": "cpu", "compute_type": "int8", "cpu_threads": args.threads}
    refs = read_references(SPEECH_VI)
    texts = [r.text for r in refs]
    audio = {r.path: load_audio(r.path) for r in refs}
    out: dict = {"loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    hyps_by: dict[str, list[str]] = {}

    def per_file(name: str, options: DecodeOptions) -> None:
        t0 = time.perf_counter()
        hyps = [transcribe_audio(audio[r.path], options, **cpu).text for r in refs]
        hyps_by[name] = hyps
        s = score(texts, hyps)
        out.setdefault("per_file", {})[name] = {"wer": s.wer, "cer": s.cer, "errors": s.errors, "words": s.words,
                                                "wall_s": round(time.perf_counter() - t0, 1)}
        print(f"per file  {name:34s} WER {s.wer:.4f}  CER {s.cer:.4f}  ({s.errors}/{s.words})", flush=True)

    if "perfile" in parts or "norm" in parts:
        per_file("sequential greedy, VAD (chosen)", DecodeOptions(decoder="sequential", beam_size=1))
        per_file("sequential beam 5, no VAD", DecodeOptions(decoder="sequential", beam_size=5, vad=False))
        per_file("sequential beam 5, VAD", DecodeOptions(decoder="sequential", beam_size=5))
        if "perfile" in parts:
            per_file("sequential beam 8, VAD", DecodeOptions(decoder="sequential", beam_size=8))
            per_file("batched beam 5, VAD", DecodeOptions(decoder="batched", beam_size=5))
    if "norm" in parts:
        norm = {}
        for name, hyps in hyps_by.items():
            norm[name] = {"plain": plain_wer(texts, hyps), "+spelling": spelling_only_wer(texts, hyps),
                          "+spelling+numbers (chosen)": score(texts, hyps).wer}
            print(f"scoring   {name:34s} {norm[name]}", flush=True)
        out["normalisation"] = norm

    if "long" in parts:
        with tempfile.TemporaryDirectory(prefix="asr-choices-") as tmp:
            joined = Path(tmp) / "joined.wav"
            duration = join_with_pauses([r.path for r in refs], joined, 0.5)
            whole = read_wav(joined)
            ref = " ".join(texts)

            def long_run(name: str, fn) -> None:
                t0 = time.perf_counter()
                text = fn()
                s = score([ref], [text])
                out.setdefault("long", {})[name] = {"wer": s.wer, "cer": s.cer, "errors": s.errors,
                                                    "plain_wer": plain_wer([ref], [text]),
                                                    "wall_s": round(time.perf_counter() - t0, 1)}
                print(f"long      {name:44s} WER {s.wer:.4f}  plain {plain_wer([ref], [text]):.4f}", flush=True)

            def one(options: DecodeOptions):
                return lambda: transcribe_audio(whole, options, **cpu).text

            def no_hole_fix(options: DecodeOptions):
                import transcribe.engine as engine

                def run() -> str:
                    saved = engine.MIN_HOLE_S
                    engine.MIN_HOLE_S = 1e9  # never decode uncovered speech again
                    try:
                        return transcribe_audio(whole, options, **cpu).text
                    finally:
                        engine.MIN_HOLE_S = saved
                return run

            def chunked(options: DecodeOptions, plan: PlanOptions):
                def run() -> str:
                    spec, files = prepare_chunks(joined, Path(tmp) / "chunks", plan)
                    pieces = [transcribe_audio(read_wav(f), options, offset=c.start, **cpu)
                              for c, f in zip(spec.chunks, files, strict=True)]
                    return merge_transcripts(pieces, duration, language="vi", model="").text
                return run

            def faster_whisper_vad(piece: int):
                def run() -> str:
                    from faster_whisper import BatchedInferencePipeline

                    from transcribe.model import load_model

                    model = load_model(None, **cpu)
                    segments, _ = BatchedInferencePipeline(model).transcribe(
                        whole, language="vi", beam_size=5, batch_size=8, chunk_length=piece, vad_filter=True)
                    return " ".join(s.text for s in segments)
                return run

            long_run("faster-whisper batched, its own VAD merge, 30 s", faster_whisper_vad(30))
            long_run("faster-whisper batched, its own VAD merge, 20 s", faster_whisper_vad(20))
            long_run("sequential beam 5, one sliding window", one(DecodeOptions(decoder="sequential", beam_size=5)))
            long_run("sequential greedy, one sliding window", one(DecodeOptions(decoder="sequential", beam_size=1)))
            long_run("batched beam 5, 30 s pieces, no re-decode", no_hole_fix(DecodeOptions(piece_s=30, beam_size=5)))
            long_run("batched beam 5, 20 s pieces, no re-decode", no_hole_fix(DecodeOptions(piece_s=20, beam_size=5)))
            long_run("batched beam 5, 15 s pieces", one(DecodeOptions(piece_s=15, beam_size=5)))
            long_run("batched beam 5, 20 s pieces", one(DecodeOptions(piece_s=20, beam_size=5)))
            long_run("batched beam 5, 30 s pieces", one(DecodeOptions(piece_s=30, beam_size=5)))
            long_run("batched greedy, 20 s pieces (chosen)", one(DecodeOptions(beam_size=1)))
            long_run("chunked plan, batched beam 5", chunked(DecodeOptions(beam_size=5), PlanOptions()))
            long_run("chunked plan (production), batched greedy", chunked(DecodeOptions(), PlanOptions()))
            long_run("chunked plan, sequential beam 5",
                     chunked(DecodeOptions(decoder="sequential", beam_size=5), PlanOptions()))

    if "guards" in parts:
        out["guards"] = guards(cpu)
    out["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    out["threads"] = args.threads
    print(json.dumps(out, ensure_ascii=False))
    return 0


def guards(cpu: dict) -> dict:
    """Text produced where nobody speaks: it should be nothing."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="asr-guards-") as tmp:
        sources = {
            "silence 30 s": ["-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "30"],
            "440 Hz tone 30 s": ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-t", "30"],
            "pink noise 30 s": ["-f", "lavfi", "-i", "anoisesrc=color=pink:sample_rate=16000:amplitude=0.3",
                                "-t", "30"],
        }
        music = DATA / "video" / "misc" / "bigbuckbunny.mp4"
        for name, args in sources.items():
            path = Path(tmp) / (re.sub(r"\W+", "_", name) + ".wav")
            subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args, str(path)], check=True)
            results[name] = path
        if music.exists():
            results["music only (Big Buck Bunny, 5 s)"] = music
        out = {}
        for name, path in results.items():
            audio = load_audio(path)
            row = {}
            for label, options in (("sequential greedy", DecodeOptions(decoder="sequential")),
                                   ("sequential beam 5", DecodeOptions(decoder="sequential", beam_size=5)),
                                   ("batched greedy", DecodeOptions()),
                                   ("batched beam 5", DecodeOptions(beam_size=5)),
                                   ("sequential, no VAD", DecodeOptions(decoder="sequential", vad=False))):
                row[label] = transcribe_audio(audio, options, **cpu).text
            out[name] = row
            print(f"guards    {name:34s} {row}", flush=True)
    return out


if __name__ == "__main__":
    sys.exit(main())
