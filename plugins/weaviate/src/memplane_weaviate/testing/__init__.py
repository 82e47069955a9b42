"""A loopback Weaviate for tests: REST and gRPC on 127.0.0.1, ephemeral ports.

It speaks the wire protocol weaviate-client v4 uses (REST for meta, schema and
tenants; gRPC from the stubs inside weaviate-client for search, batch writes, batch
deletes, tenant listing and counts) with real semantics over in-memory storage, and
records every request so tests can check what the plugin sent::

    with WeaviateLoopback() as server:
        store = WeaviateVectorStore(server.store_config(collection="Memories"))
        ...
        assert server.calls("Search")

Unsupported requests are refused loudly (an error, never a silent empty answer).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from memplane_weaviate.testing.state import Database

__all__ = ["RecordedCall", "WeaviateLoopback", "live_config"]

_CLOUD_SUFFIXES = (".weaviate.cloud", ".weaviate.network", ".wcs.api.weaviate.io")


def live_config(**extra: Any) -> dict[str, Any] | None:
    """A store config for the server in ``WEAVIATE_URL`` (with ``WEAVIATE_API_KEY``;
    ``WEAVIATE_GRPC_HOST`` / ``WEAVIATE_GRPC_PORT`` override the gRPC address), or
    None when ``WEAVIATE_URL`` is not set."""
    import os
    from urllib.parse import urlsplit

    url = os.environ.get("WEAVIATE_URL")
    if not url:
        return None
    parts = urlsplit(url if "://" in url else f"https://{url}")
    host = parts.hostname or "localhost"
    config: dict[str, Any]
    if host.endswith(_CLOUD_SUFFIXES):
        config = {"mode": "cloud", "cluster_url": url}
    else:
        secure = parts.scheme == "https"
        config = {
            "mode": "custom", "http_host": host, "http_port": parts.port or (443 if secure else 80),
            "http_secure": secure, "grpc_host": os.environ.get("WEAVIATE_GRPC_HOST", host),
            "grpc_port": int(os.environ.get("WEAVIATE_GRPC_PORT", "50051")),
            "grpc_secure": secure,
        }
    if os.environ.get("WEAVIATE_API_KEY"):
        config["api_key"] = os.environ["WEAVIATE_API_KEY"]
    config.update(extra)
    return config


@dataclass
class RecordedCall:
    """One request the server received: ``name`` is ``"GET /v1/schema"`` or a gRPC
    method (``"Search"``); ``request`` the parsed body or the protobuf message;
    ``metadata`` the HTTP headers (lower-case names)."""

    name: str
    request: Any
    metadata: dict[str, str]


class WeaviateLoopback:
    """Start with ``with`` (or :meth:`start`); stops by itself on exit."""

    def __init__(self, *, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.db = Database()
        self.received: list[RecordedCall] = []
        self._lock = threading.Lock()
        self._http: ThreadingHTTPServer | None = None
        self._grpc: Any = None
        self.http_port = 0
        self.grpc_port = 0

    # --- lifecycle ----------------------------------------------------------------
    def start(self) -> WeaviateLoopback:
        import grpc
        from weaviate.proto.v1 import weaviate_pb2_grpc

        from memplane_weaviate.testing.grpc_api import HealthServicer, WeaviateServicer
        from memplane_weaviate.testing.rest import make_handler

        self._http = ThreadingHTTPServer(
            ("127.0.0.1", 0), make_handler(self.db, self._record_rest, self.api_key)
        )
        self._http.daemon_threads = True
        self.http_port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

        interceptors = [_AuthInterceptor(self.api_key)] if self.api_key else []
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                                 interceptors=interceptors)
        weaviate_pb2_grpc.add_WeaviateServicer_to_server(
            WeaviateServicer(self.db, self._record_grpc), self._grpc
        )
        self._grpc.add_generic_rpc_handlers((HealthServicer.handler(),))
        self.grpc_port = self._grpc.add_insecure_port("127.0.0.1:0")
        self._grpc.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._grpc is not None:
            self._grpc.stop(grace=None)
            self._grpc = None

    def __enter__(self) -> WeaviateLoopback:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests use -----------------------------------------------------------
    def store_config(self, **extra: Any) -> dict[str, Any]:
        """A ``weaviate`` vector-store config block pointing at this server."""
        config: dict[str, Any] = {
            "mode": "custom", "http_host": "127.0.0.1", "http_port": self.http_port,
            "grpc_host": "127.0.0.1", "grpc_port": self.grpc_port,
        }
        if self.api_key:
            config["api_key"] = self.api_key
        config.update(extra)
        return config

    def refuse_objects(self, match: Callable[[dict[str, Any]], bool] | None,
                       message: str = "injected failure") -> None:
        """Fault injection: batch writes refuse (per object, as Weaviate reports
        partial failures) every object whose properties ``match``; None clears it."""
        self.db.refuse = None if match is None else (match, message)

    def calls(self, name: str | None = None) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self.received if name is None or c.name == name]

    def _record_rest(self, name: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(RecordedCall(name, payload["body"], payload["headers"]))

    def _record_grpc(self, name: str, request: Any) -> None:
        with self._lock:
            self.received.append(RecordedCall(name, request, {}))


class _AuthInterceptor:
    """Refuses gRPC calls without ``authorization: Bearer <api_key>`` (the health check,
    like Weaviate's, needs none)."""

    def __new__(cls, api_key: str | None) -> Any:
        import grpc

        class Interceptor(grpc.ServerInterceptor):
            def intercept_service(self, continuation: Any, details: Any) -> Any:
                metadata = dict(details.invocation_metadata)
                if details.method.startswith("/grpc.health.v1.") or \
                        metadata.get("authorization") == f"Bearer {api_key}":
                    return continuation(details)

                def deny(request: Any, context: Any) -> Any:
                    context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad or missing API key")

                return grpc.unary_unary_rpc_method_handler(deny)

        return Interceptor()
