"""A tiny threaded HTTP server on 127.0.0.1 with a FIFO script of replies and faults.

A base for LLM plugins' loopback servers (see :mod:`memplane_conformance.endpoint`):
subclasses speak one provider's wire protocol in :meth:`LoopbackServer.handle`.
The server runs in a daemon thread, stops on context exit, and stops by itself
after ``lifetime`` seconds so a leaked instance never outlives a test run.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from memplane_conformance.endpoint import Fault, RecordedRequest

FAULTS: tuple[Fault, ...] = ("auth", "rate_limit", "server_error", "timeout", "malformed")


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Scripted:
    """One queued item: a reply the model gives, or a fault."""

    kind: str  # "text" | "structured" | "fault" | "raw" (a Reply sent as it is)
    value: Any = None
    retry_after: float | None = None


def json_reply(status: int, obj: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(obj).encode(), {"content-type": "application/json", **(headers or {})})


class Refused(Exception):
    """Answer the request with an error of this status (as the real service would)."""

    def __init__(self, message: str, *, status: int = 401, kind: str = "authentication_error"):
        super().__init__(message)
        self.status = status
        self.kind = kind


class BadRequest(Refused):
    """The request breaks the protocol (or is one the service would refuse): answered
    with an error of this status (400 by default) and kept in ``problems``."""

    def __init__(self, message: str, *, status: int = 400, kind: str = "invalid_request_error") -> None:
        super().__init__(message, status=status, kind=kind)


_WORD = re.compile(r"\w+")


def text_words(text: str) -> list[str]:
    """Lower-cased words, as the loopback servers count tokens and build vectors."""
    return _WORD.findall(text.lower())


def word_vector(text: str, dimension: int, tag: str | None = None, *,
                normalize: bool = True) -> list[float]:
    """A deterministic embedding for loopback servers: a signed bag of words (texts
    sharing words get similar vectors) plus a small component for ``tag`` (a task or
    input type, so queries and documents differ as they do with real models)."""
    vector = [0.0] * dimension
    for word in text_words(text) or [text]:
        index, sign = _bucket(word, "w", dimension)
        vector[index] += sign
    if tag:
        index, sign = _bucket(tag, "t", dimension)
        vector[index] += 0.25 * sign
    if not normalize:
        return vector
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def _bucket(token: str, salt: str, dim: int) -> tuple[int, float]:
    digest = hashlib.sha256(f"{salt}:{token}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % dim, (1.0 if digest[4] & 1 else -1.0)


class LoopbackServer:
    def __init__(self, *, slow_seconds: float = 5.0, lifetime: float = 600.0) -> None:
        self.slow_seconds = slow_seconds
        self.lifetime = lifetime
        #: protocol violations seen, in order (each was answered with a 400)
        self.problems: list[str] = []
        self._script: deque[Scripted] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # wakes handlers simulating a slow model
        self._stopped = threading.Event()  # set once the socket is closed
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    # --- life cycle --------------------------------------------------------------

    def start(self) -> Self:
        server = self
        self._stopping.clear()
        self._stopped.clear()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                server._serve(self)

            def do_GET(self) -> None:
                server._serve(self)

            def do_PUT(self) -> None:
                server._serve(self)

            def do_DELETE(self) -> None:
                server._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers that are simulating a slow model
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        self._stopped.set()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Block until the server has stopped (context exit, ``stop()`` or lifetime)."""
        return self._stopped.wait(timeout)

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the loopback server is not running: use it as a context manager")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- the ScriptedEndpoint script ---------------------------------------------

    def enqueue_text(self, text: str) -> None:
        with self._lock:
            self._script.append(Scripted("text", text))

    def enqueue_structured(self, obj: dict[str, Any]) -> None:
        with self._lock:
            self._script.append(Scripted("structured", obj))

    def enqueue_fault(self, fault: Fault, *, retry_after: float | None = None) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; use one of {FAULTS}")
        with self._lock:
            self._script.append(Scripted("fault", fault, retry_after))

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def pending(self) -> int:
        """Scripted items not consumed yet."""
        with self._lock:
            return len(self._script)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self.problems.clear()

    def enqueue_raw(self, status: int, body: bytes,
                    headers: dict[str, str] | None = None) -> None:
        """The next request, whatever it is, is answered with exactly these bytes
        (no validation, no protocol): for malformed-response tests, see
        :mod:`memplane_conformance.malformed`."""
        with self._lock:
            self._script.append(Scripted("raw", Reply(status, body, dict(headers or {}))))

    def enqueue(self, item: Scripted) -> None:
        """Queue any scripted item (subclasses use it for richer replies)."""
        with self._lock:
            self._script.append(item)

    def next_item(self, *, replies: bool = True) -> Scripted | None:
        """Pop the head of the script: a fault always; a reply only when ``replies``
        (endpoints that compute their answer, like embeddings, leave replies queued)."""
        with self._lock:
            if not self._script:
                return None
            if self._script[0].kind == "fault" or replies:
                return self._script.popleft()
            return None

    # --- serving -----------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body: Any
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        parts = urlsplit(handler.path)
        request = RecordedRequest(
            method=handler.command,
            path=parts.path,
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
            extra={"query": {k: v[-1] for k, v in parse_qs(parts.query).items()},
                   "received_at": time.monotonic(),
                   # exactly as sent, for checks over the bytes (request signatures)
                   "target": handler.path, "raw_body": raw},
        )
        with self._lock:
            self._requests.append(request)
        reply = self._take_raw() or self._handled(request)
        if reply.delay and self._stopping.wait(reply.delay):
            return
        try:
            handler.send_response(reply.status)
            for key, value in reply.headers.items():
                handler.send_header(key, value)
            handler.send_header("content-length", str(len(reply.body)))
            handler.end_headers()
            handler.wfile.write(reply.body)
        except OSError:
            pass  # the client gave up (its timeout): nothing to answer

    def _take_raw(self) -> Reply | None:
        with self._lock:
            if self._script and self._script[0].kind == "raw":
                reply: Reply = self._script.popleft().value
                return reply
        return None

    def _handled(self, request: RecordedRequest) -> Reply:
        try:
            reply = self.handle(request)
        except BadRequest as exc:
            with self._lock:
                self.problems.append(f"{request.method} {request.path}: {exc}")
            request.extra["problem"] = str(exc)
            reply = self.error(exc.status, str(exc), exc.kind)
        except Refused as exc:
            reply = self.error(exc.status, str(exc), exc.kind)
        except Exception as exc:  # a bug in the fake must surface, not hang the client
            reply = self.bad_request(f"loopback server error: {exc!r}")
            reply.status = 500
            reply.headers["x-should-retry"] = "false"
        return reply

    def fault_reply(self, item: Scripted) -> Reply:
        """The generic shape of each fault; subclasses give error bodies their shape."""
        fault = item.value
        if fault == "auth":
            return self.error(401, "invalid x-api-key / bearer token", "authentication_error")
        if fault == "rate_limit":
            reply = self.error(429, "rate limit exceeded", "rate_limit_error")
            if item.retry_after is not None:
                reply.headers["retry-after"] = f"{item.retry_after:g}"
            return reply
        if fault == "server_error":
            return self.error(500, "internal server error", "server_error")
        if fault == "timeout":
            reply = self.error(504, "the model took too long", "timeout")
            reply.delay = self.slow_seconds
            return reply
        # malformed: a 200 whose JSON body is cut off half-way
        return Reply(200, b'{"id": "cut-off", "choices": [{"inde', {"content-type": "application/json"})

    # --- to implement ------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Reply:
        raise NotImplementedError

    def error(self, status: int, message: str, kind: str) -> Reply:
        raise NotImplementedError

    def bad_request(self, message: str) -> Reply:
        return self.error(400, message, "invalid_request_error")
