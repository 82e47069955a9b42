"""The typed error hierarchy.

Every error memplane raises on purpose derives from :class:`MemplaneError`, so an
application can catch one type. Each message says what went wrong *and* what to do.
"""

from __future__ import annotations


class MemplaneError(Exception):
    """Base class of every error memplane raises on purpose."""


class ConfigurationError(MemplaneError, ValueError):
    """The configuration is invalid (unknown key, wrong type, inconsistent settings)."""


class DimensionMismatch(ConfigurationError):
    """The embedder's vector size differs from the one the store was created with."""

    def __init__(self, *, store: str, store_dimension: int, embedder_dimension: int) -> None:
        self.store_dimension = store_dimension
        self.embedder_dimension = embedder_dimension
        super().__init__(
            f"vector store {store!r} holds {store_dimension}-dimensional vectors but the "
            f"embedder produces {embedder_dimension}: use the embedder the store was built "
            f"with, or point the store at a new location (and re-import with "
            f"`memplane export` / `memplane import`)"
        )


class ProviderNotFound(ConfigurationError):
    """No provider of that kind and name is installed."""


class ProviderUnavailable(MemplaneError):
    """A provider is installed but cannot be loaded (missing SDK, broken plugin, wrong contract)."""


class ContractVersionMismatch(ProviderUnavailable):
    """A plugin implements a contract version this core does not speak."""


class ProviderError(MemplaneError):
    """A call to a provider failed. ``retryable`` tells whether trying again may help."""

    retryable: bool = False

    def __init__(self, message: str, *, provider: str = "", retryable: bool | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        if retryable is not None:
            self.retryable = retryable


class AuthenticationError(ProviderError):
    """The provider rejected the credentials. Not retryable: fix the key or the role."""

    retryable = False


class RateLimitError(ProviderError):
    """The provider asked us to slow down; ``retry_after`` is in seconds when known."""

    retryable = True

    def __init__(
        self, message: str, *, provider: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, provider=provider)
        self.retry_after = retry_after


class ProviderTimeout(ProviderError):
    """The provider did not answer in time."""

    retryable = True


class ValidationError(MemplaneError, ValueError):
    """Input to a memplane call is invalid (empty scope, bad filter, malformed messages)."""


class ScopeRequired(ValidationError):
    """An operation needs at least one of user_id, agent_id, run_id."""

    def __init__(self, operation: str) -> None:
        super().__init__(
            f"{operation} needs a scope: pass at least one of user_id=, agent_id= or run_id="
        )


class MemoryNotFound(MemplaneError, KeyError):
    """No memory with that id exists in the given scope."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "memory not found"


class UnsupportedCapability(MemplaneError):
    """The provider does not declare a capability the call needs."""


class UnsupportedFilter(UnsupportedCapability):
    """The store cannot evaluate a filter operator. Filters are never dropped silently."""


# --- contract v2 (stub names; core v2 supersedes this block) ---------------------


class Conflict(MemplaneError):
    """The stored version is not the one the writer read; nothing of the batch was written."""

    def __init__(self, message: str = "", *, memory_id: str | None = None,
                 expected: int | None = None, actual: int | None = None) -> None:
        self.memory_id = memory_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            message or f"memory {memory_id!r} changed concurrently (expected version "
            f"{expected}, stored {actual}): re-read the memory and retry"
        )


class DuplicateMemory(Conflict):
    """A live memory of the same scope already holds this text (same hash)."""

    def __init__(self, message: str = "", *, memory_id: str | None = None,
                 existing_id: str = "") -> None:
        self.existing_id = existing_id
        super().__init__(
            message or f"memory {memory_id!r} duplicates the live memory {existing_id!r} "
            f"of the same scope: update that one instead",
            memory_id=memory_id,
        )


class IdOwnedByAnotherScope(ValidationError):
    """A create or write names an id that another scope owns (the scope is never revealed)."""


class MemoryClosed(MemplaneError):
    """The Memory / AsyncMemory was closed."""
