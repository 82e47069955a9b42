"""Prometheus metrics over real HTTP: request series by route template and status,
provider-call latency from the hook plugin, LLM tokens, and bounded label sets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _live_server import LiveServer, live_server
from prometheus_client.parser import text_string_to_metric_families

from memplane.memory import Memory
from memplane.plugins.hooks import PluginManager
from memplane_server.metrics import provider_metrics


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("metrics")) as live:
        yield live


def scrape(server: LiveServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def series(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str) -> list[dict[str, str]]:
    return [dict(labels) for (n, labels) in samples if n == name]


def test_requests_are_counted_by_route_template_and_status(server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {server.key(user_id='metrics-a')}"}
    before = scrape(server)
    with httpx.Client(base_url=server.url, headers=headers) as client:
        added = client.post("/v1/memories", json={"messages": "I like green tea"}).json()
        memory_id = added["events"][0]["id"]
        assert client.get(f"/v1/memories/{memory_id}").status_code == 200
        assert client.get(f"/v1/memories/{uuid.uuid4().hex}").status_code == 404
        assert client.get("/v1/memories/x", headers={"Authorization": "Bearer nope"}).status_code == 401
    after = scrape(server)

    def delta(status: str, route: str = "/v1/memories/{memory_id}") -> float:
        labels = {"method": "GET", "route": route, "status": status}
        return (value(after, "memplane_http_requests_total", **labels)
                - value(before, "memplane_http_requests_total", **labels))

    assert delta("200") == 1
    assert delta("404") == 1
    assert delta("401") == 1
    post = {"method": "POST", "route": "/v1/memories", "status": "200"}
    assert value(after, "memplane_http_request_duration_seconds_count", **post) >= 1
    assert value(after, "memplane_http_request_duration_seconds_sum", **post) > 0
    # the raw id never becomes a label value
    routes = {s.get("route") for s in series(after, "memplane_http_requests_total")}
    assert not any(memory_id in (r or "") for r in routes)


def test_unmatched_paths_share_one_series(server: LiveServer) -> None:
    """A scanner requesting random URLs must not create one time series per URL."""
    for _ in range(5):
        assert httpx.get(f"{server.url}/{uuid.uuid4().hex}/../etc").status_code == 404
    samples = scrape(server)
    routes = {s["route"] for s in series(samples, "memplane_http_requests_total")}
    assert "<unmatched>" in routes
    assert all(r.startswith("/") or r == "<unmatched>" for r in routes)
    assert not any(len(r) >= 32 and "{" not in r for r in routes)
    assert value(samples, "memplane_http_requests_total",
                 method="GET", route="<unmatched>", status="404") >= 5


def test_provider_calls_and_llm_tokens_are_recorded(server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {server.key(user_id='metrics-b')}"}
    before = scrape(server)
    response = httpx.post(f"{server.url}/v1/memories", headers=headers,
                          json={"messages": "I work as a nurse in Lyon"})
    usage = response.json()["usage"]
    after = scrape(server)
    for kind, provider, method in [("llms", "rules", "generate"), ("embedders", "hashing", "embed"),
                                   ("vector_stores", "sqlite", "apply")]:
        labels = {"kind": kind, "provider": provider, "method": method, "outcome": "ok"}
        name = "memplane_provider_call_duration_seconds_count"
        assert value(after, name, **labels) > value(before, name, **labels), (kind, method)
    for kind in ("prompt", "completion"):
        gained = (value(after, "memplane_llm_tokens_total", provider="rules", type=kind)
                  - value(before, "memplane_llm_tokens_total", provider="rules", type=kind))
        assert gained == usage[f"{kind}_tokens"] > 0


def test_a_failing_provider_call_is_labelled_error(tmp_path: Path) -> None:
    """The plugin on a library Memory (no server): a raising LLM is timed as an error
    and the error still reaches the caller unchanged."""
    from memplane.llms.scripted import ScriptedLLM

    plugins = PluginManager(autoload=False)
    plugins.register(provider_metrics, name="metrics")
    llm = ScriptedLLM().queue(RuntimeError("model down"))
    from prometheus_client import REGISTRY

    labels = {"kind": "llms", "provider": "scripted", "method": "generate", "outcome": "error"}
    before = REGISTRY.get_sample_value("memplane_provider_call_duration_seconds_count", labels) or 0
    config = {"embedder": "hashing", "llm": "rules",
              "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "m.db")}}}
    with Memory(config, llm=llm, plugins=plugins) as memory, \
            pytest.raises(RuntimeError, match="model down"):
        memory.add("I like tea", user_id="u")
    after = REGISTRY.get_sample_value("memplane_provider_call_duration_seconds_count", labels)
    assert after == before + 1


def test_metrics_needs_no_key_but_serves_no_memory_text(server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {server.key(user_id='metrics-c')}"}
    secret = f"my locker code is {uuid.uuid4().hex}"
    httpx.post(f"{server.url}/v1/memories", headers=headers, json={"messages": secret, "infer": False})
    body = httpx.get(f"{server.url}/metrics").text
    assert "memplane_http_requests_total" in body
    assert secret.split()[-1] not in body
    assert "metrics-c" not in body  # scopes are not labels


async def test_async_provider_calls_share_the_sync_method_label(tmp_path: Path) -> None:
    """AsyncMemory calls the a-prefixed methods; they are timed under the same name."""
    from prometheus_client import REGISTRY

    from memplane.async_memory import AsyncMemory

    plugins = PluginManager(autoload=False)
    plugins.register(provider_metrics, name="metrics")
    labels = {"kind": "embedders", "provider": "hashing", "method": "embed", "outcome": "ok"}
    name = "memplane_provider_call_duration_seconds_count"
    before = REGISTRY.get_sample_value(name, labels) or 0
    config = {"embedder": "hashing", "llm": "rules",
              "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "a.db")}}}
    memory = AsyncMemory(config, plugins=plugins)
    try:
        await memory.search("tea", user_id="u")
    finally:
        await memory.close()
    assert (REGISTRY.get_sample_value(name, labels) or 0) == before + 1
    assert REGISTRY.get_sample_value(name, {**labels, "method": "aembed"}) is None
