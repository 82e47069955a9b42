"""Prometheus metrics: ``GET /metrics``, HTTP request metrics and provider-call metrics.

- ``memplane_http_requests_total`` / ``memplane_http_request_duration_seconds``, labelled
  by method, route *template* (``/v1/memories/{memory_id}``, never the raw path: ids and
  an attacker's random URLs must not mint new time series) and status;
- ``memplane_provider_call_duration_seconds`` by kind, provider, method and outcome,
  and ``memplane_llm_tokens_total`` by provider and type, recorded by the hook plugin
  :data:`provider_metrics` that the app registers on its Memory's PluginManager.

Import fails without ``prometheus-client`` (``pip install memplane-server[metrics]``);
the app factory treats that as "no metrics".
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memplane.plugins.hooks import hookimpl
from memplane.providers.base import LLMResponse

#: where the series live; the default registry also carries the process collectors.
registry: CollectorRegistry = REGISTRY

#: the route label of a request no route matched (404s, scanners).
UNMATCHED = "<unmatched>"

# Latency buckets from 1 ms (an embedded store read) to 60 s (a slow LLM).
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "memplane_http_requests", "HTTP requests served", ("method", "route", "status"),
    registry=registry,
)
HTTP_LATENCY = Histogram(
    "memplane_http_request_duration_seconds", "HTTP request latency (until the last body byte)",
    ("method", "route", "status"), buckets=_BUCKETS, registry=registry,
)
PROVIDER_LATENCY = Histogram(
    "memplane_provider_call_duration_seconds", "Provider call latency",
    ("kind", "provider", "method", "outcome"), buckets=_BUCKETS, registry=registry,
)
LLM_TOKENS = Counter(
    "memplane_llm_tokens", "LLM tokens as reported by the provider",
    ("provider", "type"), registry=registry,
)

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")  # set by the router on a match, on this same scope dict
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class MetricsMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware): streamed bodies such as the NDJSON export
    pass through untouched, and the latency covers the whole body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before responding
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            labels = (scope["method"], _route_template(scope), str(status))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_LATENCY.labels(*labels).observe(time.perf_counter() - start)


def instrument_app(app: FastAPI) -> None:
    """Record every HTTP request of ``app`` (call once, before it serves)."""
    app.add_middleware(MetricsMiddleware)


def _provider_name(provider: Any) -> str:
    return str(getattr(provider, "name", "") or type(provider).__name__)


def _record_tokens(provider: str, result: Any) -> None:
    if isinstance(result, LLMResponse):
        LLM_TOKENS.labels(provider, "prompt").inc(result.usage.prompt_tokens)
        LLM_TOKENS.labels(provider, "completion").inc(result.usage.completion_tokens)


class ProviderMetrics:
    """memplane hook plugin: times every provider call and counts LLM tokens."""

    @hookimpl
    def memplane_wrap_call(
        self, kind: str, method: str, provider: Any, call: Callable[..., Any]
    ) -> Callable[..., Any] | None:
        name = _provider_name(provider)
        # "aembed" and "embed" are one operation; the label says which, not how.
        op = method[1:] if method.startswith("a") and hasattr(provider, method[1:]) else method
        observe = PROVIDER_LATENCY.labels

        if inspect.iscoroutinefunction(call):
            @functools.wraps(call)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                start, outcome = time.perf_counter(), "error"
                try:
                    result = await call(*args, **kwargs)
                    outcome = "ok"
                finally:
                    observe(kind, name, op, outcome).observe(time.perf_counter() - start)
                if kind == "llms":
                    _record_tokens(name, result)
                return result

            return timed_async

        @functools.wraps(call)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start, outcome = time.perf_counter(), "error"
            try:
                result = call(*args, **kwargs)
                outcome = "ok"
            finally:
                observe(kind, name, op, outcome).observe(time.perf_counter() - start)
            if kind == "llms":
                _record_tokens(name, result)
            return result

        return timed


#: the plugin instance to register: ``plugins.register(provider_metrics, name=...)``.
provider_metrics = ProviderMetrics()
