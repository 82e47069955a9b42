"""How the CLI prints: JSON with ``--json``, short aligned text otherwise."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TextIO

from pydantic import BaseModel

from memplane.models import HistoryEntry, MemoryEvent, MemoryRecord, Scope, SearchHit


def to_jsonable(value: Any) -> Any:
    """Pydantic models and datetimes to plain JSON values."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def print_json(value: Any, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    out.write(json.dumps(to_jsonable(value), ensure_ascii=False, indent=2) + "\n")


def scope_label(scope: Scope | None) -> str:
    if scope is None:
        return ""
    return " ".join(f"{k.removesuffix('_id')}={v}" for k, v in scope.items())


#: text output shows at most this many characters of a memory (``get`` and ``--json``
#: show all): a pasted document must not flood the terminal.
CLIP_CHARS = 200


def clip(text: str | None, limit: int = CLIP_CHARS) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def format_event(event: MemoryEvent) -> str:
    ident = event.id or "-"
    if event.event == "UPDATE":
        return f"{event.event:<6}  {ident}  {clip(event.previous_text)!r} -> {clip(event.text)!r}"
    return f"{event.event:<6}  {ident}  {clip(event.text)!r}" if event.text else f"{event.event:<6}  {ident}"


def format_record(record: MemoryRecord, *, verbose: bool = False) -> str:
    flags = []
    if record.deleted_at is not None:
        flags.append("deleted")
    if record.expires_at is not None:
        flags.append(f"expires {_when(record.expires_at)}")
    line = f"{record.id}  {record.text if verbose else clip(record.text)}"
    if flags:
        line += f"  [{', '.join(flags)}]"
    if not verbose:
        return line
    lines = [
        line,
        f"  scope:    {scope_label(record.scope)}",
        f"  created:  {_when(record.created_at)}   updated: {_when(record.updated_at)}",
    ]
    if record.observed_at:
        lines.append(f"  observed: {_when(record.observed_at)}")
    if record.metadata:
        lines.append(f"  metadata: {json.dumps(record.metadata, ensure_ascii=False, default=str)}")
    if record.attributed_to:
        lines.append(f"  said by:  {record.attributed_to}")
    return "\n".join(lines)


def format_hit(hit: SearchHit) -> str:
    line = f"{hit.score:.3f}  {hit.record.id}  {clip(hit.record.text)}"
    if hit.signals:
        parts = ", ".join(f"{k}={v:.3f}" for k, v in sorted(hit.signals.items()))
        line += f"  ({parts})"
    return line


def format_history(entry: HistoryEntry) -> str:
    if entry.event == "UPDATE":
        change = f"{entry.old_text!r} -> {entry.new_text!r}"
    elif entry.event == "ADD":
        change = repr(entry.new_text)
    else:
        change = repr(entry.old_text if entry.old_text is not None else entry.new_text)
    line = f"{_when(entry.at)}  {entry.event:<7} {change}"
    if entry.reason:
        line += f"  ({entry.reason})"
    return line


def print_lines(lines: Iterable[str], stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    for line in lines:
        out.write(line + "\n")


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    """Left-aligned columns sized to their widest cell."""
    all_rows = [list(header), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in all_rows]
