"""`memplane export` and `memplane import`: one scope's memories as JSON Lines.

The first line is a header; every other line is one memory with its history and,
with ``--vectors``, its stored vector::

    {"format": "memplane-export", "version": 1, "exported_at": "...",
     "scope": {"user_id": "alice"}, "embedder": {"provider": "hashing", "model": null,
     "dimension": 256}, "vectors": false}
    {"record": {...MemoryRecord...}, "history": [{...HistoryEntry...}], "vector": null}

Export includes soft-deleted and expired memories, so a restore after an import
still works. Import keeps ids, timestamps and history; a memory whose id is already
in the target store is skipped, so importing the same file twice changes nothing.
Vectors are reused only when the file's embedder is the target's; otherwise (or
when the file has none) the texts are embedded again.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from memplane.cli.output import print_json
from memplane.cli.progress import progress
from memplane.cli.session import open_memory, scope_kwargs, scope_of
from memplane.errors import DuplicateMemory, UnsupportedCapability, ValidationError
from memplane.models import Change, HistoryEntry, MemoryRecord, Scope, utcnow
from memplane.providers.base import Embedder, VectorStore

M = TypeVar("M", bound=BaseModel)

FORMAT = "memplane-export"
VERSION = 1
BATCH = 64


class EmbedderIdentity(BaseModel):
    """Enough to tell whether stored vectors are valid for another embedder."""

    provider: str
    model: str | None = None
    dimension: int

    @classmethod
    def of(cls, embedder: Embedder) -> EmbedderIdentity:
        model = getattr(embedder.config, "model", None)
        return cls(provider=embedder.name or type(embedder).__name__,
                   model=str(model) if model else None, dimension=embedder.dimension)


class ExportHeader(BaseModel):
    model_config = ConfigDict(extra="allow")

    format: str
    version: int
    exported_at: str | None = None
    scope: dict[str, str] = Field(default_factory=dict)
    embedder: EmbedderIdentity | None = None
    vectors: bool = False


class ExportLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record: MemoryRecord
    history: list[HistoryEntry] = Field(default_factory=list)
    vector: list[float] | None = None


# --- export ------------------------------------------------------------------------


def export_scope(store: VectorStore, embedder: Embedder, scope: Scope, out: IO[str], *,
                 vectors: bool, show_progress: bool) -> int:
    """Write the header and every memory of ``scope``; returns how many."""
    if vectors and not store.has("vector_read"):
        raise UnsupportedCapability(
            f"vector store {store.name!r} cannot read vectors back: export without "
            f"--vectors (import then embeds the texts again)"
        )
    header = ExportHeader(format=FORMAT, version=VERSION, exported_at=utcnow().isoformat(),
                          scope=dict(scope.items()), embedder=EmbedderIdentity.of(embedder),
                          vectors=vectors)
    out.write(header.model_dump_json() + "\n")
    total = store.count(scope, include_deleted=True, include_expired=True)
    bar = progress(total, "exporting", enabled=show_progress)
    written = 0
    try:
        cursor: str | None = None
        while True:
            page = store.list_records(scope, limit=BATCH, cursor=cursor,
                                      include_deleted=True, include_expired=True)
            stored = store.get_vectors([r.id for r in page.records], scope) if vectors else {}
            for record in page.records:
                line = ExportLine(record=record, history=store.history(record.id, scope),
                                  vector=stored.get(record.id))
                out.write(line.model_dump_json() + "\n")
                written += 1
                bar.update()
            cursor = page.next_cursor
            if cursor is None:
                break
    finally:
        bar.close()
    return written


# --- import ------------------------------------------------------------------------


def read_export(lines: Iterator[str]) -> tuple[ExportHeader, list[ExportLine]]:
    """Parse and validate the whole file before anything is written."""
    numbered = ((n, text) for n, text in enumerate(lines, start=1) if text.strip())
    first = next(numbered, None)
    if first is None:
        raise ValidationError("the import file is empty: expected a `memplane export` file")
    header = _parse(first[0], first[1], ExportHeader)
    if header.format != FORMAT:
        raise ValidationError(
            f"line 1 is not a memplane export header (format {header.format!r}); "
            f"create the file with `memplane export`"
        )
    if header.version > VERSION:
        raise ValidationError(
            f"the file uses export format version {header.version}; this memplane reads "
            f"up to {VERSION}: upgrade memplane"
        )
    entries = [_parse(n, text, ExportLine) for n, text in numbered]
    for entry in entries:
        if entry.record.scope.is_empty:
            raise ValidationError(f"memory {entry.record.id} has an empty scope; the file is damaged")
    return header, entries


def _parse(number: int, text: str, model: type[M]) -> M:
    try:
        return model.model_validate_json(text)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(line)"
        raise ValidationError(
            f"import file line {number}: {where}: {first['msg']}; fix or remove that line"
        ) from None


class ImportReport(BaseModel):
    imported: int = 0
    skipped_existing: int = 0
    reembedded: int = 0


def import_entries(store: VectorStore, embedder: Embedder, header: ExportHeader,
                   entries: Sequence[ExportLine], *, force_reembed: bool,
                   show_progress: bool) -> ImportReport:
    """Write the entries in batches; each batch lands with its history in one apply."""
    target = EmbedderIdentity.of(embedder)
    reuse_vectors = not force_reembed and header.embedder == target
    report = ImportReport()
    bar = progress(len(entries), "importing", enabled=show_progress)
    try:
        for start in range(0, len(entries), BATCH):
            batch = entries[start:start + BATCH]
            fresh = [e for e in batch if not _exists(store, e.record)]
            report.skipped_existing += len(batch) - len(fresh)
            vectors = _vectors_for(fresh, embedder, target.dimension, reuse_vectors, report)
            report.imported += _write(store, list(zip(fresh, vectors, strict=True)), report)
            bar.update(len(batch))
    finally:
        bar.close()
    return report


def _exists(store: VectorStore, record: MemoryRecord) -> bool:
    return bool(store.get([record.id], record.scope, include_deleted=True))


def _vectors_for(entries: Sequence[ExportLine], embedder: Embedder, dimension: int,
                 reuse: bool, report: ImportReport) -> list[list[float]]:
    vectors: list[list[float] | None] = [
        e.vector if reuse and e.vector is not None and len(e.vector) == dimension else None
        for e in entries
    ]
    missing = [i for i, v in enumerate(vectors) if v is None]
    if missing:
        embedded = embedder.embed([entries[i].record.text for i in missing], purpose="document")
        for i, vector in zip(missing, embedded, strict=True):
            vectors[i] = [float(x) for x in vector]
        report.reembedded += len(missing)
    return [v for v in vectors if v is not None]


def _write(store: VectorStore, pending: list[tuple[ExportLine, list[float]]],
           report: ImportReport) -> int:
    """Contract v2 takes one change per id and apply: the first history entry creates
    each record, the k-th later one updates version k, one batch per round. A record
    whose text its scope already holds live is skipped (the store refuses duplicates)."""
    while True:
        try:
            store.apply([Change(record=e.record.model_copy(update={"version": 1}), vector=v,
                                history=e.history[0] if e.history else None) for e, v in pending])
            break
        except DuplicateMemory as exc:
            pending = [(e, v) for e, v in pending if e.record.id != exc.memory_id]
            report.skipped_existing += 1
    rounds = max((len(e.history) for e, _ in pending), default=0)
    for k in range(1, rounds):
        store.apply([Change(record=e.record.model_copy(update={"version": k + 1}),
                            history=e.history[k], expected_version=k)
                     for e, _ in pending if len(e.history) > k])
    return len(pending)


# --- the subcommands ---------------------------------------------------------------


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "export", parents=[common], help="write a scope's memories as JSON Lines",
        description="Export every memory of the scope (including deleted and expired ones) "
        "with its history, as JSON Lines.",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--vectors", action="store_true",
                   help="include stored vectors (needs a store with vector_read)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_export)

    p = subparsers.add_parser(
        "import", parents=[common], help="load a `memplane export` file",
        description="Import a JSON Lines export. Ids, timestamps and history are kept; ids "
        "already present are skipped, so importing twice is harmless. Texts are embedded "
        "again when the file's embedder differs from the configured one.",
    )
    p.add_argument("file", help="the export file; '-' reads stdin")
    p.add_argument("--reembed", action="store_true",
                   help="embed every text again even when the file's vectors fit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_import)


def cmd_export(args: argparse.Namespace) -> int:
    scope = scope_of(args, "export")
    with open_memory(args) as memory:
        store, embedder = memory.routed("vector_stores"), memory.routed("embedders")
        if args.output:
            with Path(args.output).open("w", encoding="utf-8") as out:
                count = export_scope(store, embedder, scope, out, vectors=args.vectors,
                                     show_progress=not args.no_progress)
        else:
            count = export_scope(store, embedder, scope, sys.stdout, vectors=args.vectors,
                                 show_progress=not args.no_progress)
    sys.stderr.write(f"exported {count} memories ({json.dumps(scope_kwargs(scope))})\n")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    if args.file == "-":
        header, entries = read_export(iter(sys.stdin))
    else:
        path = Path(args.file)
        if not path.is_file():
            raise ValidationError(f"no such file: {args.file}")
        with path.open(encoding="utf-8") as handle:
            header, entries = read_export(iter(handle))
    with open_memory(args) as memory:
        report = import_entries(memory.routed("vector_stores"), memory.routed("embedders"), header, entries,
                                force_reembed=args.reembed,
                                show_progress=not args.no_progress)
    if args.json:
        print_json(report)
    else:
        sys.stdout.write(
            f"imported {report.imported}, skipped {report.skipped_existing} already present, "
            f"embedded {report.reembedded} again\n"
        )
    return 0
