"""`memplane export` and `memplane import`: one scope's memories as JSON Lines.

The first line is a header; every other line is one memory with its history and,
with ``--vectors``, its stored vector::

    {"format": "memplane-export", "version": 2, "exported_at": "...",
     "scope": {"user_id": "alice"}, "embedder": {"provider": "hashing",
     "model": "feature-hashing-v1", "dimension": 256}, "vectors": false, "count": 2, "sha256": "..."}
    {"record": {...MemoryRecord...}, "history": [{...HistoryEntry...}], "vector": null}

``count`` and ``sha256`` (over the record lines) let import detect a file cut at a
line boundary. Export includes soft-deleted and expired memories, so a restore after
an import still works. Import rules (all-or-nothing, scopes) are in
:mod:`memplane.cli.import_file`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from memplane.cli.import_file import (
    FORMAT,
    VERSION,
    ExportHeader,
    ExportLine,
    ImportReport,
    import_entries,
    read_export,
    retarget,
)
from memplane.cli.output import print_json
from memplane.cli.progress import progress
from memplane.cli.session import open_memory, scope_kwargs, scope_of
from memplane.errors import UnsupportedCapability, ValidationError
from memplane.models import Scope, utcnow
from memplane.providers.base import Capability, Embedder, VectorStore
from memplane.providers.identity import EMBEDDER_KEY, EmbedderIdentity

__all__ = ["ExportHeader", "ExportLine", "ImportReport", "export_scope", "import_entries", "read_export"]

#: records per list_records page: every page is a store call (and, on the sqlite store,
#: a sort of the scope's rows), so a 100k export takes 200 pages, not 1 600
BATCH = 500
#: record lines are spooled here until the header (count, checksum) can be written.
SPOOL_BYTES = 16 * 1024 * 1024


# --- export ------------------------------------------------------------------------


def export_scope(store: VectorStore, embedder: Embedder, scope: Scope, out: IO[str], *,
                 vectors: bool, show_progress: bool) -> int:
    """Write the header (with count and checksum) and every memory of ``scope``."""
    if vectors and not store.has("vector_read"):
        raise UnsupportedCapability(
            f"vector store {store.name!r} cannot read vectors back: export without "
            f"--vectors (import then embeds the texts again)"
        )
    total = store.count(scope, include_deleted=True, include_expired=True)
    bar = progress(total, "exporting", enabled=show_progress)
    digest = hashlib.sha256()
    written = 0
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+", encoding="utf-8") as body:
        try:
            cursor: str | None = None
            while True:
                page = store.list_records(scope, limit=BATCH, cursor=cursor,
                                          include_deleted=True, include_expired=True)
                stored = store.get_vectors([r.id for r in page.records], scope) if vectors else {}
                for record in page.records:
                    line = ExportLine(record=record, history=store.history(record.id, scope),
                                      vector=stored.get(record.id)).model_dump_json() + "\n"
                    digest.update(line.encode("utf-8"))
                    body.write(line)
                    written += 1
                    bar.update()
                cursor = page.next_cursor
                if cursor is None:
                    break
        finally:
            bar.close()
        header = ExportHeader(format=FORMAT, version=VERSION, exported_at=utcnow().isoformat(),
                              scope=dict(scope.items()), embedder=vectors_identity(store, embedder),
                              vectors=vectors, count=written, sha256=digest.hexdigest())
        out.write(header.model_dump_json() + "\n")
        body.seek(0)
        for chunk in iter(lambda: body.read(1 << 16), ""):
            out.write(chunk)
    return written


def vectors_identity(store: VectorStore, embedder: Embedder) -> EmbedderIdentity | None:
    """Who made the stored vectors: the identity the store records (an export from a
    store opened with another embedder must not label its vectors as the new one's,
    or import would reuse them), else the configured embedder; None when the record
    is unreadable (import then embeds again)."""
    if store.has(Capability.STORE_INFO):
        value = store.get_info(EMBEDDER_KEY)
        if value is not None:
            return EmbedderIdentity.decode(value)
    return embedder.identity()


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
        description="Import a JSON Lines export, all or nothing: the whole file is checked "
        "first (UTF-8, JSON, the header's count and checksum, ids, history, vectors). Memories "
        "go into the scope given with --user/--agent/--run (default: the scope the file was "
        "exported from), replacing the file's scope ids. Ids, timestamps and history are kept; "
        "ids already present are skipped, so importing twice is harmless. Texts are embedded "
        "again when the file's embedder differs from the configured one.",
    )
    p.add_argument("--keep-scopes", action="store_true",
                   help="write each memory into the scope the file names (no --user/--agent/--run)")
    p.add_argument("file", help="the export file; '-' reads stdin")
    p.add_argument("--reembed", action="store_true",
                   help="embed every text again even when the file's vectors fit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_import)


def cmd_export(args: argparse.Namespace) -> int:
    scope = scope_of(args, "export")
    if getattr(args, "server", None):
        return _export_remote(args, scope)
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


def _read_file(name: str) -> tuple[ExportHeader, list[ExportLine]]:
    if name == "-":
        stdin: Any = getattr(sys.stdin, "buffer", sys.stdin)  # bytes: bad UTF-8 is reported per line
        return read_export(iter(stdin))
    path = Path(name)
    if not path.is_file():
        raise ValidationError(f"no such file: {name}")
    with path.open("rb") as handle:
        return read_export(iter(handle))


def _export_remote(args: argparse.Namespace, scope: Scope) -> int:
    from memplane.client import MemoryClient

    with MemoryClient(args.server) as client:
        lines = client.export_lines(**scope_kwargs(scope), vectors=args.vectors)
        if args.output:
            with Path(args.output).open("w", encoding="utf-8") as out:
                out.writelines(line + "\n" for line in lines)
        else:
            sys.stdout.writelines(line + "\n" for line in lines)
    return 0


def _import_remote(args: argparse.Namespace) -> int:
    from memplane.client import MemoryClient

    scope = scope_of(args, "import", required=False)
    if args.file == "-":
        lines = list(sys.stdin)
    else:
        with Path(args.file).open(encoding="utf-8") as handle:
            lines = list(handle)
    with MemoryClient(args.server) as client:
        report = client.import_lines(lines, **scope_kwargs(scope), reembed=args.reembed)
    if args.json:
        print_json(report)
    else:
        sys.stdout.write(f"imported {report['imported']}, skipped {report['skipped_existing']} "
                         f"already present, embedded {report['reembedded']} again\n")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    if getattr(args, "server", None):
        return _import_remote(args)
    header, entries = _read_file(args.file)
    if header.count is None:
        sys.stderr.write("warning: the file has no record count or checksum (an older export); "
                         "a file cut short cannot be detected\n")
    entries = retarget(header, entries, scope_of(args, "import", required=False),
                       keep_scopes=args.keep_scopes)
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
