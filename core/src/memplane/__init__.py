"""memplane: a self-correcting long-term memory layer for LLM applications.

``from memplane import Memory, AsyncMemory, MemoryConfig, hookimpl``. Those four and
the result models are imported on first use (module ``__getattr__``): ``import
memplane`` loads only the errors, so it and ``memplane --version`` do not pay for
pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memplane.errors import (
    AuthenticationError,
    ConfigurationError,
    Conflict,
    DimensionMismatch,
    DuplicateMemory,
    EmbedderMismatch,
    IdOwnedByAnotherScope,
    MemoryClosed,
    MemoryNotFound,
    MemplaneError,
    ProviderError,
    ProviderNotFound,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimitError,
    ScopeRequired,
    UnsupportedCapability,
    UnsupportedFilter,
    ValidationError,
)

if TYPE_CHECKING:
    from memplane.async_memory import AsyncMemory
    from memplane.config import MemoryConfig
    from memplane.memory import Memory
    from memplane.models import (
        AddResult,
        Diagnostic,
        HistoryEntry,
        MemoryEvent,
        MemoryRecord,
        Page,
        Scope,
        SearchHit,
        SearchResult,
        Usage,
    )
    from memplane.plugins.hooks import hookimpl
    from memplane.providers.identity import EmbedderIdentity

__version__ = "0.1.0"

_MODELS = ("AddResult", "Diagnostic", "HistoryEntry", "MemoryEvent", "MemoryRecord", "Page",
           "Scope", "SearchHit", "SearchResult", "Usage")
_LAZY = {
    **dict.fromkeys(_MODELS, "memplane.models"),
    "Memory": "memplane.memory",
    "AsyncMemory": "memplane.async_memory",
    "MemoryConfig": "memplane.config",
    "hookimpl": "memplane.plugins.hooks",
    "EmbedderIdentity": "memplane.providers.identity",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'memplane' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AddResult",
    "AsyncMemory",
    "AuthenticationError",
    "ConfigurationError",
    "Conflict",
    "Diagnostic",
    "DimensionMismatch",
    "DuplicateMemory",
    "EmbedderIdentity",
    "EmbedderMismatch",
    "HistoryEntry",
    "IdOwnedByAnotherScope",
    "Memory",
    "MemoryClosed",
    "MemoryConfig",
    "MemoryEvent",
    "MemoryNotFound",
    "MemoryRecord",
    "MemplaneError",
    "Page",
    "ProviderError",
    "ProviderNotFound",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimitError",
    "Scope",
    "ScopeRequired",
    "SearchHit",
    "SearchResult",
    "UnsupportedCapability",
    "UnsupportedFilter",
    "Usage",
    "ValidationError",
    "__version__",
    "hookimpl",
]
