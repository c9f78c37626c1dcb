"""Benchmark of `diemcau process` on a real clip: per-stage seconds and the realtime factor.

The clip: Big Buck Bunny's 720p picture looped under real Vietnamese read speech (../shared/data),
about 60 s. Run:  .venv/bin/python bench/process.py [--seconds 60] [--preset veryfast]
Prints per-stage figures, and as its last line a JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def build_clip(out: Path, seconds: float) -> Path:
    wavs = sorted((SHARED / "speech_vi").glob("*.wav"))
    video = SHARED / "video" / "misc" / "bigbuckbunny.mp4"
    if not wavs or not video.exists():
        sys.exit(f"shared data not found under {SHARED}")
    concat = out.with_suffix(".txt")
    lines = []
    for wav in wavs:  # speech with 0.5 s pauses between utterances, as in a talk
        lines += [f"file '{wav}'", "file 'pause.wav'"]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=24000:cl=mono", "-t", "0.5",
                    str(out.parent / "pause.wav")], check=True)
    concat.write_text("\n".join(lines) + "\n")
    speech = out.parent / "speech.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(concat),
                    "-ar", "24000", "-ac", "1", str(speech)], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(video),
                    "-stream_loop", "-1", "-i", str(speech), "-map", "0:v", "-map", "1:a", "-t", str(seconds),
                    "-vf", "scale=1280:720,fps=25", "-c:v", "libx264", "-preset", "fast", "-crf", "20",
                    "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(out)], check=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--preset", default="veryfast")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        clip = build_clip(tmp_path / "clip.mp4", args.seconds)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "STORAGE_URL")}
        env.update(DIEMCAU_DATA_DIR=str(tmp_path / "data"), DIEMCAU_X264_PRESET=args.preset)
        t0 = time.perf_counter()
        done = subprocess.run([str(Path(sys.executable).with_name("diemcau")), "process", str(clip), "--json",
                               "--out", str(tmp_path / "out")], env=env, capture_output=True, text=True,
                              check=True)
        wall = time.perf_counter() - t0
        summary = json.loads(done.stdout.strip().splitlines()[-1])
    timings = summary["timings_s"]
    duration = summary["duration_s"]
    print(f"clip: {duration:.1f} s 1280x720 25 fps, speech in Vietnamese; x264 preset {args.preset}; "
          f"{os.cpu_count()} cores")
    for stage in ("probe", "transcode", "transcribe"):
        print(f"  {stage:<11} {timings[stage]:7.2f} s   realtime x{duration / timings[stage]:6.1f}")
    print(f"  {'total':<11} {timings['total']:7.2f} s   realtime x{duration / timings['total']:6.1f}  "
          f"(process wall incl. start-up {wall:.2f} s)")
    print(json.dumps({
        "duration_s": duration, "preset": args.preset, "cores": os.cpu_count(),
        "stages_s": {k: timings[k] for k in ("probe", "transcode", "transcribe")},
        "total_s": timings["total"], "wall_s": round(wall, 2),
        "realtime_factor": round(duration / timings["total"], 2),
        "renditions": [r["height"] for r in summary["renditions"]],
    }))


if __name__ == "__main__":
    main()
