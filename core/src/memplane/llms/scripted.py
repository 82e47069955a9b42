"""A zero-latency LLM that answers from a queue (entry point ``scripted``).

For tests, benchmarks and the conformance suite: queue the replies the "model"
should give, run memplane, then inspect :attr:`ScriptedLLM.requests`. With an empty
queue it answers ``{"decisions": []}`` (nothing to change).

A reply is one of:

- ``str`` -> returned as text (``structured`` left empty), exactly as a model
  without native structured output would;
- ``dict`` -> returned as ``structured`` (and its JSON as text) when the
  ``json_schema`` capability is on, else only as JSON text;
- :class:`~memplane.providers.base.LLMResponse` -> returned as is;
- an exception instance -> raised (to exercise provider failures).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field

from memplane.models import ChatMessage, Usage
from memplane.providers.base import LLM, LLMResponse, ProviderConfig
from memplane.tokens import estimate_tokens

Reply = str | dict[str, Any] | LLMResponse | BaseException
EMPTY_DECISIONS: dict[str, Any] = {"decisions": []}


@dataclass(frozen=True)
class ScriptedRequest:
    """One recorded call."""

    messages: list[ChatMessage]
    json_schema: dict[str, Any] | None
    schema_name: str
    max_tokens: int | None

    @property
    def prompt(self) -> str:
        return "\n".join(m.content for m in self.messages)


class ScriptedLLM(LLM):
    """Answers from a queue of scripted replies and records every request."""

    name: ClassVar[str] = "scripted"
    capabilities: ClassVar[frozenset[str]] = frozenset({"json_schema"})

    class Config(ProviderConfig):
        #: replies queued at construction (same forms as :meth:`ScriptedLLM.queue`).
        replies: list[str | dict[str, Any]] = Field(default_factory=list)
        #: whether to behave like a model with native structured output.
        json_schema: bool = True

    def __init__(self, config: ProviderConfig | Mapping[str, Any] | None = None, **overrides: Any):
        super().__init__(config, **overrides)
        # capabilities is per instance here: tests need both kinds of model.
        setattr(self, "capabilities", frozenset({"json_schema"}) if self.config.json_schema else frozenset())  # noqa: B010
        self._lock = threading.Lock()
        self._replies: deque[Reply] = deque(self.config.replies)
        self.requests: list[ScriptedRequest] = []

    def queue(self, *replies: Reply) -> ScriptedLLM:
        """Append replies; returns self for chaining."""
        with self._lock:
            self._replies.extend(replies)
        return self

    @property
    def pending(self) -> int:
        return len(self._replies)

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "response",
        max_tokens: int | None = None,
    ) -> LLMResponse:
        with self._lock:
            self.requests.append(
                ScriptedRequest(list(messages), json_schema, schema_name, max_tokens)
            )
            reply: Reply = self._replies.popleft() if self._replies else dict(EMPTY_DECISIONS)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, LLMResponse):
            return reply
        prompt_tokens = sum(estimate_tokens(m.content) for m in messages)
        if json_schema is not None and self.has("json_schema"):
            prompt_tokens += estimate_tokens(json.dumps(json_schema))  # sent with the request
        if isinstance(reply, str):
            return LLMResponse(
                text=reply,
                usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=estimate_tokens(reply)),
                model="scripted",
            )
        text = json.dumps(reply, ensure_ascii=False)
        return LLMResponse(
            text=text,
            structured=dict(reply) if self.has("json_schema") else None,
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=estimate_tokens(text)),
            model="scripted",
        )
