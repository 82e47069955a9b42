"""Remote clients for a memplane server: the Memory API over HTTP.

``MemoryClient`` / ``AsyncMemoryClient`` take the same arguments and return the same
types as :class:`~memplane.memory.Memory` / :class:`~memplane.async_memory.AsyncMemory`,
and raise the same typed errors. They need httpx (``pip install 'memplane[client]'``),
imported only when a client is built::

    from memplane.client import MemoryClient
    with MemoryClient("http://127.0.0.1:8080", api_key="mp_...") as memory:
        memory.add("I live in Lisbon")       # the key decides the scope
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memplane.client.errors import PayloadTooLarge, ScopeForbidden, ServerAuthError, ServerError

if TYPE_CHECKING:
    from memplane.client.asynchronous import AsyncMemoryClient
    from memplane.client.sync import MemoryClient

__all__ = ["AsyncMemoryClient", "MemoryClient", "PayloadTooLarge", "ScopeForbidden",
           "ServerAuthError", "ServerError"]


def __getattr__(name: str) -> Any:  # lazy: httpx loads only when a client is used
    if name == "MemoryClient":
        from memplane.client.sync import MemoryClient

        return MemoryClient
    if name == "AsyncMemoryClient":
        from memplane.client.asynchronous import AsyncMemoryClient

        return AsyncMemoryClient
    raise AttributeError(name)
