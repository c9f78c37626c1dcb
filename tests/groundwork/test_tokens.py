"""Signed tokens outside any Flask app: the secret is always the caller's, never an app's by default."""
from __future__ import annotations

import pytest

from groundwork.tokens import Grant, TokenError, sign, verify


def test_a_token_round_trips_with_the_secret_it_was_signed_with():
    token = sign("site", 42, 7, 3, secret="one secret")
    assert verify(token, max_age_s=60, secret="one secret") == Grant(kind="site", event_id=42, subject_id=7, version=3)
    with pytest.raises(TokenError) as refused:
        verify(token, max_age_s=60, secret="another secret")
    assert refused.value.code == "invalid"


@pytest.mark.parametrize("secret", ["", None])
def test_no_secret_signs_or_verifies_nothing(secret):
    # An empty key would sign tokens anyone can forge; there is no app to fall back on.
    with pytest.raises(ValueError):
        sign("host", 1, 0, 1, secret=secret)
    with pytest.raises(ValueError):
        verify(sign("host", 1, 0, 1, secret="s"), max_age_s=60, secret=secret)
