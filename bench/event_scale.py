"""One big event through the real panel: the event page, the participants API (first and a later page),
the wall API and the invitations page, timed as an admin with 1,000 and 10,000 participating sites.

Each code tree measured gets its own fresh PostgreSQL database (`diemcau_bench_<random>`, migrated by
that tree's own code, dropped at the end) filled in bulk with SQL: a province, 100 districts and 9,899
communes, a live event over the first 1,000 sites and one over all 10,000, a tenth of the sites joined
with attendance in the database, a third reporting live state in Redis (what the wall merges). A
private `redis-server` serves both trees (one Redis database each). Requests go through Flask's test
client of the tree's `create_app()`; each endpoint is asked once to warm up, then N times (N < 3: no warm-up).

`--baseline REF` measures the code of a git commit (extracted with `git archive` into a temporary
folder, nothing in the working tree changes) side by side with the working tree, in the same run; the
old code takes tens of seconds a request at 10,000 sites, so `--baseline-n` (default 2) is small.
The working tree also makes the printable invitations sheet of the big event once (the RQ job's
function, in-process) and reports its time and size.

    .venv/bin/python bench/event_scale.py [--sites 1000 10000] [--n 20] [--baseline 09bf04d --baseline-n 2]

Prints a table and, as its last line, a JSON object.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# bench/ holds transcribe.py: off the path, so `transcribe` is the tree's package, not this folder's script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
PG_ADMIN_URL = os.environ.get("DIEMCAU_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench-password-1"
DISTRICTS = 100
ENDPOINTS = ("event page", "participants API, first page", "participants API, later page", "wall API",
             "invitations page")


# --- the data, in bulk ----------------------------------------------------------------------------

def fill(url: str, redis_url: str, sizes: list[int]) -> dict[int, int]:
    """Sites, events and participations with SQL (COPY), live state in Redis. Returns {sites: event id}."""
    import psycopg
    from redis import Redis

    from groundwork.live_contract import sites_key

    total = max(sizes)
    now = datetime.now(UTC)
    rows = []
    for site_id in range(1, total + 1):
        if site_id == 1:
            parent, level, path, depth = None, "province", "/1/", 0
        elif site_id <= 1 + DISTRICTS:
            parent, level, path, depth = 1, "district", f"/1/{site_id}/", 1
        else:
            parent = 2 + site_id % DISTRICTS
            level, path, depth = "commune", f"/1/{parent}/{site_id}/", 2
        rows.append((site_id, f"B{site_id:05d}", f"Điểm cầu {level} số {site_id}", level, "", parent, path, depth,
                     "", "", "", "", now))
    events: dict[int, int] = {}
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        with conn.cursor() as cur, cur.copy(
                "COPY sites (id, code, name, level, unit_type, parent_id, path, depth, room_name, technician_name,"
                " technician_phone, media_node_url, updated_at) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.execute("SELECT setval(pg_get_serial_sequence('sites', 'id'), (SELECT max(id) FROM sites))")
        for n in sizes:
            event_id = conn.execute(
                "INSERT INTO events (kind, title, description, language, confidential, status, created_at, starts_at,"
                " ends_at, host_site_id) VALUES ('conference', %s, '', 'vi', false, 'live', now(),"
                " now() - interval '10 minutes', now() + interval '3 hours', 1) RETURNING id",
                (f"Hội nghị {n} điểm cầu",)).fetchone()[0]
            conn.execute(
                "INSERT INTO participations (event_id, site_id, token_version, state, attendance)"
                " SELECT %s, id, 1, CASE WHEN id %% 10 = 0 THEN 'joined' ELSE 'not_joined' END,"
                " CASE WHEN id %% 10 = 0 THEN 20 END FROM sites WHERE id <= %s", (event_id, n))
            events[n] = event_id
    r = Redis.from_url(redis_url)
    reported = time.time()
    for n, event_id in events.items():
        pipe = r.pipeline()
        for site_id in range(1, n + 1, 3):
            state = "degraded" if site_id % 7 == 0 else "receiving"
            pipe.hset(sites_key(event_id), str(site_id),
                      json.dumps({"site_id": site_id, "state": state, "ts": reported + 3600, "rtt_ms": 40.0,
                                  "loss_pct": 0.5, "bitrate_kbps": 1800.0}))
        pipe.execute()
    return events


# --- timing, inside the tree measured (a subprocess with that tree first on sys.path) ----------------

def measure(events: dict[int, int], n: int, sheet: bool) -> list[dict]:
    from orchestrator.accounts import upsert_user
    from orchestrator.db import db
    from web import create_app

    app = create_app()
    with app.app_context():
        upsert_user("bench-admin", PASSWORD, role="admin")
        db.session.remove()
    client = app.test_client()
    page = client.get("/login")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()
    assert client.post("/login", data={"username": "bench-admin", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    results = []
    for sites, event_id in sorted(events.items()):
        later = max(0, sites - 500)   # the last page
        urls = dict(zip(ENDPOINTS, (f"/events/{event_id}", f"/api/events/{event_id}/participants",
                                    f"/api/events/{event_id}/participants?offset={later}&limit=500",
                                    f"/api/events/{event_id}/wall", f"/events/{event_id}/invitations"), strict=True))
        for name, url in urls.items():
            times, size, status = [], 0, 0
            warm_up = n >= 3  # a warm-up request costs a minute with the old code at 10,000 sites
            for i in range(n + 1 if warm_up else n):
                t = time.perf_counter()
                response = client.get(url)
                body = response.get_data()
                elapsed = time.perf_counter() - t
                size, status = len(body), response.status_code
                if i or not warm_up:
                    times.append(elapsed)
            results.append({"sites": sites, "endpoint": name, "url": url, "n": len(times), "status": status,
                            "bytes": size, "p50_s": round(statistics.median(times), 4),
                            "p99_s": round(percentile(times, 99), 4)})
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    if sheet:
        from orchestrator import core
        from web.invitation_sheet import make_sheet

        event_id = events[max(events)]
        t = time.perf_counter()
        with app.app_context():
            made = make_sheet(event_id, "http://localhost/", "vi")
            size = core.storage().size(made["key"])
        results.append({"sites": max(events), "endpoint": "invitations sheet job (all sites, QR codes)",
                        "n": 1, "status": 200, "bytes": size, "p50_s": round(time.perf_counter() - t, 2),
                        "p99_s": round(time.perf_counter() - t, 2)})
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# --- one tree: database, migrations, data, timings ------------------------------------------------------

def run_tree(label: str, tree: Path, redis_url: str, sizes: list[int], n: int, sheet: bool) -> list[dict]:
    import psycopg

    name = f"diemcau_bench_{uuid.uuid4().hex[:8]}"
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory(prefix=f"bench-{label}-") as data:
            env = {**os.environ, "PYTHONPATH": str(tree), "DATABASE_URL": url, "REDIS_URL": redis_url,
                   "DIEMCAU_DATA_DIR": data, "STORAGE_URL": str(Path(data) / "storage")}
            subprocess.run([sys.executable, "-c", "from orchestrator.core import create_core_app, ensure_database;"
                            " ensure_database(create_core_app())"], env=env, cwd=tree, check=True)
            events = fill(url, redis_url, sizes)
            out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--measure", json.dumps(events),
                                  "--n", str(n)] + (["--sheet"] if sheet else []),
                                 env=env, cwd=tree, check=True, stdout=subprocess.PIPE, text=True)
            return [{**r, "code": label} for r in json.loads(out.stdout.strip().splitlines()[-1])]
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def extract(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "orchestrator", "web", "media", "transcribe"],
                             check=True, stdout=subprocess.PIPE).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--n", type=int, default=20, help="timed requests per endpoint (after one warm-up)")
    parser.add_argument("--baseline", help="a git commit whose code is measured side by side (e.g. 09bf04d)")
    parser.add_argument("--baseline-n", type=int, default=2)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--sheet", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        events = {int(k): v for k, v in json.loads(args.measure).items()}
        print(json.dumps(measure(events, args.n, args.sheet)))
        return

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # killed: still drop the databases and stop Redis
    sys.path.insert(0, str(REPO))
    from groundwork.redis_server import ensure_private_redis, stop_private_redis

    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as folder:
        redis_base = ensure_private_redis(Path(folder)).rsplit("/", 1)[0]
        try:
            results += run_tree("working tree", REPO, f"{redis_base}/0", args.sites, args.n, sheet=True)
            if args.baseline:
                with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
                    tree = extract(args.baseline, Path(tmp))
                    results += run_tree(f"baseline {args.baseline}", tree, f"{redis_base}/1", args.sites,
                                        args.baseline_n, sheet=False)
        finally:
            stop_private_redis(Path(folder))

    codes = list(dict.fromkeys(r["code"] for r in results))
    print(f"\n{'endpoint':52} {'sites':>6} " + " ".join(f"{c[:34]:>34}" for c in codes))
    print(f"{'':52} {'':>6} " + " ".join(f"{'p50 s / p99 s / KiB (n)':>34}" for _ in codes))
    keys = list(dict.fromkeys((r["endpoint"], r["sites"]) for r in results))
    for endpoint, sites in keys:
        cells = []
        for code in codes:
            r = next((x for x in results if x["code"] == code and x["endpoint"] == endpoint and x["sites"] == sites),
                     None)
            cells.append(f"{r['p50_s']:>8.3f} / {r['p99_s']:>7.3f} / {r['bytes'] / 1024:>7.0f} ({r['n']})"
                         if r else "–")
        print(f"{endpoint:52} {sites:>6} " + " ".join(f"{c:>34}" for c in cells))
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
