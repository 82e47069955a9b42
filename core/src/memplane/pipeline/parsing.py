"""Turning an LLM reply into validated decisions: the parsing ladder.

1. native structured output (``LLMResponse.structured``) when the provider has it;
2. tolerant JSON extraction from the text: the whole text, then fenced code blocks,
   then the first balanced ``{...}`` / ``[...]`` — each also tried with trailing
   commas removed (chatty text around the JSON is ignored);
3. shape normalisation: a bare list, a single decision object, or a list under a
   synonymous key (``memories``, ``actions``, ...) is accepted with a note;
4. per-item validation against :class:`~memplane.models.Decision`, after mapping
   the field-name synonyms models commonly use (``action``/``type`` for ``event``,
   ``memory``/``fact`` for ``text``, ``memory_id``/``index`` for ``id``), event
   synonyms (``CREATE`` -> ADD, ``REMOVE`` -> DELETE, ``NOOP`` -> NONE, ...) and
   digit-string ids.

Guards: a reply nested deeper than :data:`MAX_JSON_DEPTH` is unusable (instead of a
RecursionError); an item holding a lone surrogate (not encodable text) or keys that
collide once case and synonyms are folded (``"event"`` beside ``"EVENT"``) is
rejected, since either reading could be the wrong one.

Anything that still fails is returned as a problem, never guessed. Whether to ask
the model again (the one repair retry) is the caller's decision.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from memplane.models import Decision, Diagnostic
from memplane.providers.base import LLMResponse

REPAIRED = "repaired"
REJECTED = "rejected"

EVENT_KEYS = ("event", "action", "type", "operation", "op", "event_type")
TEXT_KEYS = ("text", "memory", "fact", "content", "new_text", "new_memory", "value")
ID_KEYS = ("id", "memory_id", "index", "idx", "mem_id")
REASON_KEYS = ("reason", "why", "explanation", "rationale")
#: keys models echo back that carry nothing the decision needs.
ECHO_KEYS = frozenset({"old_memory", "old_text", "previous_text", "previous_memory", "confidence"})
LIST_KEYS = ("decisions", "memory", "memories", "actions", "changes", "operations", "updates", "results", "items", "events")
EVENT_SYNONYMS = {
    "ADD": "ADD", "CREATE": "ADD", "INSERT": "ADD", "NEW": "ADD",
    "UPDATE": "UPDATE", "MODIFY": "UPDATE", "EDIT": "UPDATE", "CHANGE": "UPDATE", "REPLACE": "UPDATE",
    "DELETE": "DELETE", "REMOVE": "DELETE", "FORGET": "DELETE",
    "NONE": "NONE", "NOOP": "NONE", "NO_OP": "NONE", "NO-OP": "NONE", "NOCHANGE": "NONE",
    "NO_CHANGE": "NONE", "SKIP": "NONE", "IGNORE": "NONE", "KEEP": "NONE",
}  # fmt: skip


#: deeper JSON is refused before parsing: json.loads would raise RecursionError.
MAX_JSON_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogate(text: str) -> bool:
    """True when ``text`` holds a lone surrogate, which no encoder can write."""
    return _SURROGATE.search(text) is not None


def scrub(value: Any, depth: int = 0) -> Any:
    """``value`` made safe to echo in diagnostics: surrogates replaced, depth capped."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if depth >= 8:
        return "..."
    if isinstance(value, dict):
        return {scrub(str(k)): scrub(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, depth + 1) for v in value]
    return value


def note(code: str, message: str, kind: str = REPAIRED, **detail: Any) -> Diagnostic:
    # detail echoes model output, which may hold surrogates or absurd nesting
    return Diagnostic(code=code, message=scrub(message), detail={"kind": kind, **scrub(detail)})


class ReplyUnusable(Exception):
    """The reply holds no usable JSON of the expected shape; ``str()`` says why."""


# --- step 2: JSON out of text ---------------------------------------------------

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)


def _strip_trailing_commas(text: str) -> str:
    """Remove commas directly before ``}`` or ``]`` outside strings."""
    out: list[str] = []
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            escaped = ch == "\\" and not escaped
            if ch == '"' and not escaped:
                in_string = False
            out.append(ch)
            continue
        if ch == '"':
            in_string = True
        elif ch == ",":
            rest = text[i + 1 :].lstrip()
            if rest[:1] in ("}", "]"):
                continue
        out.append(ch)
    return "".join(out)


def _balanced_spans(text: str) -> list[str]:
    """Each top-level balanced ``{...}`` or ``[...]`` span, in order (string-aware)."""
    spans: list[str] = []
    depth = 0
    start = -1
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"' and depth > 0:
            in_string = True
        elif ch in "{[":
            if depth == 0:
                start = i
            depth += 1
        elif ch in "}]" and depth > 0:
            depth -= 1
            if depth == 0:
                spans.append(text[start : i + 1])
    return spans


