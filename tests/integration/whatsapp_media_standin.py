"""A local stand-in for the WhatsApp Cloud API: messages (POST) and media (GET), real JPEGs."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.integration.test_intake_app import FakeGraph

ACCESS_TOKEN = "test-graph-token"


class MediaGraph(FakeGraph):
    """FakeGraph plus media: `media[id] = bytes`; GETs without the access token get 401."""

    media: dict[str, bytes]
    media_gets: list[str]


@contextlib.contextmanager
def media_graph() -> Iterator[MediaGraph]:
    graph = MediaGraph()
    graph.media = {}
    graph.media_gets = []

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            graph.media_gets.append(self.path)
            if self.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
                self._send(401, b'{"error":{"message":"bad token"}}', "application/json")
                return
            port = graph.server.server_address[1] if graph.server else 0
            if self.path.startswith("/v21.0/"):
                media_id = self.path.removeprefix("/v21.0/")
                if media_id not in graph.media:
                    self._send(404, b'{"error":{"message":"unknown media"}}', "application/json")
                    return
                body = json.dumps(
                    {
                        "messaging_product": "whatsapp",
                        "url": f"http://127.0.0.1:{port}/lookaside/{media_id}",
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
            graph.received.append(json.loads(self.rfile.read(length)))
            self._send(
                200,
                b'{"messaging_product":"whatsapp","messages":[{"id":"wamid.reply"}]}',
                "application/json",
            )

        def log_message(self, format: str, *args: Any) -> None:
            pass

    graph.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=graph.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield graph
    finally:
        graph.server.shutdown()
        graph.server.server_close()


def image_payload(
    phone: str, media_id: str, caption: str | None, message_id: str
) -> dict[str, Any]:
    """A Meta webhook payload carrying one image message."""
    image: dict[str, Any] = {"id": media_id, "mime_type": "image/jpeg", "sha256": "x"}
    if caption is not None:
        image["caption"] = caption
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
                            "metadata": {"phone_number_id": "106540352242922"},
                            "messages": [
                                {
                                    "from": phone,
                                    "id": message_id,
                                    "timestamp": "1707890000",
                                    "type": "image",
                                    "image": image,
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
