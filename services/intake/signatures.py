"""Webhook signatures: Meta's X-Hub-Signature-256 and the SMS gateway's X-Twilio-Signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def whatsapp_signature(app_secret: str, body: bytes) -> str:
    """The header value Meta sends: 'sha256=' + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def whatsapp_signature_ok(app_secret: str, body: bytes, header: str | None) -> bool:
    """True when the header matches the body, compared in constant time."""
    if not header:
        return False
    return hmac.compare_digest(whatsapp_signature(app_secret, body), header.strip())


def sms_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """base64 HMAC-SHA1 of the full URL followed by each POST key and value, sorted by key."""
    payload = url + "".join(k + v for k, v in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def sms_signature_ok(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], header: str | None
) -> bool:
    """True when the gateway's signature matches, compared in constant time."""
    if not header:
        return False
    return hmac.compare_digest(sms_signature(auth_token, url, params), header.strip())
