"""Checks on what callers hand to the API, and the documented input limits.

Every violation is a :class:`~memplane.errors.ValidationError` (a subclass of it
for size limits), raised before any provider call, so a bad argument never
surfaces as a pydantic error, a RecursionError, an OverflowError or a
UnicodeEncodeError from deep inside a store. The limits (docs/configuration.md,
"Input limits"):

- a message's content, a search query, an update's text:
  ``pipeline.max_message_chars`` characters (default :data:`DEFAULT_MAX_MESSAGE_CHARS`);
- metadata: string keys, JSON values (no NaN/Infinity), at most
  :data:`MAX_METADATA_BYTES` bytes as JSON and :data:`MAX_NESTING` levels deep;
- filters: at most :data:`MAX_NESTING` levels deep;
- datetimes: between years 1 and 9999 in *every* time zone (a day of margin at
  both ends), so converting them to UTC or another offset cannot overflow;
- text and scope ids: valid Unicode (no lone surrogates, which no encoder can write).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from memplane.errors import ValidationError
from memplane.models import ChatMessage, Diagnostic
from memplane.tokens import estimate_tokens

#: ~8k tokens: far beyond one chat turn, far below a context window.
DEFAULT_MAX_MESSAGE_CHARS = 32_000
MAX_METADATA_BYTES = 64 * 1024
MAX_NESTING = 32
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
_SURROGATE = re.compile("[\ud800-\udfff]")


class InputTooLarge(ValidationError):
    """An input exceeds a documented size limit."""


class NestingTooDeep(ValidationError):
    """Metadata or a filter nests deeper than :data:`MAX_NESTING` levels."""


def check_text(text: object, what: str, *, max_chars: int | None = None) -> None:
    """Refuse a lone surrogate in ``text``, and text over ``max_chars`` (non-strings
    are left to other checks)."""
    if not isinstance(text, str):
        return
    match = _SURROGATE.search(text)
    if match is not None:
        raise ValidationError(
            f"{what} holds a lone surrogate ({match.group()!r} at offset {match.start()}), "
            "which is not valid Unicode text; decode the input with errors='replace'"
        )
    if max_chars is not None and len(text) > max_chars:
        raise InputTooLarge(
            f"{what} has {len(text):,} characters; the limit is {max_chars:,} (pipeline.max_message_chars)"
        )


def check_messages(messages: Sequence[ChatMessage], max_chars: int) -> None:
    for i, message in enumerate(messages):
        check_text(message.content, f"message {i}", max_chars=max_chars)


def check_datetime_range(value: datetime, name: str) -> None:
    """Refuse datetimes that some time zone conversion would overflow (naive: as UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        in_range = EARLIEST <= aware <= LATEST
    except OverflowError:
        in_range = False
    if not in_range:
        raise ValidationError(
            f"{name} {value.isoformat()} is out of range: use a time between "
            f"{EARLIEST.date()} and {LATEST.date()} UTC"
        )


def aware_datetime(value: object, name: str) -> datetime | None:
    """``value`` as an aware datetime (naive means UTC), inside the supported range."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationError(f"{name} must be a datetime")
    check_datetime_range(value, name)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _depth_and_scalars(value: Any) -> tuple[int, list[Any], list[Any]]:
    """Deepest nesting, every mapping key, and every leaf, without recursion."""
    deepest = 0
    keys: list[Any] = []
    leaves: list[Any] = []
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            deepest = max(deepest, depth + 1)
            if deepest > MAX_NESTING:
                break
            keys.extend(item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            deepest = max(deepest, depth + 1)
            if deepest > MAX_NESTING:
                break
            stack.extend((v, depth + 1) for v in item)
        else:
            leaves.append(item)
    return deepest, keys, leaves


def check_metadata(metadata: object) -> dict[str, Any]:
    """A copy of ``metadata`` that every store can hold, or a ValidationError."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ValidationError("metadata must be a dict")
    depth, keys, leaves = _depth_and_scalars(metadata)
    if depth > MAX_NESTING:
        raise NestingTooDeep(f"metadata nests deeper than {MAX_NESTING} levels")
    for key in keys:
        if not isinstance(key, str):
            raise ValidationError(f"metadata keys must be strings, got {type(key).__name__} {key!r}")
        check_text(key, "a metadata key")
    for leaf in leaves:
        if isinstance(leaf, float) and not math.isfinite(leaf):
            raise ValidationError(f"metadata values must be finite numbers, got {leaf!r}")
        if isinstance(leaf, str):
            check_text(leaf, "a metadata value")
        elif leaf is not None and not isinstance(leaf, bool | int | float):
            raise ValidationError(
                f"metadata values must be JSON (str, number, bool, null, list, dict), got {type(leaf).__name__}"
            )
    size = len(json.dumps(metadata, ensure_ascii=False).encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise InputTooLarge(f"metadata is {size:,} bytes as JSON; the limit is {MAX_METADATA_BYTES:,}")
    return dict(metadata)


def truncation_notes(embedder: object, texts: Sequence[str]) -> list[Diagnostic]:
    """Diagnostics for texts longer than the embedder's ``max_input_tokens``.

    An embedder that truncates declares the attribute (an int, or None for no
    limit); the count is :func:`memplane.tokens.estimate_tokens`, an estimate.
    """
    limit = getattr(embedder, "max_input_tokens", None)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        return []
    notes = []
    for i, text in enumerate(texts):
        tokens = estimate_tokens(text)
        if tokens > limit:
            notes.append(Diagnostic(
                code="embedder_truncated",
                message=f"message {i} is ~{tokens} tokens; the embedder keeps {limit}, so its "
                        "vector reflects only the beginning",
                detail={"kind": "info", "position": i, "estimated_tokens": tokens, "max_input_tokens": limit},
            ))
    return notes
