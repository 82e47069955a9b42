"""Data models: scopes, hashing, visibility, the decision schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError as PydanticError

from memplane.errors import ScopeRequired
from memplane.models import Decision, DecisionList, MemoryRecord, Scope, text_hash


def test_query_scope_matches_records_that_agree_on_every_set_id() -> None:
    alice = Scope(user_id="alice")
    assert alice.matches(Scope(user_id="alice", run_id="r1"))
    assert not alice.matches(Scope(user_id="bob"))
    assert not Scope(user_id="alice", run_id="r1").matches(Scope(user_id="alice"))


def test_empty_scope_is_refused_with_a_hint() -> None:
    with pytest.raises(ScopeRequired, match="user_id="):
        Scope().require("search")
    with pytest.raises(PydanticError):
        Scope(user_id="")


def test_hash_ignores_case_spacing_width_and_final_punctuation() -> None:
    assert text_hash("User likes  Python.") == text_hash("user likes python")
    assert text_hash("ＡＢＣ") == text_hash("abc")
    assert text_hash("User likes Python") != text_hash("User likes Rust")


def test_visibility_hides_deleted_and_expired_unless_asked() -> None:
    now = datetime.now(UTC)
    rec = MemoryRecord(text="x", scope=Scope(user_id="u"), expires_at=now - timedelta(seconds=1))
    assert not rec.is_visible(now)
    assert rec.is_visible(now, include_expired=True)
    rec = MemoryRecord(text="x", scope=Scope(user_id="u"), deleted_at=now)
    assert not rec.is_visible(now)
    assert rec.is_visible(now, include_deleted=True)


def test_decision_schema_rejects_unknown_events_and_fields() -> None:
    with pytest.raises(PydanticError):
        Decision.model_validate({"event": "MERGE", "text": "x"})
    with pytest.raises(PydanticError):
        Decision.model_validate({"event": "ADD", "text": "x", "memory": "y"})
    schema = DecisionList.model_json_schema()
    assert "decisions" in schema["properties"]


def test_diagnostic_kind_is_typed_and_mirrors_detail() -> None:
    import pydantic

    from memplane.models import Diagnostic
    from memplane.pipeline.parsing import note

    rejected = note("bad_item", "dropped", "rejected", position=2)
    assert rejected.kind == "rejected" and rejected.detail == {"kind": "rejected", "position": 2}
    assert Diagnostic(code="c", message="m").kind == "info"
    with pytest.raises(pydantic.ValidationError):
        Diagnostic(code="c", message="m", kind="whatever")  # type: ignore[arg-type]
