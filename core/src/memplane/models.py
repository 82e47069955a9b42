"""Data models shared by the core and every provider."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from memplane.errors import ScopeRequired

SCOPE_FIELDS = ("user_id", "agent_id", "run_id")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


_SPACES = re.compile(r"\s+")
_TRAILING_PUNCT = re.compile(r"[\s.!?;,]+$")


def normalise_text(text: str) -> str:
    """Case-, width- and whitespace-insensitive form used for duplicate detection."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _TRAILING_PUNCT.sub("", _SPACES.sub(" ", folded).strip())


def text_hash(text: str) -> str:
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


class Scope(BaseModel):
    """Who a memory belongs to. A query scope matches a record when every id the
    query sets is equal on the record (ids the query leaves unset are not compared)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None

    @field_validator("user_id", "agent_id", "run_id")
    @classmethod
    def _non_empty(cls, value: str | None) -> str | None:
        if value is not None and (not isinstance(value, str) or value == ""):
            raise ValueError("scope ids must be non-empty strings")
        return value

    def require(self, operation: str) -> Scope:
        if self.is_empty:
            raise ScopeRequired(operation)
        return self

    @property
    def is_empty(self) -> bool:
        return self.user_id is None and self.agent_id is None and self.run_id is None

    def items(self) -> list[tuple[str, str]]:
        """The ids that are set, in a fixed order."""
        return [(f, v) for f in SCOPE_FIELDS if (v := getattr(self, f)) is not None]

    def matches(self, other: Scope) -> bool:
        """True when ``other`` (a record's scope) lies inside this query scope."""
        return all(getattr(other, f) == v for f, v in self.items())


class Provenance(BaseModel):
    """Where a memory came from: the message(s) that produced it."""

    model_config = ConfigDict(extra="allow")

    role: str | None = None
    content: str | None = None
    name: str | None = None


class MemoryRecord(BaseModel):
    """One memory as stored. ``deleted_at`` set means soft-deleted (restorable)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_id)
    text: str
    scope: Scope
    metadata: dict[str, Any] = Field(default_factory=dict)
    hash: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    observed_at: datetime | None = None
    deleted_at: datetime | None = None
    expires_at: datetime | None = None
    source: list[Provenance] = Field(default_factory=list)
    attributed_to: str | None = None
    #: monotonic per memory: 1 when created, +1 with every applied change (contract v2).
    version: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _fill_hash(self) -> MemoryRecord:
        if not self.hash:
            self.hash = text_hash(self.text)
        return self

    def is_visible(self, now: datetime, *, include_deleted: bool = False,
                   include_expired: bool = False) -> bool:
        if self.deleted_at is not None and not include_deleted:
            return False
        expired = self.expires_at is not None and self.expires_at <= now
        return include_expired or not expired


class SearchHit(BaseModel):
    """A search result. ``score`` is a similarity in [0, 1], higher is better.
    With explain=True, ``signals`` holds each retrieval signal's contribution and
    share, and ``match`` the part of the text the keyword evidence came from (the
    window of the text holding most of the query's terms; None without keyword
    evidence, when the whole text is what the vector compared)."""

    record: MemoryRecord
    score: float = Field(ge=0.0, le=1.0)
    signals: dict[str, float] = Field(default_factory=dict)
    match: str | None = None

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def text(self) -> str:
        return self.record.text


class Page(BaseModel):
    """One page of a listing; pass ``next_cursor`` back to get the next page."""

    records: list[MemoryRecord]
    next_cursor: str | None = None


class HistoryEvent(StrEnum):
    ADD = "ADD"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    RESTORE = "RESTORE"


class HistoryEntry(BaseModel):
    """One change of one memory, written in the same transaction as the change."""

    id: str = Field(default_factory=new_id)
    memory_id: str
    event: HistoryEvent
    old_text: str | None = None
    new_text: str | None = None
    at: datetime = Field(default_factory=utcnow)
    actor: str | None = None
    reason: str | None = None


class Change(BaseModel):
    """What a store applies atomically: the record's new state (with its vector when
    the text changed, ``None`` to keep the stored vector) and the history entry.

    ``expected_version`` is the compare-and-set guard: ``None`` creates (the id must
    not exist anywhere), an int changes the stored record of that version, which then
    carries ``expected_version + 1`` (``record.version`` must say so already).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    record: MemoryRecord
    vector: list[float] | None = None
    history: HistoryEntry | None = None
    expected_version: int | None = None


# --- the decision contract -------------------------------------------------------

EventName = Literal["ADD", "UPDATE", "DELETE", "NONE"]


class Decision(BaseModel):
    """One line of the diff an LLM proposes. ``id`` is the small integer the prompt
    showed for an existing memory (required for UPDATE/DELETE/NONE-on-existing)."""

    model_config = ConfigDict(extra="forbid")

    event: EventName
    id: int | None = None
    text: str | None = None
    reason: str | None = None
    attributed_to: Literal["user", "assistant"] | None = None


class DecisionList(BaseModel):
    """The whole answer an LLM must give; its JSON schema is sent with the request."""

    model_config = ConfigDict(extra="forbid")

    decisions: list[Decision]


class FactList(BaseModel):
    """Answer of the extraction pass in two-pass mode."""

    model_config = ConfigDict(extra="forbid")

    facts: list[str]


# --- results ----------------------------------------------------------------------


class Usage(BaseModel):
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    embedding_calls: int = 0
    #: input tokens the embedding API reported (0 when it does not say)
    embedding_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.llm_calls += other.llm_calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.embedding_calls += other.embedding_calls
        self.embedding_tokens += other.embedding_tokens


class SearchResult(list[SearchHit]):
    """What ``search`` returns: the hits, best first (a plain list for existing code),
    plus ``usage``: the embedding call and any reranker LLM calls it cost."""

    def __init__(self, hits: list[SearchHit] | None = None, *, usage: Usage | None = None) -> None:
        super().__init__(hits or [])
        self.usage = usage if usage is not None else Usage()


DiagnosticKind = Literal["info", "repaired", "rejected", "ignored"]


class Diagnostic(BaseModel):
    """Something the pipeline rejected or repaired, and why. ``kind``: ``rejected``
    (an item was not applied), ``repaired`` (accepted after a fix), ``ignored`` (a
    harmless item dropped, e.g. NONE naming an unknown id), ``info``."""

    code: str
    message: str
    kind: DiagnosticKind = "info"
    detail: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _kind_from_detail(cls, data: Any) -> Any:
        # older code put the kind in detail["kind"]; both spellings stay in sync
        if isinstance(data, dict) and "kind" not in data:
            kind = (data.get("detail") or {}).get("kind")
            if kind is not None:
                data = {**data, "kind": kind}
        return data

    @model_validator(mode="after")
    def _kind_in_detail(self) -> Diagnostic:
        self.detail.setdefault("kind", self.kind)
        return self


class MemoryEvent(BaseModel):
    """An applied event: what ``add`` returns and what hook plugins receive."""

    event: EventName
    id: str | None = None
    text: str | None = None
    previous_text: str | None = None
    reason: str | None = None
    scope: Scope | None = None


class AddResult(BaseModel):
    events: list[MemoryEvent] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    diagnostics: list[Diagnostic] = Field(default_factory=list)

    def by_event(self, name: EventName) -> list[MemoryEvent]:
        return [e for e in self.events if e.event == name]


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    name: str | None = None
