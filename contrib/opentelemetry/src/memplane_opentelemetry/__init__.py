"""OpenTelemetry traces for memplane (distribution ``memplane-opentelemetry``).

:class:`MemplaneInstrumentor` puts a span around each public ``Memory`` and
``AsyncMemory`` operation; the hook plugin :data:`~memplane_opentelemetry.plugin.plugin`
(registered through the ``memplane.plugins`` entry point) adds a child span per
provider call. Spans carry ids, counts, timings and token usage, never memory text,
queries or messages.
"""

from memplane_opentelemetry.instrumentor import MemplaneInstrumentor
from memplane_opentelemetry.plugin import TracingPlugin, plugin

__version__ = "0.1.0"
__all__ = ["MemplaneInstrumentor", "TracingPlugin", "__version__", "plugin"]
