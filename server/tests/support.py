"""Test plumbing: a script server for the LLM, and real uvicorn servers on loopback
(a subprocess with workers, or a thread for per-test settings)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from memplane.models import Scope
from memplane_server.app import create_app
from memplane_server.db import ServerDB
from memplane_server.keys import KeyStore
from memplane_server.settings import SETTINGS_ENV, ServerSettings

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ScriptServer:
    """Holds queued LLM replies; workers pop them with GET /next."""

    def __init__(self) -> None:
        self.replies: deque[Any] = deque()
        lock = threading.Lock()
        replies = self.replies

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    reply = replies.popleft() if replies else None
                data = json.dumps({"reply": reply}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    # the ScriptedEndpoint protocol, as far as MemoryContract uses it
    def enqueue_structured(self, obj: dict[str, Any]) -> None:
        self.replies.append(dict(obj))

    def enqueue_text(self, text: str) -> None:
        self.replies.append(text)

    def reset(self) -> None:
        self.replies.clear()

    def close(self) -> None:
        self.httpd.shutdown()


def memory_config(tmp: Path) -> dict[str, Any]:
    """The test stack: sqlite store, hashing embedder (no torch), LLM injected by live_app."""
    return {"embedder": {"provider": "hashing", "config": {"dimension": 64}},
            "vector_store": {"provider": "sqlite", "config": {"path": str(tmp / "memory.db")}},
            "llm": "scripted"}


def wait_ready(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


@dataclass
class Live:
    url: str
    settings: ServerSettings
    keys: KeyStore

    def key(self, *scopes: Scope, admin: bool = False) -> str:
        return self.keys.create(scopes=list(scopes), admin=admin)[0]

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"},
                            timeout=30)


@contextmanager
def uvicorn_process(settings: ServerSettings, script: ScriptServer, workers: int,
                    log: Path) -> Iterator[Live]:
    """``python -m uvicorn live_app:make_app --workers N`` on a free loopback port."""
    port = free_port()
    env = {**os.environ, SETTINGS_ENV: settings.to_env(), "MEMPLANE_TEST_SCRIPT_URL": script.url,
           "MEMPLANE_DISABLE_PLUGIN_AUTOLOAD": "1"}
    cmd = [sys.executable, "-m", "uvicorn", "live_app:make_app", "--factory", "--app-dir",
           str(HERE), "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield Live(url=url, settings=settings, keys=KeyStore(ServerDB(settings.keys_db)))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def uvicorn_thread(settings: ServerSettings, memory: Any = None) -> Iterator[Live]:
    """A real uvicorn server in a thread of the test process, for per-test settings."""
    app = create_app(settings, memory=memory)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        yield Live(url=url, settings=settings, keys=KeyStore(ServerDB(settings.keys_db)))
    finally:
        server.should_exit = True
        thread.join(timeout=15)
