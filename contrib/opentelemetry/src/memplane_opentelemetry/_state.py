"""What the instrumentor switched on, shared with the hook plugin."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry import trace

TRACER_NAME = "memplane_opentelemetry"
VERSION = "0.1.0"


@dataclass
class State:
    enabled: bool = False
    tracer_provider: trace.TracerProvider | None = None
    record_scope_ids: bool = False

    def tracer(self) -> trace.Tracer:
        # Looked up per span, so a provider set after instrument() is still used.
        return trace.get_tracer(TRACER_NAME, VERSION, tracer_provider=self.tracer_provider)


state = State()
