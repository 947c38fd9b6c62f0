"""The shared bearer-token check: header parsing, signature once, expiry and revocation always."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from shared.auth import TokenError, issue_token
from shared.events import OperatorRef, Role, utcnow
from shared.tokens import TokenVerifier, bearer_token

SECRET = "s" * 40
OPERATOR = OperatorRef(id="op-1", role=Role.OPERATOR, scope=("16.07.01",))


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc  ", "abc"),
        ("BEARER abc", "abc"),
        ("Bearer ", None),
        ("Bearer", None),
        ("Basic abc", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token_of_a_header(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def _code(verifier: TokenVerifier, header: str | None) -> str:
    with pytest.raises(TokenError) as caught:
        verifier.verify_header(header)
    error = caught.value
    assert error.status == 401 and error.response_headers == {"WWW-Authenticate": "Bearer"}
    assert error.pesan and error.message and error.pesan != error.message
    return error.code


def test_missing_forged_and_revoked_tokens_are_refused() -> None:
    verifier = TokenVerifier(SECRET)
    token, claims = issue_token(SECRET, OPERATOR, ttl=timedelta(hours=1))
    forged, _ = issue_token("x" * 40, OPERATOR, ttl=timedelta(hours=1))
    assert verifier.verify_header(f"Bearer {token}").jti == claims.jti
    assert _code(verifier, None) == "TOKEN_MISSING"
    assert _code(verifier, f"Bearer {forged}") == "TOKEN_INVALID"
    assert _code(verifier, "Bearer not-a-jwt") == "TOKEN_INVALID"
    verifier.set_revoked({claims.jti})
    assert verifier.revocations_loaded
    # The verified token is cached, yet revocation is checked on every call.
    assert _code(verifier, f"Bearer {token}") == "TOKEN_REVOKED"
    verifier.set_revoked(())
    assert verifier.verify(token).operator == OPERATOR


def test_a_cached_token_is_refused_once_it_expires() -> None:
    verifier = TokenVerifier(SECRET)
    issued = utcnow() - timedelta(hours=1) + timedelta(seconds=1)
    token, claims = issue_token(SECRET, OPERATOR, ttl=timedelta(hours=1), now=issued)
    cached = verifier.verify(token)  # valid for one more second: now cached
    assert cached.jti == claims.jti
    expired, _ = issue_token(SECRET, OPERATOR, ttl=timedelta(hours=1), now=issued - timedelta(1))
    assert _code(verifier, f"Bearer {expired}") == "TOKEN_EXPIRED"
    while cached.expires_at > utcnow():
        time.sleep(0.05)
    assert _code(verifier, f"Bearer {token}") == "TOKEN_EXPIRED"


def test_the_cache_of_verified_tokens_is_bounded() -> None:
    verifier = TokenVerifier(SECRET, max_entries=3)
    tokens = [issue_token(SECRET, OPERATOR, ttl=timedelta(hours=1))[0] for _ in range(10)]
    for token in tokens:
        verifier.verify(token)
    assert len(verifier._good) == 3
    assert all(t in verifier._good for t in tokens[-3:])
