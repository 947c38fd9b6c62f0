"""The operator app's sign-in link and its QR code (`deskpemilu operators token <id> --link`)."""

from __future__ import annotations

import io
import os

import segno


def default_base_url() -> str:
    """The local intake (INTAKE_PORT); phones need the address they reach it at (--base-url)."""
    return f"http://127.0.0.1:{os.environ.get('INTAKE_PORT', '8001')}"


def app_link(base_url: str, token: str) -> str:
    """The app's address with the token in the fragment: it never reaches a server log, and
    the app takes it out of the address bar at once."""
    return f"{base_url.rstrip('/')}/app/#token={token}"


def qr_text(link: str) -> str:
    """The link as a QR code drawn with block characters, for a terminal (scan it off screen)."""
    out = io.StringIO()
    segno.make(link, error="l").terminal(out=out, compact=True, border=2)
    return out.getvalue()
