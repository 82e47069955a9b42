"""Harnesses for core's built-in providers (registered under ``memplane.conformance``).

The ``scripted`` LLM has no wire protocol, so its "endpoint" is in-process: it queues
replies on one :class:`~memplane.llms.scripted.ScriptedLLM` through its public
``queue`` method and reads back its recorded requests. Faults become the typed errors
a real plugin must map its HTTP failures to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from memplane.errors import AuthenticationError, ProviderError, ProviderTimeout, RateLimitError
from memplane.providers.base import LLM
from memplane_conformance.endpoint import Fault, RecordedRequest, ScriptedEndpoint
from memplane_conformance.guard import suite_skip
from memplane_conformance.harness import ProviderHarness

#: override keys the suite passes that the scripted LLM has no setting for: it never
#: retries (so it is bounded by any max_retries) and never waits.
_IGNORED_OVERRIDES = ("max_retries", "timeout")


class ScriptedLLMEndpoint:
    """A :class:`ScriptedEndpoint` over one in-process scripted LLM."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm

    def enqueue_text(self, text: str) -> None:
        self.llm.queue(text)

    def enqueue_structured(self, obj: dict[str, Any]) -> None:
        self.llm.queue(dict(obj))

    def enqueue_fault(self, fault: Fault, *, retry_after: float | None = None) -> None:
        errors: dict[str, BaseException] = {
            "auth": AuthenticationError("scripted: invalid API key", provider="scripted"),
            "rate_limit": RateLimitError("scripted: rate limited", provider="scripted",
                                         retry_after=retry_after),
            "server_error": ProviderError("scripted: server error", provider="scripted",
                                          retryable=True),
            "timeout": ProviderTimeout("scripted: timed out", provider="scripted"),
            "malformed": ProviderError("scripted: unparsable response body", provider="scripted",
                                       retryable=True),
        }
        self.llm.queue(errors[fault])

    @property
    def requests(self) -> list[RecordedRequest]:
        return [
            RecordedRequest(
                method="CALL",
                path="generate",
                headers={},
                body={
                    "messages": [m.model_dump() for m in r.messages],
                    "json_schema": r.json_schema,
                    "schema_name": r.schema_name,
                    "max_tokens": r.max_tokens,
                },
            )
            for r in self.llm.requests
        ]

    def json_schema_of(self, request: RecordedRequest) -> dict[str, Any] | None:
        schema = request.body.get("json_schema") if isinstance(request.body, dict) else None
        return schema if isinstance(schema, dict) else None

    def reset(self) -> None:
        # a new instance: LLMs handed out before a reset are not used afterwards
        self.llm = type(self.llm)(self.llm.config)


class ScriptedHarness(ProviderHarness):
    """``llms.scripted``: one scripted LLM per endpoint; the factory returns it."""

    @contextlib.contextmanager
    def scripted_endpoint(self) -> Iterator[ScriptedEndpoint]:
        yield ScriptedLLMEndpoint(self.provider_class(self.file_config))

    def llm_factory(self, endpoint: ScriptedEndpoint, tmp_path: Path) -> Callable[..., LLM]:
        assert isinstance(endpoint, ScriptedLLMEndpoint)

        def make(**overrides: Any) -> LLM:
            rest = {k: v for k, v in overrides.items() if k not in _IGNORED_OVERRIDES}
            if rest:  # validate like any config, then keep the endpoint's instance
                self.provider_class({**self.file_config, **rest})
            return endpoint.llm  # type: ignore[no-any-return]

        return make


class SQLiteHarness(ProviderHarness):
    """``vector_stores.sqlite``: one database file per instance under ``tmp_path``."""

    def provider_config(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(tmp_path / "memplane.db"), **super().provider_config(tmp_path)}


class RulesHarness(ProviderHarness):
    """``llms.rules``: deterministic and local, so its "live" service is itself; it
    answers by rule and cannot be scripted, so the scripted tests skip."""

    @contextlib.contextmanager
    def scripted_endpoint(self) -> Iterator[ScriptedEndpoint]:

        suite_skip("the rules LLM answers by rule and cannot be scripted; "
                    "the behavioural (live) scenarios check it instead")
        yield  # pragma: no cover - skip raises

    def live_config(self) -> dict[str, Any] | None:
        return dict(self.file_config)
