"""The published schema (docs/openapi.json) is what the app serves."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from support import Live

from memplane_server.openapi import render

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_published_schema_matches_the_app() -> None:
    assert PUBLISHED.read_text(encoding="utf-8") == render(), (
        "docs/openapi.json is stale: regenerate it with "
        "`python -m memplane_server.openapi > docs/openapi.json`")


def test_live_server_serves_the_published_schema(live: Live) -> None:
    served = httpx.get(live.url + "/openapi.json").json()
    assert served == json.loads(PUBLISHED.read_text(encoding="utf-8"))


def test_health(live: Live) -> None:
    assert httpx.get(live.url + "/healthz").json() == {"status": "ok", "detail": {}}
    ready = httpx.get(live.url + "/readyz").json()
    assert ready["status"] == "ready" and ready["detail"]["vector_store"] == "sqlite"
