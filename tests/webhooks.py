"""The outside side of the intake's webhooks, for tests: signed requests, payloads, a stand-in.

- `whatsapp_signature` / `sms_signature` sign as Meta (X-Hub-Signature-256) and the SMS gateway
  (X-Twilio-Signature) document it, computed here and not with services/intake/signatures.py,
  so that a drift in the intake's own check fails the tests; `post_whatsapp` / `post_sms` send
  a signed webhook.
- `whatsapp_payload` / `image_payload`: the bodies Meta posts for a text and an image message.
- `graph_stand_in()` (the `fake_graph` fixture in tests/conftest.py): a local HTTP server
  standing in for the WhatsApp Cloud API (messages POSTed, media served by GET with the access
  token) and the SMS gateway's API, recording what the intake sent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

WA_SECRET = "test-whatsapp-app-secret"
SMS_TOKEN = "test-sms-auth-token"
ACCESS_TOKEN = "test-graph-token"  # what the stand-in wants on media GETs
PHONE_NUMBER_ID = "106540352242922"
WHATSAPP_PATH = "/v1/webhooks/whatsapp"
SMS_PATH = "/v1/webhooks/sms"


def whatsapp_signature(secret: str, body: bytes) -> str:
    """X-Hub-Signature-256 of a body: "sha256=" + HMAC-SHA256 with the app secret, in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sms_signature(token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL, then each sorted param's key and value."""
    payload = url + "".join(k + v for k, v in sorted(params.items()))
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


async def post_whatsapp(
    client: httpx.AsyncClient, payload: dict[str, Any], secret: str = WA_SECRET
) -> httpx.Response:
    """POST a webhook body as Meta does, signed with the app secret."""
    body = json.dumps(payload).encode()
    return await client.post(
        WHATSAPP_PATH,
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": whatsapp_signature(secret, body),
        },
    )


async def post_sms(
    client: httpx.AsyncClient, url: str, params: dict[str, str], token: str = SMS_TOKEN
) -> httpx.Response:
    """POST a form-encoded SMS webhook as the gateway does, signed for the public `url`."""
    return await client.post(
        SMS_PATH, data=params, headers={"X-Twilio-Signature": sms_signature(token, url, params)}
    )


def _message_payload(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"phone_number_id": PHONE_NUMBER_ID},
                            "messages": [message],
                        },
                    }
                ],
            }
        ],
    }


def whatsapp_payload(phone: str, text: str, message_id: str | None = None) -> dict[str, Any]:
    """A Meta webhook payload carrying one text message (a fresh message id when None)."""
    return _message_payload(
        {
            "from": phone,
            "id": message_id or f"wamid.{uuid.uuid4().hex}",
            "timestamp": str(int(time.time())),
            "type": "text",
            "text": {"body": text},
        }
    )


def image_payload(
    phone: str, media_id: str, caption: str | None, message_id: str
) -> dict[str, Any]:
    """A Meta webhook payload carrying one image message."""
    image: dict[str, Any] = {"id": media_id, "mime_type": "image/jpeg", "sha256": "x"}
    if caption is not None:
        image["caption"] = caption
    return _message_payload(
        {
            "from": phone,
            "id": message_id,
            "timestamp": "1707890000",
            "type": "image",
            "image": image,
        }
    )


@dataclass
class FakeGraph:
    """What the stand-in Cloud API and SMS gateway got; `media[id] = bytes` is served by GET."""

    received: list[dict[str, Any]] = field(default_factory=list)  # WhatsApp messages sent
    paths: list[str] = field(default_factory=list)  # every POST's path
    sms: list[dict[str, str]] = field(default_factory=list)  # SMS sent, form fields
    sms_auth: list[str] = field(default_factory=list)  # their Authorization headers
    media: dict[str, bytes] = field(default_factory=dict)
    media_gets: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v21.0"

    @property
    def sms_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/2010-04-01"

    def texts_to(self, phone: str) -> list[str]:
        whatsapp = [m["text"]["body"] for m in self.received if m.get("to") == phone]
        return whatsapp + [m["Body"] for m in self.sms if m.get("To") == "+" + phone]

    async def wait_for_texts(self, phone: str, count: int, timeout_s: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            texts = self.texts_to(phone)
            if len(texts) >= count:
                return texts
            await asyncio.sleep(0.05)
        raise AssertionError(f"fake Graph got {self.texts_to(phone)!r}, wanted {count} texts")


def _handler(graph: FakeGraph) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # the Cloud API's media: metadata, then the bytes
            graph.media_gets.append(self.path)
            if self.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
                self._send(401, b'{"error":{"message":"bad token"}}', "application/json")
                return
            if self.path.startswith("/v21.0/"):
                media_id = self.path.removeprefix("/v21.0/")
                if media_id not in graph.media:
                    self._send(404, b'{"error":{"message":"unknown media"}}', "application/json")
                    return
                body = json.dumps(
                    {
                        "messaging_product": "whatsapp",
                        "url": f"http://127.0.0.1:{graph.port}/lookaside/{media_id}",
                        "mime_type": "image/jpeg",
                        "file_size": len(graph.media[media_id]),
                        "id": media_id,
                    }
                ).encode()
                self._send(200, body, "application/json")
            elif self.path.startswith("/lookaside/"):
                data = graph.media.get(self.path.removeprefix("/lookaside/"))
                if data is None:
                    self._send(404, b"", "text/plain")
                else:
                    self._send(200, data, "image/jpeg")
            else:
                self._send(404, b"", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            graph.paths.append(self.path)
            raw = self.rfile.read(length)
            if self.path.endswith("/Messages.json"):  # the SMS gateway: form-encoded, basic auth
                graph.sms.append(dict(urllib.parse.parse_qsl(raw.decode())))
                graph.sms_auth.append(self.headers.get("Authorization", ""))
                body = b'{"sid":"SMreply","status":"queued"}'
            else:
                graph.received.append(json.loads(raw))
                body = b'{"messaging_product":"whatsapp","messages":[{"id":"wamid.reply"}]}'
            self._send(200, body, "application/json")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def graph_stand_in() -> Iterator[FakeGraph]:
    """The stand-in Cloud API and SMS gateway on a free port, in a thread, while in the block."""
    graph = FakeGraph()
    graph.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(graph))
    thread = threading.Thread(target=graph.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield graph
    finally:
        graph.server.shutdown()
        graph.server.server_close()
