"""Transcription speed on a long recording: sequential, batched, and chunked parallel jobs.

The recording (at least 10 minutes) is built from the real Vietnamese utterances of
../shared/data/speech_vi, joined with 0.5 s pauses, repeated in rotated order with 1.5 s between
rounds. It is transcribed by

  (a) the plain sequential engine (faster-whisper's sliding 30 s window, greedy by default, VAD),
  (b) the batched engine (BatchedInferencePipeline over VAD pieces), with --threads threads, and
      (b2) the same with --threads replicas of the model of one thread each, side by side,
  (c) the production path: VAD + chunking, one RQ job per chunk, then the merge job, with 1 and
      with 2 worker processes, each limited to one CPU thread,

and every result is scored against the joined references. The last line is a JSON object with
`audio_s`, the wall time, `rtf` and WER of each mode, `parallel_scaling` (speed with 2 one-thread
workers / speed with 1) and the machine load before and after each mode: other processes on the
same cores slow every mode down, so compare figures from one run. With --repeat N every mode runs N
times, in rounds (a, b, …, c2, then again), and each mode's row is its fastest run, with every run's
wall time listed in `walls_s`: on a shared virtual machine the slow runs measure the neighbours.

    .venv/bin/python bench/transcribe.py [--minutes 10] [--device cpu|cuda] [--threads 2] [--modes a,b,b2,c1,c2]
                                         [--repeat 1]

It uses the configured environment (DATABASE_URL, REDIS_URL, STORAGE_URL) or, without it, a
temporary data folder with its own Redis.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPEECH_VI = ROOT.parent / "shared" / "data" / "speech_vi"


def build_recording(dest: Path, minutes: float) -> tuple[float, str]:
    """Join the utterances (0.5 s pauses) round after round (1.5 s apart) until `minutes` are reached."""
    import wave

    import numpy as np

    from transcribe.audio import SAMPLE_RATE, load_audio
    from transcribe.evaluate import read_references

    refs = read_references(SPEECH_VI)
    clips = [(load_audio(r.path), r.text) for r in refs]
    pause, gap = np.zeros(SAMPLE_RATE // 2, "<i2"), np.zeros(int(SAMPLE_RATE * 1.5), "<i2")
    texts, total, rnd = [], 0, 0
    with wave.open(str(dest), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        while total < minutes * 60 * SAMPLE_RATE:
            order = clips[rnd % len(clips):] + clips[: rnd % len(clips)]  # a different neighbour each round
            for n, (audio, text) in enumerate(order):
                if n or rnd:
                    out.writeframes((gap if n == 0 else pause).tobytes())
                    total += len(gap if n == 0 else pause)
                pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2")
                out.writeframes(pcm.tobytes())
                total += len(pcm)
                texts.append(text)
            rnd += 1
    return round(total / SAMPLE_RATE, 3), " ".join(texts)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the worker processes)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="CPU threads for the in-process modes (a) and (b)")
    parser.add_argument("--modes", default="a,b,b2,c1,c2")
    parser.add_argument("--repeat", type=int, default=1, help="runs of every mode, in rounds; the fastest is kept")
    parser.add_argument("--model", default=None)
    parser.add_argument("--decode", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a DecodeOptions field, e.g. --decode beam_size=5 --decode piece_s=25")
    args = parser.parse_args()
    from transcribe.options import DecodeOptions

    defaults = DecodeOptions()
    overrides = {k: type(getattr(defaults, k))(v) for k, v in (item.split("=", 1) for item in args.decode)}
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]

    temporary = not os.environ.get("DIEMCAU_DATA_DIR") and not os.environ.get("DATABASE_URL")
    if temporary:
        os.environ["DIEMCAU_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-transcribe-")
    try:
        return run(args, modes, overrides)
    finally:
        if temporary and not os.environ.get("REDIS_URL"):
            from groundwork.redis_server import stop_private_redis

            stop_private_redis(Path(os.environ["DIEMCAU_DATA_DIR"]) / "redis")  # it would outlive the bench


def run(args: argparse.Namespace, modes: list[str], overrides: dict) -> int:
    from transcribe.options import DecodeOptions

    if args.device != "cpu":
        os.environ["DIEMCAU_WHISPER_DEVICE"] = args.device

    from orchestrator.asr_eval import run_long
    from orchestrator.core import create_core_app, ensure_database
    from transcribe.engine import load_model_for, transcribe_file
    from transcribe.evaluate import score
    from transcribe.model import resolve_device

    device, compute_type = resolve_device(args.device)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-audio-") as tmp:
        recording = Path(tmp) / "long.wav"
        audio_s, reference = build_recording(recording, args.minutes)
        print(f"recording: {audio_s:.1f} s of real speech with pauses", flush=True)

        def record(name: str, text: str, wall: float, before: list[float], cpu: float, **extra) -> None:
            # CPU seconds do not depend on other processes much: cpu_s / cores is the wall time this
            # mode would need with the cores to itself (if it can keep them busy).
            s = score([reference], [text])
            row = {"wall_s": round(wall, 2), "rtf": round(wall / audio_s, 4), "wer": s.wer, "cer": s.cer,
                   "cpu_s": round(cpu, 1), "load_before": before, "load_after": load(), **extra}
            print(f"{name:12s} wall {wall:7.1f} s  rtf {wall / audio_s:.4f}  WER {s.wer:.4f}  cpu {cpu:6.1f} s  "
                  f"load {before}", flush=True)
            walls = results.get(name, {}).get("walls_s", []) + [row["wall_s"]]
            if name not in results or row["wall_s"] < results[name]["wall_s"]:
                results[name] = row
            results[name]["walls_s"] = walls

        in_process = (("a", "sequential", args.threads, 1), ("b", "batched", args.threads, 1),
                      ("b2", "batched", 1, args.threads))
        app = create_core_app()
        ensure_database(app)
        for _round in range(max(1, args.repeat)):
            for mode, decoder, threads, replicas in in_process:
                if mode not in modes:
                    continue
                options = DecodeOptions(decoder=decoder, **overrides)
                # The model is loaded before the clock starts, as in a worker that is already running.
                load_model_for(decoder, model=args.model, device=device, compute_type=compute_type, cpu_threads=threads,
                               replicas=replicas)
                before, t0, c0 = load(), time.perf_counter(), cpu_seconds()
                tr = transcribe_file(recording, options=options, model=args.model, device=device,
                                     compute_type=compute_type, cpu_threads=threads, replicas=replicas)
                name = decoder if replicas == 1 else f"{decoder}_{replicas}r"
                record(name, tr.text, time.perf_counter() - t0, before, cpu_seconds() - c0, threads=threads,
                       replicas=replicas)

            with app.app_context():
                for mode, workers in (("c1", 1), ("c2", 2)):
                    if mode not in modes:
                        continue
                    before, c0 = load(), cpu_seconds()
                    run = run_long(recording, options=DecodeOptions(**overrides), model=args.model, workers=workers,
                                   threads=1)
                    # Includes the workers' start-up (imports, model load), excluded from wall_s.
                    record(f"chunked_{workers}w", run.transcript.text, run.wall_s, before, cpu_seconds() - c0,
                           workers=workers,
                           threads_per_worker=1, chunks=run.chunks, worker_startup_s=round(run.startup_s, 2),
                           chunk_busy_s=round(run.chunk_seconds, 2))
    summary: dict = {"decode_overrides": overrides,
                     "audio_s": audio_s, "device": device, "compute_type": compute_type, "model": args.model or
                     "bundled:whisper-base", "cpus": os.cpu_count(), "modes": results}
    for name, row in results.items():
        summary[f"{name}_wall_s"], summary[f"{name}_rtf"] = row["wall_s"], row["rtf"]
    if "chunked_1w" in results and "chunked_2w" in results:
        summary["parallel_scaling"] = round(results["chunked_1w"]["wall_s"] / results["chunked_2w"]["wall_s"], 3)
    if "sequential" in results:
        for name in [n for n in results if n != "sequential"]:
            summary[f"{name}_wer_minus_sequential"] = round(results[name]["wer"] - results["sequential"]["wer"], 4)
    best = min(results, key=lambda name: results[name]["rtf"]) if results else None
    summary["best_rtf"] = results[best]["rtf"] if best else None
    summary["best_mode"] = best
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
