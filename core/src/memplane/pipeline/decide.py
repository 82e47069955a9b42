"""From parsed decisions to a safe plan: id mapping and semantic checks.

The LLM never sees a real memory id. :class:`IdMap` shows it the retrieved memories
as ``0..k-1``; every id in the reply is looked up here, and anything that does not
resolve is a diagnostic, never a write. The checks, in order:

- ADD needs text; an ADD whose text is (after normalisation) an existing memory's
  or an earlier ADD's is turned into NONE — duplicates are never stored twice;
- UPDATE needs a valid id and text; an UPDATE to the same text is NONE;
- DELETE needs a valid id;
- one write per memory: a second UPDATE/DELETE of the same id is rejected;
- DELETEs are held back when any ADD/UPDATE of the same reply was rejected:
  the rejected item may be the new half of a contradiction, and deleting the old
  fact without recording the new one would lose information.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from memplane.models import Decision, Diagnostic, EventName, MemoryRecord, text_hash
from memplane.pipeline.parsing import REJECTED, note


class IdMap:
    """Small integers for the memories shown to the LLM."""

    def __init__(self, records: Sequence[MemoryRecord]) -> None:
        self.records = list(records)

    def resolve(self, small_id: int | None) -> MemoryRecord | None:
        if small_id is None or isinstance(small_id, bool) or not 0 <= small_id < len(self.records):
            return None
        return self.records[small_id]

    def shown(self) -> list[tuple[int, str]]:
        return [(i, r.text) for i, r in enumerate(self.records)]


@dataclass
class Step:
    """One accepted decision, resolved to real records."""

    event: EventName
    target: MemoryRecord | None = None
    text: str | None = None
    reason: str | None = None
    attributed_to: str | None = None


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def writes(self) -> list[Step]:
        return [s for s in self.steps if s.event != "NONE"]


def plan_decisions(
    decisions: Sequence[Decision], ids: IdMap, *, invalid_items: int = 0
) -> Plan:
    """Resolve and check decisions. ``invalid_items`` counts reply items that failed
    validation before this step (they also hold DELETEs back)."""
    plan = Plan()
    known = {r.hash: r for r in ids.records}
    added: set[str] = set()
    written: set[str] = set()
    deletes: list[Step] = []
    write_rejected = invalid_items > 0

    def reject(code: str, message: str, position: int, decision: Decision) -> None:
        plan.diagnostics.append(
            note(code, message, REJECTED, position=position, decision=decision.model_dump())
        )

    for pos, d in enumerate(decisions):
        target = ids.resolve(d.id)
        text = (d.text or "").strip()
        if d.event == "ADD":
            if not text:
                write_rejected = True
                reject("missing_text", f"decision {pos}: ADD without text", pos, d)
                continue
            digest = text_hash(text)
            if digest in known:
                plan.steps.append(Step("NONE", known[digest], reason="already known"))
                plan.diagnostics.append(note("duplicate_add", f"decision {pos}: ADD repeats a known memory; recorded as NONE", position=pos))
            elif digest in added:
                plan.diagnostics.append(note("duplicate_add", f"decision {pos}: ADD repeats an earlier ADD; dropped", position=pos))
            else:
                added.add(digest)
                plan.steps.append(Step("ADD", None, text, d.reason, d.attributed_to))
            continue
        if d.event == "NONE":
            if d.id is not None and target is None:
                plan.diagnostics.append(
                    note("unknown_id", f"decision {pos}: NONE names unknown id {d.id}; ignored", "ignored", position=pos)
                )
            plan.steps.append(Step("NONE", target, reason=d.reason))
            continue
        # UPDATE / DELETE need a real target.
        if target is None:
            write_rejected = write_rejected or d.event == "UPDATE"
            if d.id is None:
                reject("missing_id", f"decision {pos}: {d.event} without an id", pos, d)
            else:
                reject("unknown_id", f"decision {pos}: {d.event} names id {d.id}, which was not shown", pos, d)
            continue
        if target.id in written:
            write_rejected = write_rejected or d.event == "UPDATE"
            reject("conflicting_decision", f"decision {pos}: id {d.id} already has a change in this reply", pos, d)
            continue
        if d.event == "UPDATE":
            if not text:
                write_rejected = True
                reject("missing_text", f"decision {pos}: UPDATE without text", pos, d)
                continue
            written.add(target.id)
            if text_hash(text) == target.hash:
                plan.steps.append(Step("NONE", target, reason="unchanged"))
            else:
                plan.steps.append(Step("UPDATE", target, text, d.reason, d.attributed_to))
        else:
            written.add(target.id)
            deletes.append(Step("DELETE", target, reason=d.reason))

    if deletes and write_rejected:
        for step in deletes:
            assert step.target is not None
            plan.diagnostics.append(
                note("delete_held_back",
                     "DELETE not applied because another change in the same reply was rejected "
                     "(it may be the new fact that replaces this one)",
                     REJECTED, memory_id=step.target.id)
            )
    else:
        # ADD/UPDATE before DELETE: a store without atomic_apply that fails part-way
        # then still holds the new fact.
        plan.steps.extend(deletes)
    return plan
