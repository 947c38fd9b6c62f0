"""A stand-in for KPU's object store: serves a folder over HTTP on a free port, in a thread."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Handler(SimpleHTTPRequestHandler):
    failing: frozenset[str] = frozenset()
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        if self.path in self.failing:
            self.send_error(503, "overloaded")
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextmanager
def serve_folder(
    folder: Path, failing: frozenset[str] = frozenset()
) -> Iterator[tuple[str, list[str]]]:
    """(base URL, paths requested so far); paths in `failing` always answer 503."""
    requests: list[str] = []
    handler = type("Handler", (_Handler,), {"failing": failing, "requests": requests})
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
