"""Batched ingest of long lists: the parts ``Memory.add_many`` and
``AsyncMemory.add_many`` share.

Items (what ``add`` takes as one message: a string or a ``{role, content}`` dict)
are read from any iterable, ``batch_size`` at a time; each batch is one
``add(batch, infer=False)``: every item of the batch checked before anything of it
is written, one embedder call, one store apply (one transaction on a store with
``atomic_apply``). After each written batch, ``on_progress`` gets the running
report and that batch's :class:`~memplane.models.AddResult`.

When a batch fails, the batches before it stay written. A failure of the first
batch is raised as it is (nothing was written); a later one as
:class:`~memplane.errors.IncompleteOperation`, whose ``done`` is the number of
items the written batches consumed: pass the items from that index on to resume.
A bad item is named by its index among all the items.
"""

from __future__ import annotations

import itertools
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from typing import Any, NoReturn

from pydantic import BaseModel

from memplane.errors import IncompleteOperation, ValidationError
from memplane.models import AddResult

DEFAULT_BATCH = 1000
MAX_BATCH = 10_000


class IngestReport(BaseModel):
    """Where a batched ingest stands (after each batch, and at the end)."""

    done: int = 0
    """items consumed by the written batches"""
    added: int = 0
    """memories created"""
    skipped: int = 0
    """items that created none: a text the scope already holds live, a repeat within
    its batch, an empty message, a system or tool message"""
    batches: int = 0
    """batches written"""


ProgressCallback = Callable[[IngestReport, AddResult], object]


def check_items(items: object, *, allow_async: bool = False) -> None:
    """An iterable of items, not one item (a string would be read letter by letter)."""
    if isinstance(items, str | bytes | Mapping):
        raise ValidationError(
            "add_many takes an iterable of messages (strings or {role, content} dicts); "
            "for one message call add"
        )
    if not isinstance(items, Iterable) and not (allow_async and isinstance(items, AsyncIterable)):
        raise ValidationError(
            f"add_many takes an iterable of messages, got {type(items).__name__}"
        )


def check_batch_size(batch_size: object) -> int:
    if (isinstance(batch_size, bool) or not isinstance(batch_size, int)
            or not 1 <= batch_size <= MAX_BATCH):
        raise ValidationError(f"batch_size must be an integer from 1 to {MAX_BATCH}, got {batch_size!r}")
    return batch_size


def batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


async def abatches(items: Iterable[Any] | AsyncIterable[Any], size: int) -> AsyncIterator[list[Any]]:
    if not isinstance(items, AsyncIterable):
        for chunk in batches(items, size):
            yield chunk
        return
    batch: list[Any] = []
    async for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run(add_batch: Callable[[list[Any]], AddResult], items: Iterable[Any], size: int,
        on_progress: ProgressCallback | None, check: Callable[[list[Any]], object]) -> IngestReport:
    """The batch loop of every ``add_many``: ``add_batch`` writes one batch; ``check``
    runs one item's checks without writing, to name a bad item."""
    report = IngestReport()
    for batch in batches(items, size):
        try:
            result = add_batch(batch)
        except Exception as exc:
            stop(report, exc, batch, check)
        count(report, len(batch), result, on_progress)
    return report


async def arun(add_batch: Callable[[list[Any]], Awaitable[AddResult]],
               items: Iterable[Any] | AsyncIterable[Any], size: int,
               on_progress: ProgressCallback | None,
               check: Callable[[list[Any]], object]) -> IngestReport:
    """:func:`run` for the async APIs (``items`` may be an async iterable)."""
    report = IngestReport()
    async for batch in abatches(items, size):
        try:
            result = await add_batch(batch)
        except Exception as exc:
            stop(report, exc, batch, check)
        count(report, len(batch), result, on_progress)
    return report


def no_item_check(batch: list[Any]) -> None:
    """For clients of a server, which checks items itself: a bad item is then named by
    the server's message, with the batch's range in the error."""


def count(report: IngestReport, size: int, result: AddResult,
          on_progress: ProgressCallback | None) -> None:
    """Fold a written batch of ``size`` items into the report, and tell the caller."""
    added = len(result.by_event("ADD"))
    report.done += size
    report.added += added
    report.skipped += size - added
    report.batches += 1
    if on_progress is not None:
        on_progress(report.model_copy(), result)


def stop(report: IngestReport, exc: Exception, batch: list[Any],
         check: Callable[[list[Any]], object]) -> NoReturn:
    """Raise what a failed batch means for the caller (see the module docstring)."""
    error: Exception = exc
    if isinstance(exc, ValidationError):
        error = _located(exc, batch, report.done, check)
    if report.batches == 0:
        if error is exc:
            raise exc
        raise error from None
    raise IncompleteOperation(
        f"add_many stopped in batch {report.batches + 1} (items {report.done} to "
        f"{report.done + len(batch) - 1}): {type(error).__name__}: {error}; the "
        f"{report.done} items before it are written ({report.added} new memories), "
        f"nothing of this batch{'' if isinstance(exc, ValidationError) else ' on a store with atomic_apply'}: "
        f"fix the cause and pass the items from index {report.done} on to resume",
        done=report.done,
    ) from error


def _located(exc: ValidationError, batch: list[Any], start: int,
             check: Callable[[list[Any]], object]) -> ValidationError:
    """The error of the first bad item, named by its index among all the items."""
    for i, item in enumerate(batch):
        try:
            check([item])
        except ValidationError as bad:
            text = str(bad)
            if text.startswith("message 0"):  # what add calls the only item it was given
                text = text[len("message 0"):].lstrip(":")
            return ValidationError(f"add_many item {start + i}: {text.strip()}")
    return exc  # not one item's fault (say, the call's metadata)
