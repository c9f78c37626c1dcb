"""The portal's latency while clients hammer the login form, under the production server command (gunicorn).

Seeds a fresh data folder as bench/portal_load.py does (published clips) plus one account, starts gunicorn on
loopback, then measures a clip page's p50/p99 for --seconds with --readers clients:
  1. alone;
  2. while --guessers clients post the right password as fast as they can: right passwords are not throttled,
     so each one is hashed; this is the most a flood can cost once it gets past the throttle (guesses from
     many addresses and for many accounts);
  3. while --guessers clients post wrong passwords for the account as fast as they can (each with its own
     session and CSRF token, reused, all from this machine's address, as one attacker would).
and prints the rows side by side with the ratio of each p99 to the p99 alone, and the login answers by status.

Run:  .venv/bin/python bench/login_flood.py [--seconds 15] [--readers 8] [--guessers 32]
The load generator shares the machine's cores with the server: compare rows of one run, not runs.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from portal_load import drive, seed, web_server  # noqa: E402

USERNAME = "kythuat-bench"
PASSWORD = "đồi-chè-xanh-mướt-2026"


def add_account(env: dict[str, str]) -> None:
    os.environ.update(env)
    from orchestrator.accounts import upsert_user
    from orchestrator.core import create_core_app

    with create_core_app().app_context():
        upsert_user(USERNAME, PASSWORD, role="technician")


async def flood(base: str, seconds: float, clients: int, password: str) -> dict:
    """`clients` browsers posting the login form for --seconds; counts answers by status."""
    import aiohttp

    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def browser() -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.get(base + "/login") as page:  # one session and CSRF token per client
                token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text()).group(1)
            while time.monotonic() < deadline:
                start = time.perf_counter()
                async with session.post(base + "/login", allow_redirects=False, data={
                        "username": USERNAME, "password": password, "csrf_token": token}) as response:
                    await response.read()
                    statuses[response.status] += 1
                latencies.append(time.perf_counter() - start)
    await asyncio.gather(*(browser() for _ in range(clients)))
    latencies.sort()
    return {"statuses": dict(sorted(statuses.items())),
            "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else float("nan")}


def flood_process(base: str, seconds: float, clients: int, password: str, out) -> None:
    out.put(asyncio.run(flood(base, seconds, clients, password)))


def portal_with_flood(clip: str, base: str, args, password: str | None) -> tuple[dict, dict | None]:
    """The portal's figures, measured while another process (its own event loop and core time, so the
    flood's responses do not delay the readers' clocks) runs the login clients."""
    if password is None:
        return asyncio.run(drive(clip, args.seconds, args.readers)), None
    out = multiprocessing.Queue()
    flooder = multiprocessing.Process(target=flood_process, args=(base, args.seconds + 1, args.guessers, password,
                                                                  out))
    flooder.start()
    time.sleep(1)  # the flood is under way before the readers start
    portal = asyncio.run(drive(clip, args.seconds, args.readers))
    logins = out.get(timeout=args.seconds + 60)
    flooder.join()
    return portal, logins


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--readers", type=int, default=8, help="concurrent portal clients")
    parser.add_argument("--guessers", type=int, default=32, help="concurrent login clients")
    parser.add_argument("--clips", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="diemcau-login-bench-"))
    env = {"DIEMCAU_DATA_DIR": str(data), "STORAGE_URL": str(data / "storage"), "SECRET_KEY": "bench"}
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    slugs = seed(env, args.clips)
    add_account(env)
    from groundwork.redis_server import ensure_private_redis, stop_private_redis

    # A Redis of the bench's own: the login throttle's counters must start empty.
    env["REDIS_URL"] = ensure_private_redis(data / "redis")
    import requests

    try:
        with web_server(env, args.workers, args.threads) as base:
            clip = f"{base}/v/{slugs[len(slugs) // 2]}"
            for _ in range(20):  # warm the workers (imports, template compilation)
                requests.get(clip, timeout=10)
                requests.get(base + "/login", timeout=10)
            print(f"gunicorn {args.workers} workers x {args.threads} threads; portal: {args.readers} clients on a clip "
                  f"page; logins: {args.guessers} clients; {args.seconds:g} s per case; {os.cpu_count()} cores")
            print(f"{'case':44} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'p99 x':>6}  login answers (status: count)")
            # Right passwords before wrong ones: the guesses' throttle would refuse the right ones for a minute.
            cases = [("portal alone", None), (f"portal + {args.guessers} right-password logins", PASSWORD),
                     (f"portal + {args.guessers} wrong-password guessers", "wrong-password-guess")]
            results, alone_p99 = {}, None
            for name, password in cases:
                portal, logins = portal_with_flood(clip, base, args, password)
                alone_p99 = alone_p99 or portal["p99_ms"]
                ratio = portal["p99_ms"] / alone_p99
                answers = ", ".join(f"{k}: {v}" for k, v in logins["statuses"].items()) if logins else ""
                if logins:
                    answers += f" (login p50 {logins['p50_ms']:.0f} ms)"
                print(f"{name:44} {portal['rps']:7.1f} {portal['p50_ms']:8.1f} {portal['p99_ms']:8.1f} {ratio:6.2f}"
                      f"  {answers}")
                results[name] = {"portal_rps": round(portal["rps"], 1), "p50_ms": round(portal["p50_ms"], 1),
                                 "p99_ms": round(portal["p99_ms"], 1), "p99_ratio": round(ratio, 2),
                                 "portal_errors": portal["errors"], "logins": logins}
                time.sleep(1)
            print(json.dumps(results))
    finally:
        stop_private_redis(data / "redis")
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
