"""A real memplane server on loopback for the inspector and metrics tests.

uvicorn serves the app from a thread on a socket bound to 127.0.0.1 port 0, so
tests talk real HTTP to it. Keys come from the server's key store; the single
place that creates them is :func:`LiveServer.key`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from memplane_server.app import create_app
from memplane_server.settings import ServerSettings


def embedded_config(directory: Path) -> dict[str, object]:
    """The embedded stack: sqlite file, hashing embedder, rules LLM."""
    return {
        "llm": "rules",
        "embedder": "hashing",
        "vector_store": {"provider": "sqlite", "config": {"path": str(directory / "memories.db")}},
    }


@dataclass
class LiveServer:
    url: str
    settings: ServerSettings

    def key(self, *, user_id: str | None = None, admin: bool = False) -> str:
        from memplane_server.keys import create_key

        return create_key(self.settings.keys_db, user_id=user_id, admin=admin)


@contextmanager
def live_server(directory: Path) -> Iterator[LiveServer]:
    settings = ServerSettings(memory_config=embedded_config(directory),
                              keys_db=directory / "keys.db")
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