def json_depth(text: str) -> int:
    """Deepest ``{``/``[`` nesting in ``text`` outside strings (no recursion)."""
    deepest = depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "}]" and depth > 0:
            depth -= 1
    return deepest


def _value_depth(value: Any) -> int:
    """Deepest nesting of a decoded value (iterative: the value may be very deep)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _too_deep() -> ReplyUnusable:
    return ReplyUnusable(f"the reply nests JSON deeper than {MAX_JSON_DEPTH} levels")


def _loads(candidate: str) -> Any:
    for attempt in (candidate, _strip_trailing_commas(candidate)):
        try:
            return json.loads(attempt)
        except (json.JSONDecodeError, RecursionError):
            continue
    raise ValueError("not JSON")


def extract_json(text: str) -> tuple[Any, list[Diagnostic]]:
    """The first JSON value found in ``text``, with notes on how it was found."""
    stripped = text.strip()
    if not stripped:
        raise ReplyUnusable("the reply was empty")
    if json_depth(stripped) > MAX_JSON_DEPTH:
        raise _too_deep()
    try:
        return _loads(stripped), []
    except ValueError:
        pass
    for block in _FENCE.findall(stripped):
        try:
            return _loads(block.strip()), [note("json_in_fence", "took the JSON from a code fence")]
        except ValueError:
            continue
    for span in _balanced_spans(stripped):
        try:
            value = _loads(span)
        except ValueError:
            continue
        return value, [note("json_in_text", "took the JSON embedded in surrounding text")]
    if stripped.count("{") > stripped.count("}") or stripped.count("[") > stripped.count("]"):
        raise ReplyUnusable("the reply looks truncated (unbalanced brackets)")
    raise ReplyUnusable("the reply contains no JSON object")


# --- steps 3 and 4: shape and items -------------------------------------------------


class _Ambiguous(ValueError):
    """An item that can be read two ways; ``str()`` says why."""


def _fold_keys(raw: dict[Any, Any]) -> dict[str, Any]:
    """Keys stripped and lower-cased; two keys that fold together are ambiguous."""
    folded: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(key).strip().lower()
        if name in folded:
            raise _Ambiguous(f"keys differing only in case or spacing ({name!r})")
        folded[name] = value
    return folded


def _single_present(item: dict[str, Any], keys: tuple[str, ...], target: str) -> tuple[str | None, Any]:
    """The one synonym of ``target`` present; several with different values are ambiguous."""
    present = [(k, item[k]) for k in keys if k in item and item[k] is not None]
    distinct = {v.strip().casefold() if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
                for _, v in present}
    if len(distinct) > 1:
        raise _Ambiguous(f"conflicting values for {target!r} ({', '.join(k for k, _ in present)})")
    return present[0] if present else (None, None)


def _normalise_item(raw: dict[str, Any], notes: list[Diagnostic], position: int) -> dict[str, Any]:
    item = _fold_keys(raw)
    out: dict[str, Any] = {}
    for target, keys in (("event", EVENT_KEYS), ("text", TEXT_KEYS), ("id", ID_KEYS), ("reason", REASON_KEYS)):
        key, value = _single_present(item, keys, target)
        if key is None:
            continue
        if key != target:
            notes.append(note("field_synonym", f"read {key!r} as {target!r}", position=position))
        out[target] = value
    if "attributed_to" in item:
        out["attributed_to"] = item["attributed_to"]
    used = {k for keys in (EVENT_KEYS, TEXT_KEYS, ID_KEYS, REASON_KEYS) for k in keys}
    extra = sorted(set(item) - used - ECHO_KEYS - {"attributed_to"})
    if extra:
        # Unknown keys are kept so validation rejects the item: a field we do not
        # understand may change its meaning.
        out.update({k: item[k] for k in extra})
    event = out.get("event")
    if isinstance(event, str):
        canonical = EVENT_SYNONYMS.get(event.strip().upper().replace(" ", "_"))
        if canonical is not None:
            if canonical != event:
                notes.append(note("event_synonym", f"read event {event!r} as {canonical}", position=position))
            out["event"] = canonical
    ident = out.get("id")
    # isdigit() alone accepts superscripts and other scripts' digits that int() refuses
    if isinstance(ident, str) and ident.strip().isascii() and ident.strip().isdigit():
        out["id"] = int(ident.strip())
    elif isinstance(ident, float) and ident.is_integer():
        out["id"] = int(ident)
    if isinstance(out.get("text"), str):
        out["text"] = out["text"].strip()
    return out


def _decision_list(value: Any, notes: list[Diagnostic], list_key: str) -> list[Any]:
    if isinstance(value, list):
        notes.append(note("bare_list", "the reply was a bare list; read it as the decisions"))
        return value
    if not isinstance(value, dict):
        raise ReplyUnusable(f"expected a JSON object with a {list_key!r} list, got {type(value).__name__}")
    try:
        lowered = _fold_keys(value)
    except _Ambiguous as exc:
        raise ReplyUnusable(f"the reply object is ambiguous: {exc}") from None
    if isinstance(lowered.get(list_key), list):
        return list(lowered[list_key])
    for key in LIST_KEYS:
        if isinstance(lowered.get(key), list):
            notes.append(note("list_synonym", f"read {key!r} as {list_key!r}"))
            return list(lowered[key])
    if any(k in lowered for k in EVENT_KEYS):
        notes.append(note("single_decision", "the reply was one decision object; read it as a list of one"))
        return [value]
    raise ReplyUnusable(f"expected a JSON object with a {list_key!r} list, got keys {sorted(lowered)}")


@dataclass
class ParsedDecisions:
    decisions: list[Decision] = field(default_factory=list)
    notes: list[Diagnostic] = field(default_factory=list)
    #: items that failed validation (one diagnostic each).
    invalid: list[Diagnostic] = field(default_factory=list)

    def problem_summary(self) -> str:
        return "; ".join(d.message for d in self.invalid[:5])


def _reply_value(response: LLMResponse, notes: list[Diagnostic]) -> Any:
    if response.structured is not None:
        if _value_depth(response.structured) > MAX_JSON_DEPTH:
            raise _too_deep()
        return response.structured
    value, found = extract_json(response.text)
    notes.extend(found)
    return value


def parse_decisions(response: LLMResponse) -> ParsedDecisions:
    """Parse a reply to the decision call; raises :class:`ReplyUnusable` when the
    reply holds no decision list at all."""
    result = ParsedDecisions()
    items = _decision_list(_reply_value(response, result.notes), result.notes, "decisions")
    for position, raw in enumerate(items):
        if not isinstance(raw, dict):
            result.invalid.append(
                note("invalid_decision", f"decision {position} is a {type(raw).__name__}, not an object",
                     REJECTED, position=position, item=raw)
            )
            continue
        try:
            normalised = _normalise_item(raw, result.notes, position)
        except _Ambiguous as exc:
            result.invalid.append(
                note("ambiguous_decision", f"decision {position} is ambiguous ({exc}); not applied",
                     REJECTED, position=position, item=raw)
            )
            continue
        unencodable = [k for k in ("text", "reason") if isinstance(normalised.get(k), str) and has_surrogate(normalised[k])]
        if unencodable or any(has_surrogate(str(k)) for k in normalised):
            result.invalid.append(
                note("invalid_decision", f"decision {position} holds a lone surrogate in "
                     f"{', '.join(unencodable) or 'a key'} (not valid Unicode text)",
                     REJECTED, position=position, item=raw)
            )
            continue
        try:
            decision = Decision.model_validate(normalised, strict=True)
            result.decisions.append(decision)
            if decision.event == "NONE" and decision.id is None and decision.reason:
                # the LLM saw input and chose to record nothing: say so and why
                result.notes.append(note(
                    "nothing_recorded", f"nothing recorded for {decision.text or 'part of the input'!r}: "
                    f"{decision.reason}", "info", position=position, text=decision.text))
        except PydanticValidationError as exc:
            problems = ", ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'item'}: {e['msg']}" for e in exc.errors()
            )
            result.invalid.append(
                note("invalid_decision", f"decision {position} is invalid ({problems})",
                     REJECTED, position=position, item=raw)
            )
    return result


def parse_facts(response: LLMResponse) -> tuple[list[str], list[Diagnostic], list[Diagnostic]]:
    """Parse a reply to the extraction call: (facts, notes, invalid items)."""
    notes: list[Diagnostic] = []
    invalid: list[Diagnostic] = []
    items = _decision_list(_reply_value(response, notes), notes, "facts")
    facts: list[str] = []
    for position, raw in enumerate(items):
        item = raw
        if isinstance(item, dict):
            try:
                _, item = _single_present(_fold_keys(item), TEXT_KEYS, "text")
            except _Ambiguous as exc:
                invalid.append(note("ambiguous_fact", f"fact {position} is ambiguous ({exc})",
                                    REJECTED, position=position, item=raw))
                continue
        if isinstance(item, str) and has_surrogate(item):
            invalid.append(note("invalid_fact", f"fact {position} holds a lone surrogate (not valid Unicode text)",
                                REJECTED, position=position, item=raw))
        elif isinstance(item, str) and item.strip():
            facts.append(item.strip())
        else:
            invalid.append(note("invalid_fact", f"fact {position} is not a non-empty string",
                                REJECTED, position=position, item=raw))
    return facts, notes, invalid
