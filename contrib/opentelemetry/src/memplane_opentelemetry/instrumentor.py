"""``MemplaneInstrumentor``: a span around each public Memory / AsyncMemory operation.

memplane's hooks wrap provider calls, not whole operations, so the operation span
comes from wrapping the public methods of the two classes (the usual OpenTelemetry
instrumentor pattern); ``uninstrument()`` puts the originals back.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.trace import Span

from memplane.async_memory import AsyncMemory
from memplane.memory import Memory
from memplane.models import AddResult, Page
from memplane_opentelemetry._state import state

OPERATIONS = ("add", "search", "get", "get_all", "update", "delete", "restore", "history",
              "delete_all", "reset")
SCOPE_FIELDS = ("user_id", "agent_id", "run_id")
_ORIGINAL = "__memplane_otel_original__"


def _start_attributes(operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {"memplane.operation": operation}
    fields = [f for f in SCOPE_FIELDS if kwargs.get(f) is not None]
    if fields:
        attrs["memplane.scope.fields"] = fields
    if state.record_scope_ids:  # opt-in: user ids can be personal data
        for f in fields:
            attrs[f"memplane.scope.{f}"] = str(kwargs[f])
    for key in ("limit", "explain", "infer"):
        if isinstance(kwargs.get(key), bool | int):
            attrs[f"memplane.{key}"] = kwargs[key]
    return attrs


def _finish(span: Span, result: Any) -> None:
    if isinstance(result, AddResult):
        for name in ("ADD", "UPDATE", "DELETE", "NONE"):
            span.set_attribute(f"memplane.events.{name.lower()}", len(result.by_event(name)))
        span.set_attribute("memplane.diagnostics", len(result.diagnostics))
        span.set_attribute("gen_ai.usage.input_tokens", result.usage.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", result.usage.completion_tokens)
    elif isinstance(result, Page):
        span.set_attribute("memplane.results", len(result.records))
    elif isinstance(result, list):
        span.set_attribute("memplane.results", len(result))
    elif isinstance(result, int) and not isinstance(result, bool):
        span.set_attribute("memplane.results", result)


def _traced(operation: str, original: Callable[..., Any]) -> Callable[..., Any]:
    name = f"memplane.{operation}"
    if inspect.iscoroutinefunction(original):
        @functools.wraps(original)
        async def traced_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            with state.tracer().start_as_current_span(
                name, attributes=_start_attributes(operation, kwargs)
            ) as span:
                result = await original(self, *args, **kwargs)
                _finish(span, result)
                return result

        setattr(traced_async, _ORIGINAL, original)
        return traced_async

    @functools.wraps(original)
    def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        with state.tracer().start_as_current_span(
            name, attributes=_start_attributes(operation, kwargs)
        ) as span:
            result = original(self, *args, **kwargs)
            _finish(span, result)
            return result

    setattr(traced, _ORIGINAL, original)
    return traced


class MemplaneInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """``MemplaneInstrumentor().instrument(tracer_provider=..., record_scope_ids=False)``.

    Also started by ``opentelemetry-instrument`` through its entry point.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("memplane >= 0.1.0",)

    def _instrument(self, **kwargs: Any) -> None:
        state.tracer_provider = kwargs.get("tracer_provider")
        state.record_scope_ids = bool(kwargs.get("record_scope_ids", False))
        for cls in (Memory, AsyncMemory):
            for operation in OPERATIONS:
                current = cls.__dict__.get(operation)
                if current is not None and not hasattr(current, _ORIGINAL):
                    setattr(cls, operation, _traced(operation, current))
        state.enabled = True

    def _uninstrument(self, **kwargs: Any) -> None:
        state.enabled = False
        for cls in (Memory, AsyncMemory):
            for operation in OPERATIONS:
                current = cls.__dict__.get(operation)
                if current is not None and hasattr(current, _ORIGINAL):
                    setattr(cls, operation, getattr(current, _ORIGINAL))
        state.tracer_provider = None
