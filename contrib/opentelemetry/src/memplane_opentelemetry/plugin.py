"""The memplane hook plugin: a child span around every provider call.

It is a plain ``memplane_wrap_call`` hookimpl over the current hookspec: called once
per provider method when a Memory is built, it returns a wrapper that opens a span
only while :class:`~memplane_opentelemetry.MemplaneInstrumentor` is on (otherwise the
wrapper is one flag check). The span becomes a child of the operation span through
OpenTelemetry's context, which also follows ``asyncio.to_thread``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.trace import Span

from memplane.plugins.hooks import hookimpl
from memplane.providers.base import LLMResponse
from memplane_opentelemetry._state import state


def _operation(provider: Any, method: str) -> str:
    # "agenerate" is the async form of "generate": one span name for both.
    return method[1:] if method.startswith("a") and hasattr(provider, method[1:]) else method


def _before(span: Span, kind: str, args: Sequence[Any]) -> None:
    if kind == "embedders" and args and isinstance(args[0], Sequence):
        span.set_attribute("memplane.embedder.inputs", len(args[0]))
    elif kind == "llms" and args and isinstance(args[0], Sequence):
        span.set_attribute("memplane.llm.messages", len(args[0]))


def _after(span: Span, result: Any) -> None:
    if isinstance(result, LLMResponse):
        # GenAI semantic-convention names, so trace backends show token usage.
        span.set_attribute("gen_ai.usage.input_tokens", result.usage.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", result.usage.completion_tokens)
        if result.model:
            span.set_attribute("gen_ai.response.model", result.model)
        if result.finish_reason:
            span.set_attribute("gen_ai.response.finish_reasons", [result.finish_reason])
    elif isinstance(result, list):
        span.set_attribute("memplane.results", len(result))


class TracingPlugin:
    """Wraps each provider method in a span named ``memplane.<kind>.<method>``."""

    @hookimpl
    def memplane_wrap_call(
        self, kind: str, method: str, provider: Any, call: Callable[..., Any]
    ) -> Callable[..., Any] | None:
        op = _operation(provider, method)
        name = f"memplane.{kind}.{op}"
        attributes = {
            "memplane.provider.kind": kind,
            "memplane.provider.name": str(getattr(provider, "name", "") or type(provider).__name__),
            "memplane.provider.method": op,
        }
        if kind == "llms":
            attributes["gen_ai.system"] = attributes["memplane.provider.name"]

        if inspect.iscoroutinefunction(call):
            @functools.wraps(call)
            async def traced_async(*args: Any, **kwargs: Any) -> Any:
                if not state.enabled:
                    return await call(*args, **kwargs)
                with state.tracer().start_as_current_span(name, attributes=attributes) as span:
                    _before(span, kind, args)
                    result = await call(*args, **kwargs)
                    _after(span, result)
                    return result

            return traced_async

        @functools.wraps(call)
        def traced(*args: Any, **kwargs: Any) -> Any:
            if not state.enabled:
                return call(*args, **kwargs)
            with state.tracer().start_as_current_span(name, attributes=attributes) as span:
                _before(span, kind, args)
                result = call(*args, **kwargs)
                _after(span, result)
                return result

        return traced


#: the instance the ``memplane.plugins`` entry point registers.
plugin = TracingPlugin()
