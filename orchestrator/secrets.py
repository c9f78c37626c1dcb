"""Channel credentials encrypted at rest (Fernet), never logged, shown only masked.

The key is `DIEMCAU_CREDENTIALS_KEY` (a Fernet key, `Fernet.generate_key()`) when configured, else one
derived from the app secret with HKDF, so the embedded setup works without another secret. Several
comma-separated keys may be configured: the first encrypts, all decrypt (key rotation).
"""
from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from groundwork.config import options

from . import core


class CredentialsError(Exception):
    """Stored credentials cannot be decrypted (the key changed) or are malformed."""


def _derived_key(app_secret: str) -> bytes:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"diemcau.credentials.v1",
               info=b"channel credentials").derive(app_secret.encode())
    return base64.urlsafe_b64encode(raw)


def _fernet(app_secret: str | None = None) -> MultiFernet:
    if app_secret is None:
        app_secret = core.settings().secret_key
    keys = [Fernet(k) for k in options().credentials_keys] + [Fernet(_derived_key(app_secret))]
    return MultiFernet(keys)


def encrypt(data: dict[str, Any], *, app_secret: str | None = None) -> str:
    return _fernet(app_secret).encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt(token: str | None, *, app_secret: str | None = None) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(_fernet(app_secret).decrypt(token.encode()))
    except (InvalidToken, ValueError) as exc:
        raise CredentialsError("credentials cannot be decrypted with the configured key") from exc


def mask(value: str | None) -> str:
    """'••••abcd' for long secrets, '••••' for short ones: enough to recognise, never enough to use."""
    if not value:
        return ""
    return "••••" + (value[-4:] if len(value) >= 12 else "")


class Credentials(dict):
    """A dict whose repr never shows the values, so a stray log line or traceback leaks nothing."""

    def __repr__(self) -> str:
        return "Credentials(" + ", ".join(f"{k}={mask(str(v)) if v else ''!s}" for k, v in self.items()) + ")"

    __str__ = __repr__


def channel_credentials(channel) -> Credentials:
    return Credentials(decrypt(channel.credentials_encrypted))


def set_channel_credentials(channel, updates: dict[str, Any], *, replace: bool = False) -> None:
    """Write-only update: blank values keep what is stored (forms never show secrets back)."""
    current = {} if replace else decrypt(channel.credentials_encrypted)
    for key, value in updates.items():
        if value not in (None, ""):
            current[key] = value
    channel.credentials_encrypted = encrypt(current) if current else None


def masked_credentials(channel) -> dict[str, str]:
    try:
        return {k: mask(str(v)) for k, v in decrypt(channel.credentials_encrypted).items()}
    except CredentialsError:
        return {}
