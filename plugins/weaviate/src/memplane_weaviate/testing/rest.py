"""The REST half of the loopback server: meta, readiness, schema, properties, tenants."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from memplane_weaviate.testing.state import Database, WeaviateError

VERSION = "1.32.0"
_CLASS = r"/v1/schema/(?P<cls>[^/]+)"


def make_handler(
    db: Database, record: Callable[[str, Any], None], api_key: str | None
) -> type[BaseHTTPRequestHandler]:
    routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = []

    def route(method: str, pattern: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            routes.append((method, re.compile(f"^{pattern}$"), fn))
            return fn
        return register

    @route("GET", "/v1/meta")
    def meta(body: Any) -> tuple[int, Any]:
        return 200, {"hostname": "http://127.0.0.1", "version": VERSION, "modules": {},
                     "grpcMaxMessageSize": 104858000}

    @route("GET", "/v1/.well-known/ready")
    @route("GET", "/v1/.well-known/live")
    def ready(body: Any) -> tuple[int, Any]:
        return 200, None

    @route("GET", "/v1/.well-known/openid-configuration")
    def oidc(body: Any) -> tuple[int, Any]:
        return 404, None

    @route("GET", "/v1/schema")
    def schema(body: Any) -> tuple[int, Any]:
        return 200, {"classes": [c.schema for c in db.collections.values()]}

    @route("POST", "/v1/schema")
    def create(body: Any) -> tuple[int, Any]:
        return 200, db.create_collection(body)

    @route("GET", _CLASS)
    def get_class(body: Any, cls: str) -> tuple[int, Any]:
        return 200, db.get(cls).schema

    @route("DELETE", _CLASS)
    def delete_class(body: Any, cls: str) -> tuple[int, Any]:
        db.delete_collection(cls)
        return 200, None

    @route("POST", _CLASS + "/properties")
    def add_property(body: Any, cls: str) -> tuple[int, Any]:
        return 200, db.add_property(cls, body)

    @route("GET", _CLASS + "/tenants")
    def tenants(body: Any, cls: str) -> tuple[int, Any]:
        coll = db.get(cls)
        return 200, [{"name": t, "activityStatus": "HOT"} for t in sorted(coll.tenants)]

    @route("POST", _CLASS + "/tenants")
    def add_tenants(body: Any, cls: str) -> tuple[int, Any]:
        if not isinstance(body, list):
            raise WeaviateError("tenants must be a list")
        db.add_tenants(cls, [t["name"] for t in body])
        return 200, body

    @route("GET", _CLASS + "/tenants/(?P<tenant>[^/]+)")
    @route("HEAD", _CLASS + "/tenants/(?P<tenant>[^/]+)")
    def one_tenant(body: Any, cls: str, tenant: str) -> tuple[int, Any]:
        if tenant not in db.get(cls).tenants:
            return 404, None
        return 200, {"name": tenant, "activityStatus": "HOT"}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            path = urlsplit(self.path).path
            record(f"{method} {path}", {"body": body,
                                           "headers": {k.lower(): v for k, v in self.headers.items()}})
            public = path.startswith("/v1/.well-known/")
            if api_key is not None and not public and \
                    self.headers.get("Authorization") != f"Bearer {api_key}":
                self._send(401, {"error": [{"message": "unauthorized: bad or missing API key"}]})
                return
            for verb, pattern, fn in routes:
                match = pattern.match(path)
                if verb == method and match:
                    try:
                        with db.lock:
                            status, payload = fn(
                                body, **{k: unquote(v) for k, v in match.groupdict().items()}
                            )
                    except WeaviateError as exc:
                        status, payload = exc.status, {"error": [{"message": str(exc)}]}
                    self._send(status, payload)
                    return
            self._send(404, {"error": [{"message": f"no route for {method} {path}"}]})

        def _send(self, status: int, payload: Any) -> None:
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def do_HEAD(self) -> None:
            self._serve("HEAD")

    return Handler
