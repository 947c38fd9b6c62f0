"""How a simulated operator's send reaches the intake: the same HTTP requests real clients make."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from deskpemilu.simulator.plan import Send
from services.intake.parser import format_compact
from services.intake.signatures import sms_signature, whatsapp_signature


@dataclass(frozen=True)
class ChannelSecrets:
    """What the simulator needs to sign webhooks like Meta and the SMS gateway do."""

    whatsapp_app_secret: str
    sms_auth_token: str


@dataclass
class Outcome:
    """The intake's answer to one request (a batch counts as one request)."""

    status: int
    retry_after_s: float | None
    items: int


def whatsapp_payload(send: Send, phone: str) -> bytes:
    """A Cloud API webhook body carrying one text message from the operator's phone."""
    message = {
        "from": phone,
        "id": f"wamid.{send.idempotency_key}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": format_compact(send.form)},
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "desk-pemilu-sim",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"phone_number_id": "sim"},
                            "contacts": [{"wa_id": phone, "profile": {"name": send.operator.id}}],
                            "messages": [message],
                        },
                    }
                ],
            }
        ],
    }
    return orjson.dumps(body)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def send_api(client: httpx.AsyncClient, token: str, send: Send) -> Outcome:
    """POST one form as the mobile app does, with its Idempotency-Key."""
    response = await client.post(
        "/v1/submissions",
        content=send.form.model_dump_json(exclude_none=True),
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": send.idempotency_key,
            "Content-Type": "application/json",
        },
    )
    return Outcome(response.status_code, _retry_after(response), 1)


async def send_batch(client: httpx.AsyncClient, token: str, sends: Sequence[Send]) -> Outcome:
    """POST several forms of one operator in one request; 207 means every item got its answer."""
    body: dict[str, Any] = {
        "items": [
            {
                "idempotency_key": s.idempotency_key,
                "form": s.form.model_dump(mode="json", exclude_none=True),
            }
            for s in sends
        ]
    }
    response = await client.post(
        "/v1/submissions/batch",
        content=orjson.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    status = response.status_code
    if status == 207:
        item_status = {r["status"] for r in response.json()["results"]}
        # Any item not stored means: send the batch again (item keys make it harmless).
        status = 202 if item_status <= {202} else max(item_status)
    return Outcome(status, _retry_after(response), len(sends))


async def send_whatsapp(
    client: httpx.AsyncClient, secrets: ChannelSecrets, phone: str, send: Send
) -> Outcome:
    """POST the webhook Meta would send for the operator's WhatsApp message, signed."""
    body = whatsapp_payload(send, phone)
    response = await client.post(
        "/v1/webhooks/whatsapp",
        content=body,
        headers={
            "X-Hub-Signature-256": whatsapp_signature(secrets.whatsapp_app_secret, body),
            "Content-Type": "application/json",
        },
    )
    if response.status_code == 200 and not response.json().get("published"):
        # Not stored (e.g. too many messages): the operator's reply says to resend later.
        return Outcome(429, None, 1)
    return Outcome(202 if response.status_code == 200 else response.status_code,
                   _retry_after(response), 1)  # fmt: skip


async def send_sms(
    client: httpx.AsyncClient, secrets: ChannelSecrets, phone: str, send: Send
) -> Outcome:
    """POST the form-encoded request an SMS gateway would send, with its signature."""
    params = {
        "From": f"+{phone}",
        "Body": format_compact(send.form),
        "MessageSid": f"SM{send.idempotency_key}",
    }
    url = str(client.base_url.join("/v1/webhooks/sms"))
    response = await client.post(
        "/v1/webhooks/sms",
        data=params,
        headers={"X-Twilio-Signature": sms_signature(secrets.sms_auth_token, url, params.items())},
    )
    if response.status_code == 200 and response.headers.get("X-Deskpemilu-Published") != "1":
        # Not stored (e.g. too many messages): the operator's reply says to resend later.
        return Outcome(429, None, 1)
    return Outcome(202 if response.status_code == 200 else response.status_code,
                   _retry_after(response), 1)  # fmt: skip
