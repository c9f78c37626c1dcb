"""The private Redis of the embedded setup: a password other local users cannot read, files only its
owner can read, and the same port and password again after a restart (processes keep their URL)."""
from __future__ import annotations

import pytest
from redis import Redis
from redis.exceptions import AuthenticationError, ResponseError

from groundwork.redis_server import ensure_private_redis, stop_private_redis


def test_private_redis_needs_its_password_and_keeps_its_files_to_its_owner(tmp_path):
    folder = tmp_path / "redis"
    url = ensure_private_redis(folder)
    try:
        client = Redis.from_url(url)
        client.set("k", "v")
        client.bgrewriteaof()
        anonymous = Redis(host="127.0.0.1", port=client.connection_pool.connection_kwargs["port"])
        with pytest.raises((AuthenticationError, ResponseError)):
            anonymous.get("k")
        assert folder.stat().st_mode & 0o777 == 0o700
        files = [p for p in folder.rglob("*") if p.is_file()]
        assert {p.name for p in files} >= {"password", "port", "redis.conf"}
        assert all(p.stat().st_mode & 0o077 == 0 for p in folder.rglob("*")), \
            [(p.name, oct(p.stat().st_mode)) for p in folder.rglob("*") if p.stat().st_mode & 0o077]
    finally:
        stop_private_redis(folder)
    again = ensure_private_redis(folder)
    try:
        assert again == url
        assert Redis.from_url(again).get("k") == b"v"
    finally:
        stop_private_redis(folder)
