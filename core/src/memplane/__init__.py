"""memplane: a self-correcting long-term memory layer for LLM applications."""

from memplane.errors import (
    AuthenticationError,
    ConfigurationError,
    DimensionMismatch,
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
from memplane.models import (
    AddResult,
    Diagnostic,
    HistoryEntry,
    MemoryEvent,
    MemoryRecord,
    Page,
    Scope,
    SearchHit,
    Usage,
)

__version__ = "0.1.0"

__all__ = [
    "AddResult",
    "AuthenticationError",
    "ConfigurationError",
    "Diagnostic",
    "DimensionMismatch",
    "HistoryEntry",
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
    "UnsupportedCapability",
    "UnsupportedFilter",
    "Usage",
    "ValidationError",
    "__version__",
]
