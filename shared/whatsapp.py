"""The one WhatsApp Cloud API client: a text to one number (the intake's replies, desk alerts).

Meta's Graph API: POST {api_base}/{phone_number_id}/messages with a bearer access token. The
caller decides about queues and retries; this only sends and returns Meta's answer.
"""

from __future__ import annotations

import httpx
from pydantic import SecretStr

MAX_TEXT_CHARS = 4096  # Meta's limit for a text message body


class WhatsAppClient:
    """Sends texts through the WhatsApp Cloud API with one pooled httpx client."""

    def __init__(
        self,
        *,
        api_base: str,
        phone_number_id: str,
        access_token: SecretStr | None,
        timeout_s: float,
    ) -> None:
        self._url = f"{api_base.rstrip('/')}/{phone_number_id}/messages"
        self._headers = (
            {"Authorization": f"Bearer {access_token.get_secret_value()}"}
            if access_token is not None
            else {}
        )
        self.http = httpx.AsyncClient(timeout=timeout_s)

    async def send_text(self, to: str, body: str) -> httpx.Response:
        """Send one text; raises httpx.HTTPError when Meta cannot be reached."""
        return await self.http.post(
            self._url,
            headers=self._headers,
            json={
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "text",
                "text": {"preview_url": False, "body": body[:MAX_TEXT_CHARS]},
            },
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()
