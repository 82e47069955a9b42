"""The app a live test server runs: create_app with a scripted LLM whose replies are
queued by the test process over loopback HTTP, so every uvicorn worker shares one
script (decisions must reach whichever worker handles the add).

Started as ``python -m uvicorn live_app:make_app --factory --workers 2``.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI

from memplane.async_memory import AsyncMemory
from memplane.llms.scripted import ScriptedLLM
from memplane.models import ChatMessage
from memplane.providers.base import LLMResponse, ProviderConfig
from memplane_server.app import create_app
from memplane_server.settings import ServerSettings

SCRIPT_URL_ENV = "MEMPLANE_TEST_SCRIPT_URL"


class RemoteScriptedLLM(ScriptedLLM):
    """The scripted LLM, taking each reply from the test's script server first."""

    def __init__(self, config: ProviderConfig | Mapping[str, Any] | None = None, *,
                 script_url: str, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.script_url = script_url

    def generate(self, messages: Sequence[ChatMessage], *, json_schema: dict[str, Any] | None = None,
                 schema_name: str = "response", max_tokens: int | None = None) -> LLMResponse:
        with urllib.request.urlopen(self.script_url + "/next", timeout=10) as response:
            reply = json.loads(response.read())["reply"]
        if reply is not None:
            self.queue(reply)
        return super().generate(messages, json_schema=json_schema, schema_name=schema_name,
                                max_tokens=max_tokens)


def make_app() -> FastAPI:
    settings = ServerSettings.from_env()
    llm = RemoteScriptedLLM(script_url=os.environ[SCRIPT_URL_ENV])
    memory = AsyncMemory(settings.memory_config, llm=llm)
    return create_app(settings, memory=memory)
