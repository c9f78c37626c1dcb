"""Single-pass ladder vs one ffmpeg per rendition, measured side by side on the same sources.

    .venv/bin/python bench/transcode_ladder.py [--repeat 3] [--preset veryfast] [--crf 23]
    .venv/bin/python bench/transcode_ladder.py --tradeoff      # x264 preset/CRF quality vs speed

Sources: ../shared/data/video/misc/bigbuckbunny.mp4 (720p, 5.3 s, 5.1 AAC) looped to --duration
seconds and scaled to 1080p and to 720p, encoded as H.264 High at the bitrates phones record
(1080p 16 Mbit/s, 720p 8 Mbit/s; `--master crf18` for a leaner master). Built once, cached.

Designs, with the same encoder settings (media.transcode.build_encode_command for both):
- single pass: Điểm Cầu's one ffmpeg run: decode once, split + scale per rung (each from the rung
  above), every rung encoded in the same process, the audio encoded once as the rendition that
  every variant shares (HLS audio group);
- per rendition: what peers do (PeerTube on-demand transcoding): one ffmpeg per rung, each
  decoding the source again, each encoding its own audio; plus one run for the audio-only rung.
Only the encodes are timed (the stream-copy remux and the pictures are the same for both).

Other engineers share this 2-core machine, so: runs alternate (ABBA), each repeat is reported,
os.getloadavg() is recorded around every run, and CPU seconds (user+sys of the ffmpeg children,
less sensitive to contention than wall time) are reported next to wall seconds. The last line
is a JSON object: single_pass_s, per_rendition_s (sums over both sources of the median wall
times), speedup = per_rendition_s / single_pass_s, realtime_factor = source seconds / single_pass_s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from media.ffprogress import run_ffmpeg  # noqa: E402
from media.ladder import output_fps, plan_rungs  # noqa: E402
from media.probe import probe  # noqa: E402
from media.transcode import EncodeOptions, build_encode_command  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "video" / "misc" / "bigbuckbunny.mp4"
HEIGHTS = (1080, 720, 480, 360)
MASTERS = {
    # (video args by height): "camera" = the bitrate a phone records at; "crf18" = a visually lossless master.
    "camera": {1080: ["-b:v", "16M", "-maxrate", "20M", "-bufsize", "20M"], 720: ["-b:v", "8M", "-maxrate", "10M",
                                                                                  "-bufsize", "10M"]},
    "crf18": {1080: ["-crf", "18"], 720: ["-crf", "18"]},
}


def log(msg: str) -> None:
    print(msg, flush=True)


def build_source(workdir: Path, height: int, duration: float, master: str) -> Path:
    dest = workdir / f"bbb-{height}p-{int(duration)}s-{master}.mp4"
    if dest.is_file():
        return dest
    loops = int(duration // 5.28) + 1
    tmp = dest.with_suffix(".tmp.mp4")
    cmd = [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-stream_loop", str(loops), "-i", str(SHARED),
        "-vf", f"scale=-2:{height}:flags=lanczos", "-c:v", "libx264", "-preset", "fast", "-profile:v", "high",
        *MASTERS[master][height], "-g", "60", "-c:a", "aac", "-b:a", "384k", "-t", str(duration), str(tmp),
    ]  # fmt: skip
    log(f"building source {dest.name} …")
    subprocess.run(cmd, check=True)
    tmp.rename(dest)
    return dest


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(fn) -> tuple[float, float, list[float]]:
    load_before = os.getloadavg()[0]
    cpu0, t0 = children_cpu(), time.perf_counter()
    fn()
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    return wall, cpu, [round(load_before, 2), round(os.getloadavg()[0], 2)]


def single_pass(src: Path, out: Path, opts: EncodeOptions) -> None:
    pr = probe(src)
    rungs = plan_rungs(pr.width, pr.height, HEIGHTS)
    fps = output_fps(pr.fps)
    (out / "hls").mkdir(parents=True)
    run_ffmpeg(build_encode_command(src, rungs, fps, pr.has_audio, opts), pr.duration_s, cwd=out)


def per_rendition(src: Path, out: Path, opts: EncodeOptions) -> None:
    pr = probe(src)
    rungs = plan_rungs(pr.width, pr.height, HEIGHTS)
    fps = output_fps(pr.fps)
    for rung in rungs:
        d = out / rung.name
        (d / "hls").mkdir(parents=True)
        cmd = build_encode_command(src, [rung], fps, pr.has_audio, opts, audio_rung=False)
        run_ffmpeg(cmd, pr.duration_s, cwd=d)
    if pr.has_audio:
        d = out / "audio"
        (d / "hls").mkdir(parents=True)
        run_ffmpeg(build_encode_command(src, [], fps, True, opts), pr.duration_s, cwd=d)


def rung_bytes(out: Path) -> dict[str, int]:
    """Bytes per rendition (segments + init), to show both designs produced the same outputs."""
    sizes: dict[str, int] = {}
    for f in out.rglob("*.m4s"):
        name = f.name.rsplit("_", 1)[0]
        sizes[name] = sizes.get(name, 0) + f.stat().st_size
    return dict(sorted(sizes.items()))


def run_ladder(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    opts = EncodeOptions(preset=args.preset, crf=args.crf)
    designs = {"single_pass": single_pass, "per_rendition": per_rendition}
    per_source: dict[str, dict] = {}
    total_src_s = 0.0
    for height in args.sources:
        src = build_source(workdir, height, args.duration, args.master)
        pr = probe(src)
        total_src_s += pr.duration_s
        runs: dict[str, list[dict]] = {k: [] for k in designs}
        sizes: dict[str, dict[str, int]] = {}
        for rep in range(args.repeat):
            order = list(designs) if rep % 2 == 0 else list(reversed(designs))  # ABBA: no order bias
            for name in order:
                out = workdir / f"out-{height}-{name}"
                shutil.rmtree(out, ignore_errors=True)
                wall, cpu, load = timed(lambda n=name, o=out, s=src: designs[n](s, o, opts))
                runs[name].append({"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "loadavg_1m": load})
                sizes[name] = rung_bytes(out)
                shutil.rmtree(out, ignore_errors=True)
                log(f"{height}p repeat {rep + 1} {name:13s} wall {wall:7.2f} s  cpu {cpu:7.2f} s  load {load}")
        med = {k: round(statistics.median(r["wall_s"] for r in v), 2) for k, v in runs.items()}
        cpu_med = {k: round(statistics.median(r["cpu_s"] for r in v), 2) for k, v in runs.items()}
        ratios = [p["wall_s"] / s["wall_s"] for s, p in zip(runs["single_pass"], runs["per_rendition"], strict=True)]
        per_source[f"{height}p"] = {
            "source": src.name,
            "source_s": pr.duration_s,
            "single_pass_s": med["single_pass"],
            "per_rendition_s": med["per_rendition"],
            "speedup": round(med["per_rendition"] / med["single_pass"], 3),
            "speedup_per_repeat": [round(r, 3) for r in ratios],
            "cpu_single_pass_s": cpu_med["single_pass"],
            "cpu_per_rendition_s": cpu_med["per_rendition"],
            "cpu_speedup": round(cpu_med["per_rendition"] / cpu_med["single_pass"], 3),
            "runs": runs,
            "rendition_bytes": sizes,
        }
        log(json.dumps({k: v for k, v in per_source[f"{height}p"].items() if k not in ("runs",)}))
    single = round(sum(v["single_pass_s"] for v in per_source.values()), 2)
    per = round(sum(v["per_rendition_s"] for v in per_source.values()), 2)
    cpu_single = sum(v["cpu_single_pass_s"] for v in per_source.values())
    cpu_per = sum(v["cpu_per_rendition_s"] for v in per_source.values())
    all_ratios = [r for v in per_source.values() for r in v["speedup_per_repeat"]]
    return {
        "single_pass_s": single,
        "per_rendition_s": per,
        "speedup": round(per / single, 3),
        "realtime_factor": round(total_src_s / single, 3),
        "cpu_speedup": round(cpu_per / cpu_single, 3),
        "speedup_spread": [round(min(all_ratios), 3), round(max(all_ratios), 3)],
        "preset": args.preset,
        "crf": args.crf,
        "master": args.master,
        "repeat": args.repeat,
        "cores": os.cpu_count(),
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "per_source": {k: {kk: vv for kk, vv in v.items() if kk != "runs"} for k, v in per_source.items()},
    }


# --- x264 preset / CRF trade-off ---------------------------------------------------------------


def ssim_psnr(ref: Path, dist: Path) -> tuple[float, float]:
    """Mean SSIM (All) and PSNR (average) of `dist` against `ref`, same size and frame count."""
    graph = "[0:v]setpts=PTS-STARTPTS[d];[1:v]setpts=PTS-STARTPTS[r];[d]split[d1][d2];[r]split[r1][r2];" \
            "[d1][r1]ssim;[d2][r2]psnr"
    res = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(dist), "-i", str(ref), "-filter_complex", graph,
         "-f", "null", "-"], capture_output=True, text=True, check=True,
    )  # fmt: skip
    ssim = psnr = float("nan")
    for line in res.stderr.splitlines():
        if "SSIM" in line and "All:" in line:
            ssim = float(line.split("All:")[1].split()[0])
        if "PSNR" in line and "average:" in line:
            psnr = float(line.split("average:")[1].split()[0])
    return ssim, psnr


def run_tradeoff(args: argparse.Namespace) -> dict:
    """Encode the 1080p source's first --clip seconds at each preset x CRF as the 1080p rung would
    be encoded, and score each against the source: SSIM, PSNR, bitrate, encode CPU seconds."""
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    src = build_source(workdir, 1080, args.duration, args.master)
    clip = workdir / f"clip-{args.clip}s.y4m"
    if not clip.is_file():
        # Decoded once to raw frames, so the encode timings below hold only the encoder's work.
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), "-t", str(args.clip),
                        "-pix_fmt", "yuv420p", str(clip)], check=True)  # fmt: skip
    rows = []
    for preset in args.presets:
        for crf in args.crfs:
            out = workdir / f"tr-{preset}-{crf}.mp4"
            cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(clip),
                   "-c:v", "libx264", "-profile:v", "high", "-preset", preset, "-crf", str(crf),
                   "-maxrate", "5000000", "-bufsize", "10000000", "-g", "50", "-keyint_min", "50",
                   "-sc_threshold", "0", str(out)]  # fmt: skip
            wall, cpu, load = timed(lambda c=cmd: subprocess.run(c, check=True))
            ssim, psnr = ssim_psnr(clip, out)
            kbps = out.stat().st_size * 8 / args.clip / 1000
            row = {"preset": preset, "crf": crf, "ssim": round(ssim, 5), "psnr": round(psnr, 2),
                   "kbps": round(kbps), "cpu_s": round(cpu, 2), "wall_s": round(wall, 2), "loadavg_1m": load}
            rows.append(row)
            log(json.dumps(row))
            out.unlink()
    return {"tradeoff": rows, "clip_s": args.clip, "source": src.name}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/tmp/diemcau-bench-ladder")
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--preset", default="veryfast")
    ap.add_argument("--crf", type=int, default=23)
    ap.add_argument("--master", choices=sorted(MASTERS), default="camera")
    ap.add_argument("--sources", type=int, nargs="+", default=[1080, 720], choices=[1080, 720])
    ap.add_argument("--tradeoff", action="store_true", help="measure x264 presets x CRFs instead")
    ap.add_argument("--presets", nargs="+", default=["ultrafast", "superfast", "veryfast", "faster", "medium"])
    ap.add_argument("--crfs", type=int, nargs="+", default=[20, 23, 26])
    ap.add_argument("--clip", type=float, default=20.0, help="seconds encoded per trade-off point")
    args = ap.parse_args()
    if not SHARED.is_file():
        sys.exit(f"missing {SHARED}: the benchmark needs the shared test data")
    result = run_tradeoff(args) if args.tradeoff else run_ladder(args)
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
