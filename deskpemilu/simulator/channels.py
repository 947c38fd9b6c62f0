"""How a simulated operator's send reaches the intake: the same HTTP requests real clients make."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from deskpemilu.simulator.plan import Send
from services.intake.parser import format_compact
from services.intake.signatures import sms_signature, whatsapp_signature
from shared.events import Channel


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


@dataclass(frozen=True)
class Prepared:
    """One send rendered as the request a real client makes: rendered once, sent as often as
    it takes (a retry is the same request), by httpx or by the lean client."""

    channel: Channel
    path: str
    headers: dict[str, str]
    body: bytes
    items: int


def prepare(
    group: Sequence[Send], *, token: str, phone: str | None, secrets: ChannelSecrets, base_url: str
) -> Prepared:
    """The request for a group of sends: a batch of one operator's forms, or one form by the
    app, by WhatsApp (signed like Meta signs) or by SMS (signed like the gateway signs)."""
    first = group[0]
    if first.channel is Channel.BATCH:
        body: dict[str, Any] = {
            "items": [
                {
                    "idempotency_key": s.idempotency_key,
                    "form": s.form.model_dump(mode="json", exclude_none=True),
                }
                for s in group
            ]
        }
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        return Prepared(first.channel, "/v1/submissions/batch", headers, orjson.dumps(body),
                        len(group))  # fmt: skip
    if first.channel is Channel.WHATSAPP:
        assert phone is not None, f"{first.operator.id} has no WhatsApp number"
        payload = whatsapp_payload(first, phone)
        headers = {
            "X-Hub-Signature-256": whatsapp_signature(secrets.whatsapp_app_secret, payload),
            "Content-Type": "application/json",
        }
        return Prepared(first.channel, "/v1/webhooks/whatsapp", headers, payload, 1)
    if first.channel is Channel.SMS:
        assert phone is not None, f"{first.operator.id} has no phone number"
        params = {
            "From": f"+{phone}",
            "Body": format_compact(first.form),
            "MessageSid": f"SM{first.idempotency_key}",
        }
        path = "/v1/webhooks/sms"
        url = base_url.rstrip("/") + path
        headers = {
            "X-Twilio-Signature": sms_signature(secrets.sms_auth_token, url, params.items()),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return Prepared(first.channel, path, headers, urlencode(params).encode(), 1)
    headers = {
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": first.idempotency_key,
        "Content-Type": "application/json",
    }
    body_json = first.form.model_dump_json(exclude_none=True).encode()
    return Prepared(first.channel, "/v1/submissions", headers, body_json, 1)


def outcome(
    prepared: Prepared, status: int, header: Callable[[str], str | None], body: bytes
) -> Outcome:
    """What the intake's answer means for the sender: stored (202), wait and resend (429, 503),
    or refused. `header` looks up an answer header by its lower-case name."""
    retry_after = _seconds(header("retry-after"))
    if prepared.channel is Channel.BATCH:
        if status == 207:
            item_status = {r["status"] for r in orjson.loads(body)["results"]}
            # Any item not stored means: send the batch again (item keys make it harmless).
            status = 202 if item_status <= {202} else max(item_status)
        return Outcome(status, retry_after, prepared.items)
    if prepared.channel is Channel.WHATSAPP:
        if status == 200 and not orjson.loads(body).get("published"):
            # Not stored (e.g. too many messages): the operator's reply says to resend later.
            return Outcome(429, None, 1)
        return Outcome(202 if status == 200 else status, retry_after, 1)
    if prepared.channel is Channel.SMS:
        if status == 200 and header("x-deskpemilu-published") != "1":
            # Not stored (e.g. too many messages): the operator's reply says to resend later.
            return Outcome(429, None, 1)
        return Outcome(202 if status == 200 else status, retry_after, 1)
    return Outcome(status, retry_after, 1)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def send_httpx(client: httpx.AsyncClient, prepared: Prepared) -> Outcome:
    """Send a prepared request with httpx (the simulator's default client)."""
    response = await client.post(prepared.path, content=prepared.body, headers=prepared.headers)
    return outcome(prepared, response.status_code, response.headers.get, response.content)
