"""Fixtures: a loopback Gemini server per test, and an environment without real keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memplane_gemini.testing import GeminiLoopback

CREDENTIAL_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_CLOUD_PROJECT",
                  "GOOGLE_CLOUD_LOCATION", "GOOGLE_GENAI_USE_VERTEXAI")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No real credentials leak into offline tests (live tests read them themselves)."""
    for name in CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def server(clean_env: pytest.MonkeyPatch) -> Iterator[GeminiLoopback]:
    # the `timeout` fault holds a reply 3 s; clients in these tests wait at most 1-2 s
    with GeminiLoopback(slow_seconds=3.0) as loopback:
        yield loopback
