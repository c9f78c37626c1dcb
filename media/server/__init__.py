"""The media server process (asyncio + aiohttp + aiortc): rooms per live event, WHIP publish,
WHEP play, encode-once fan-out, floor control, relay (cascade) mode and crash-safe recording.

`diemcau media-server` runs `run(host, port)`; see docs/live.md.
"""
from __future__ import annotations

from .app import MediaServer, ServerConfig, config_from_env, make_app, recover_only


def run(host: str = "127.0.0.1", port: int = 8089, *, relay_parent: str | None = None,
        relay_token: str | None = None, relay_id: int | None = None) -> None:
    from .app import run_forever

    run_forever(host, port, config_from_env(relay_parent=relay_parent, relay_token=relay_token, relay_id=relay_id))


__all__ = ["MediaServer", "ServerConfig", "config_from_env", "make_app", "recover_only", "run"]
