"""The media server process (asyncio + aiohttp).

This first cut serves its health endpoint so the launcher, the panel and monitoring can see it;
WHIP publish, WHEP play, fan-out and recording arrive with the live media plane (issue 4).
"""
from __future__ import annotations

import time

from aiohttp import web

STARTED = time.time()


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "uptime_s": round(time.time() - STARTED, 1), "rooms": 0})


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/health", health)
    return app


def run(host: str = "127.0.0.1", port: int = 8089) -> None:
    web.run_app(make_app(), host=host, port=port, print=None)
