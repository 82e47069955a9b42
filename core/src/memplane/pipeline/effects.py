"""Provider calls as values, so one pipeline serves both Memory and AsyncMemory.

Pipeline steps are generators that ``yield`` a :class:`Call` whenever they need a
provider and receive its result back. :func:`run_sync` performs calls with the sync
methods, :func:`run_async` awaits the ``a``-prefixed ones (native async where the
provider has it). The logic exists once, so the two APIs cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from memplane.providers.base import Kind

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One provider method call: ``kind`` picks the provider, ``method`` the sync name."""

    kind: Kind
    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


Flow = Generator[Call, Any, T]


def run_sync(flow: Flow[T], perform: Callable[[Call], Any]) -> T:
    """Drive a flow, performing each call synchronously. Provider errors are thrown
    into the flow at the point of the call."""
    try:
        call = next(flow)
        while True:
            try:
                result = perform(call)
            except Exception as exc:
                call = flow.throw(exc)
            else:
                call = flow.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def run_async(flow: Flow[T], perform: Callable[[Call], Awaitable[Any]]) -> T:
    """Drive a flow, awaiting each call."""
    try:
        call = next(flow)
        while True:
            try:
                result = await perform(call)
            except Exception as exc:
                call = flow.throw(exc)
            else:
                call = flow.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
