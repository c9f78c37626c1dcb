"""Signed, expiring tokens for links that need no account (site join links, calendar feeds, media publish/play).

A token names what it grants (kind), the event, the subject (a site, a relay node, the host) and a
version: revoking bumps the version stored with the subject, which invalidates every older token.
Callers check the version against the database; this module only signs and verifies. Every caller
passes the secret: the panel its app's SECRET_KEY (orchestrator.core.token_secret), the media server
the settings' secret_key, so neither Flask nor an app context is needed here.
"""
from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

KINDS = ("site", "host", "relay", "studio", "feed")  # feed: a site's calendar feed (event 0)


class TokenError(Exception):
    def __init__(self, code: str):  # "invalid" | "expired"
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Grant:
    kind: str
    event_id: int
    subject_id: int | None
    version: int


def _serializer(secret: str) -> URLSafeTimedSerializer:
    if not secret:
        raise ValueError("tokens need a secret")  # an empty key would sign tokens anyone can forge
    return URLSafeTimedSerializer(secret, salt="diemcau.tokens.v1")


def sign(kind: str, event_id: int, subject_id: int | None = None, version: int = 1, *,
         secret: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown token kind {kind!r}")
    return _serializer(secret).dumps({"k": kind, "e": event_id, "s": subject_id, "v": version})


def verify(token: str, *, max_age_s: int, secret: str) -> Grant:
    try:
        data = _serializer(secret).loads(token, max_age=max_age_s)
    except SignatureExpired:
        raise TokenError("expired") from None
    except BadSignature:
        raise TokenError("invalid") from None
    return Grant(kind=data["k"], event_id=data["e"], subject_id=data["s"], version=data["v"])
