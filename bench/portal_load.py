"""Load benchmark of the public portal under the production server command (gunicorn, as in the Procfile).

Seeds a fresh data folder with published clips (poster, HLS playlist, subtitles, a 120-line transcript),
starts gunicorn on loopback, then drives the home page, a clip page, a clip page revalidated with its
ETag (304) and a playlist, each for --seconds at --concurrency, and prints requests/s and latency
percentiles side by side. Uses `wrk` too when it is installed (apt-get install wrk). Segments and files
are not part of this: in production they come from storage or nginx (docs/publishing.md).

Run:  .venv/bin/python bench/portal_load.py [--seconds 10] [--concurrency 32] [--clips 30]
The load generator shares the machine's cores with the server: compare rows of one run, not runs.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(env: dict[str, str], clips: int) -> list[str]:
    """Published portal clips in the bench's own database and storage; returns their slugs."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    from orchestrator.core import create_core_app, ensure_database, storage
    from orchestrator.db import db
    from orchestrator.models import Asset, Event, EventStatus, Publication, Recording, Transcript
    from orchestrator.publishing.portal import portal_slug
    from orchestrator.seed import portal_channel

    app = create_core_app()
    ensure_database(app)
    slugs = []
    with app.app_context():
        store = storage()
        channel = portal_channel()
        poster = subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=640x360:d=1",
                                 "-frames:v", "1", "-f", "mjpeg", "-"], capture_output=True, check=True).stdout
        for i in range(clips):
            event = Event(kind="report", title=f"Báo cáo chuyên đề số {i + 1}: đưa nghị quyết vào cuộc sống",
                          description="Báo cáo viên trình bày chuyên đề. " * 5, status=EventStatus.PUBLISHED.value)
            rec = Recording(event=event, source_key="x", original_filename="x.mp4", duration_s=300.0)
            db.session.add_all([event, rec])
            db.session.flush()
            p = f"recordings/{rec.id}"
            store.put_bytes(f"{p}/media/poster.jpg", poster)
            store.put_bytes(f"{p}/media/hls/master.m3u8",
                            b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720\nv720/index.m3u8\n")
            cues = [{"start": 2.5 * k, "end": 2.5 * (k + 1), "text": f"Câu thứ {k + 1} của bài báo cáo về nghị quyết"}
                    for k in range(120)]
            vtt = "WEBVTT\n\n" + "".join(f"{k}\n00:00:{c['start']:06.3f} --> 00:00:{c['end']:06.3f}\n{c['text']}\n\n"
                                         for k, c in enumerate(cues[:20]))
            store.put_bytes(f"{p}/subtitles/vi.vtt", vtt.encode())
            db.session.add_all([
                Asset(recording=rec, kind="hls", storage_key=f"{p}/media/hls/master.m3u8"),
                Asset(recording=rec, kind="poster", storage_key=f"{p}/media/poster.jpg"),
                Asset(recording=rec, kind="subtitles_vtt", language="vi", storage_key=f"{p}/subtitles/vi.vtt"),
                Transcript(recording_id=rec.id, language="vi", version=1, text=" ".join(c["text"] for c in cues),
                           cues=cues),
            ])
            slug = portal_slug(event.title, rec.id)
            db.session.add(Publication(recording_id=rec.id, channel_id=channel.id, status="published", slug=slug,
                                       idempotency_key=f"portal:recording:{rec.id}",
                                       published_at=event.created_at))
            slugs.append(slug)
        db.session.commit()
    return slugs


async def drive(url: str, seconds: float, concurrency: int, headers: dict[str, str] | None = None) -> dict:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers or {}) as session:
        async def user() -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                start = time.perf_counter()
                try:
                    async with session.get(url) as response:
                        await response.read()
                        if response.status not in (200, 304):
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
                latencies.append(time.perf_counter() - start)
        started = time.monotonic()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "errors": errors}


@contextlib.contextmanager
def web_server(env: dict[str, str], workers: int, threads: int):
    """The Procfile's web command (gunicorn) on a free loopback port; yields its base URL once it answers."""
    import requests

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [str(Path(sys.executable).with_name("gunicorn")), "--workers", str(workers), "--threads",
           str(threads), "--timeout", "3600", "--bind", f"127.0.0.1:{port}", "web:create_app()"]
    server = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        server.wait(10)


def run_wrk(url: str, seconds: float, concurrency: int) -> str | None:
    if not shutil.which("wrk"):
        return None
    out = subprocess.run(["wrk", "-t2", f"-c{concurrency}", f"-d{int(seconds)}s", "--latency", url],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"\s99%\s+([\d.]+\w+)", out)
    return f"wrk: {rps.group(1) if rps else '?'} req/s, p99 {p99.group(1) if p99 else '?'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--clips", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="diemcau-portal-bench-"))
    env = {"DIEMCAU_DATA_DIR": str(data), "STORAGE_URL": str(data / "storage"), "SECRET_KEY": "bench"}
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 6379)) == 0:
            env["REDIS_URL"] = "redis://127.0.0.1:6379/13"
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    slugs = seed(env, args.clips)
    import requests

    try:
        with web_server(env, args.workers, args.threads) as base:
            clip = f"{base}/v/{slugs[len(slugs) // 2]}"
            etag = requests.get(clip, timeout=5).headers["ETag"]
            cases = [("home /", base + "/", None), ("clip /v/<slug>", clip, None),
                     ("clip, revalidated (304)", clip, {"If-None-Match": etag}),
                     ("playlist master.m3u8", clip + "/hls/master.m3u8", None)]
            print(f"gunicorn {args.workers} workers x {args.threads} threads; {args.concurrency} concurrent clients, "
                  f"{args.seconds:g} s per case, {args.clips} clips")
            print(f"{'case':28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
            results = {}
            for name, url, headers in cases:
                for _ in range(20):  # warm the workers (imports, template compilation)
                    requests.get(url, headers=headers or {}, timeout=10)
                r = asyncio.run(drive(url, args.seconds, args.concurrency, headers))
                results[name] = r
                print(f"{name:28} {r['rps']:8.1f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['errors']:7d}")
                wrk = run_wrk(url, args.seconds, args.concurrency) if headers is None else None
                if wrk:
                    print(f"{'':28} {wrk}")
            print(json.dumps({k: {m: round(v, 1) for m, v in r.items()} for k, r in results.items()}))
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
