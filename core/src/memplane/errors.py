"""The typed error hierarchy.

Every error memplane raises on purpose derives from :class:`MemplaneError`, so an
application can catch one type. Each message says what went wrong *and* what to do.
"""

from __future__ import annotations

import math


class MemplaneError(Exception):
    """Base class of every error memplane raises on purpose."""


class ConfigurationError(MemplaneError, ValueError):
    """The configuration is invalid (unknown key, wrong type, inconsistent settings)."""


class DimensionMismatch(ConfigurationError):
    """The embedder's vector size differs from the one the store was created with."""

    def __init__(self, *, store: str, store_dimension: int, embedder_dimension: int,
                 recorded: str | None = None) -> None:
        self.store_dimension = store_dimension
        self.embedder_dimension = embedder_dimension
        #: the embedder the store records for its vectors, when it records one
        self.recorded = recorded
        built = f"the embedder the store was built with ({recorded})" if recorded else (
            "the embedder the store was built with")
        super().__init__(
            f"vector store {store!r} holds {store_dimension}-dimensional vectors but the "
            f"embedder produces {embedder_dimension}: use {built}, or point the store at a "
            f"new location (and move the memories: `memplane export` with {built} "
            f"configured, then `memplane import` with the new one)"
        )


class EmbedderMismatch(ConfigurationError):
    """The store records vectors of another embedder than the one configured (same
    vector size, other model): their vectors are not comparable. Raised by the
    operations that embed (add, search, update, import); list, get, history and
    export keep working, so the store can be exported and re-imported."""

    def __init__(self, *, store: str, recorded: str, configured: str,
                 unreadable: bool = False) -> None:
        self.store = store
        self.recorded = recorded
        self.configured = configured
        self.unreadable = unreadable
        if unreadable:  # damaged or edited by hand: there is no embedder to name
            super().__init__(
                f"vector store {store} has an unreadable embedder record ({recorded}), so "
                f"its vectors cannot be matched to the configured embedder {configured} and "
                f"nothing was done. Move the memories to a new store: `memplane export "
                f"--user ID --output FILE` (this works on the store as it is), then "
                f"`memplane import FILE` into a new store (another vector_store path), which "
                f"embeds every memory again with {configured}"
            )
            return
        super().__init__(
            f"vector store {store} holds vectors of the embedder {recorded}, but the "
            f"configured embedder is {configured}: their vectors cannot be compared "
            f"(search would find nothing and writes would mix the two), so nothing was "
            f"done. Configure the embedder {recorded} again, or move the memories to the "
            f"new one: `memplane export --user ID --output FILE` (this works on the store "
            f"as it is), then `memplane import FILE` into a new store (another "
            f"vector_store path) with the new embedder, which embeds every memory again"
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
    """The provider asked us to slow down; ``retry_after`` is in seconds when known
    (a finite, non-negative number, or None: a ``nan``, infinite or negative wait is
    dropped here so no caller ever sleeps on one)."""

    retryable = True

    def __init__(
        self, message: str, *, provider: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, provider=provider)
        if retry_after is not None and not (math.isfinite(retry_after) and retry_after >= 0):
            retry_after = None
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


class IncompleteOperation(MemplaneError):
    """A multi-step operation on a store without ``atomic_apply`` stopped part-way.
    ``done`` says how much landed; the message says how to resume."""

    def __init__(self, message: str, *, done: int) -> None:
        super().__init__(message)
        self.done = done


class MemoryNotFound(MemplaneError, KeyError):
    """No memory with that id exists in the given scope."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "memory not found"


class UnsupportedCapability(MemplaneError):
    """The provider does not declare a capability the call needs."""


class UnsupportedFilter(UnsupportedCapability):
    """The store cannot evaluate a filter operator. Filters are never dropped silently."""


class Conflict(MemplaneError):
    """A write lost a race: the stored memory is not the version the writer read.

    Nothing of the batch was written. ``expected`` is the version the writer read
    (None for a create), ``actual`` the stored one (None when it does not exist).
    """

    def __init__(
        self, message: str = "", *, memory_id: str | None = None,
        expected: int | None = None, actual: int | None = None,
    ) -> None:
        self.memory_id = memory_id
        self.expected = expected
        self.actual = actual
        super().__init__(message or (
            f"memory {memory_id!r} changed meanwhile (expected version {expected}, stored "
            f"{actual}); nothing was written: re-read the memory and retry"
        ))


class DuplicateMemory(Conflict):
    """A create was refused: a live memory of the same scope has the same text hash."""

    def __init__(self, *, memory_id: str, existing_id: str) -> None:
        self.existing_id = existing_id
        super().__init__(
            f"memory {memory_id!r} duplicates live memory {existing_id!r} of the same scope; "
            f"nothing was written: re-read the memory and retry (or update {existing_id!r})",
            memory_id=memory_id,
        )


class IdOwnedByAnotherScope(ValidationError):
    """A write names an id that belongs to another scope. It is refused, never moved;
    the message does not say which scope owns it."""

    def __init__(self, memory_id: str) -> None:
        self.memory_id = memory_id
        super().__init__(
            f"memory id {memory_id!r} is already used outside this scope; a memory cannot "
            f"change scope: nothing was written, use a new id"
        )


class MemoryClosed(MemplaneError):
    """The Memory or AsyncMemory was closed; create a new one."""
