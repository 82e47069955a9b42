"""What an LLM plugin's loopback server must offer the conformance suite.

Each cloud LLM plugin ships a ``testing`` module with a server that speaks its
provider's wire protocol on 127.0.0.1. The suite drives the real SDK against it
through this protocol: it scripts what the "model" answers, injects faults, and
inspects the requests the SDK sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Fault = Literal["auth", "rate_limit", "server_error", "timeout", "malformed"]


@dataclass
class RecordedRequest:
    """One HTTP request as the loopback server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON when the body was JSON, else the raw bytes
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ScriptedEndpoint(Protocol):
    """A loopback model server, scripted one reply at a time (FIFO)."""

    def enqueue_text(self, text: str) -> None:
        """The model answers with ``text`` as its plain text content."""

    def enqueue_structured(self, obj: dict[str, Any]) -> None:
        """The model answers through the provider's native structured channel:
        schema-constrained JSON content, or the arguments of the forced tool call."""

    def enqueue_fault(self, fault: Fault, *, retry_after: float | None = None) -> None:
        """The next request fails: 401/403 ``auth``, 429 ``rate_limit`` (with a
        Retry-After header when given), 500 ``server_error``, a response slower than
        the client's timeout ``timeout``, or an unparsable body ``malformed``."""

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""

    def json_schema_of(self, request: RecordedRequest) -> dict[str, Any] | None:
        """The JSON schema the request carried (wherever this provider puts it:
        response_format, a tool's input schema, responseSchema...), or None."""

    def reset(self) -> None:
        """Forget queued replies and recorded requests."""
