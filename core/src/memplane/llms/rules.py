"""``rules``: an APPROXIMATE, rule-based stand-in for an LLM (entry point ``rules``).

There is no model here. It reads the machine-readable blocks the pipeline puts in
its prompt (``<existing_memories>``, ``<new_messages>``, ``<messages>``) and applies
a handful of English patterns so the whole ADD/UPDATE/DELETE/NONE pipeline runs
offline, deterministically, in tests and the demo. It misses most of what a real
LLM would catch; real use needs a real LLM provider (openai, anthropic, gemini,
bedrock, or a local OpenAI-compatible server).

What it recognises, in the user's messages only (assistant turns are ignored):

- first-person statements become facts: "I like sushi" -> "User likes sushi",
  "I'm a nurse" -> "User is a nurse", "My sister is Anna" -> "User's sister is Anna";
  questions and very short remarks are skipped;
- a fact equal (after normalisation) to an existing memory is NONE;
- change cues -> UPDATE of the most related existing memory: "I switched to X",
  "now I prefer X", "I moved to X", "... , not Y" ("Actually I live in Berlin, not
  Munich"); the related memory is the one sharing the most subject words (or, for
  change cues, the same kind of fact: preference, place, work); no match -> ADD;
- retraction cues -> DELETE of the memory sharing subject words (or, for a topic
  noun such as "job" or "home", the memory of that kind): "forget that ...",
  "forget my job", "delete ...", "I no longer ...", "I don't ... anymore",
  "I stopped ...", "I quit ...";
- first-person clauses joined by "and"/"but" are separate statements ("My name is
  Dana and I live in Chicago" is two facts); "call me Dana" is a name.

Whatever it cannot read (a statement that matches no pattern, a retraction that
matches no memory) becomes a NONE decision without an id whose reason says so; the
parser reports it as a ``nothing_recorded`` diagnostic, so it never fails silently.
(In two-pass mode the extraction schema has no room for this: unread sentences are
not reported there.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from memplane.models import ChatMessage, Usage, normalise_text
from memplane.pipeline.prompts import read_block
from memplane.providers.base import LLM, LLMResponse, ProviderConfig
from memplane.tokens import estimate_tokens

SUBJECT = "User"

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+|;\s*")
#: "..., and I live in X" / "... but my ...": coordinated first-person clauses.
_CLAUSE_SPLIT = re.compile(r",?\s+(?:and|but)\s+(?=(?:i|i'm|i've|i'd|my)\b)", re.IGNORECASE)
_CALL_ME = re.compile(r"^(?:you can\s+|please\s+)?call me\s+(.+)$", re.IGNORECASE)
_LEAD_IN = re.compile(
    r"^(?:(?:actually|well|oh|also|so|and|but|btw|by the way|hey|hi|hello|yes|yeah|no|ok|okay|"
    r"um|hmm|anyway|oh well)\b[,!.]?\s*)+",
    re.IGNORECASE,
)
_FIXED_SUBJECTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.IGNORECASE), r)
    for p, r in [
        (r"^i\s+am\b", "User is"), (r"^i'm\b", "User is"), (r"^i've\b", "User has"),
        (r"^i\s+have\b", "User has"), (r"^i'd\b", "User would"), (r"^i'll\b", "User will"),
        (r"^i\s+will\b", "User will"), (r"^i\s+was\b", "User was"),
        (r"^i\s+don't\b", "User doesn't"), (r"^i\s+do\s+not\b", "User does not"),
        (r"^i\s+didn't\b", "User didn't"), (r"^i\s+can't\b", "User can't"),
        (r"^i\s+cannot\b", "User cannot"), (r"^i\s+won't\b", "User won't"),
        (r"^my\b", "User's"),
    ]
]  # fmt: skip
_ADVERB = r"(?:\w+ly|also|now|still|always|never|usually|often|just|recently|already|no longer)"
_I_VERB = re.compile(rf"^i\s+(?:({_ADVERB})\s+)?([a-z]+)\b", re.IGNORECASE)
_INNER: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bI'm\b"), "User is"), (re.compile(r"\bI\b"), "User"),
    (re.compile(r"\bmy\b", re.IGNORECASE), "User's"), (re.compile(r"\bmyself\b", re.IGNORECASE), "User"),
    (re.compile(r"\bme\b", re.IGNORECASE), "User"), (re.compile(r"\bmine\b", re.IGNORECASE), "User's"),
]  # fmt: skip
_MODALS = frozenset(["can", "could", "should", "would", "might", "must", "will", "shall", "may"])
_PAST = frozenset(
    ["went", "was", "were", "had", "got", "made", "took", "saw", "came", "met", "bought", "left", "began", "became", "found", "gave", "knew", "ran", "said", "thought", "told", "wrote", "grew", "spent", "felt", "kept", "lost", "paid", "sold", "sent"]
)
_IRREGULAR = {"have": "has", "do": "does", "go": "goes", "be": "is", "am": "is"}
#: verbs that open small talk rather than a fact ("I see", "I think so").
_SMALL_TALK = frozenset(["sees", "guesses", "agrees", "means", "understands", "supposes", "bets", "wonders", "thinks", "knows", "hopes"])

_RETRACT_FORGET = re.compile(
    r"^(?:please\s+|can you\s+|could you\s+)?(?:forget|delete|remove|erase|disregard)\s+"
    r"(?:the fact\s+|that\s+|about\s+)*(.+)$",
    re.IGNORECASE,
)
_RETRACT_THIRD = re.compile(
    r"^User(?:'s)?\s+(?:no longer|is no longer|stopped|quit|quits|has stopped|has quit)\s+(.+)$"
    r"|^User\s+(?:doesn't|does not|isn't|is not)\s+(.+?)\s+any\s?more$",
    re.IGNORECASE,
)
_CHANGE_TO = re.compile(r"\b(switched|moved|changed|migrated)\s+(?:over\s+)?to\s+(.+)$", re.IGNORECASE)
_NOW_PREFER = re.compile(r"^User\s+now\s+(prefers|uses|likes|loves|lives in|works at|works for)\s+(.+)$", re.IGNORECASE)
_NOT_CLAUSE = re.compile(r"^(.+?),\s*(?:and\s+)?not\s+(?:in\s+|at\s+|a\s+|an\s+)?([^,]+)$", re.IGNORECASE)
_LEADING_ACTUALLY = re.compile(r"^actually\b[,]?\s*", re.IGNORECASE)
_NOW_FIRST = re.compile(r"^now,?\s+i\s+", re.IGNORECASE)  # "Now I prefer" -> "I now prefer"
_KEEP_VERB = re.compile(r"^User\s+(prefers|likes|uses|loves|enjoys)\s+", re.IGNORECASE)

_STOPWORDS = frozenset(
    ["a", "an", "the", "is", "are", "was", "were", "be", "been", "to", "of", "in", "on", "at", "for", "with", "and", "or", "but", "not", "no", "that", "this", "it", "its", "as", "by", "from", "has", "have", "had", "do", "does", "did", "doesn", "don", "t", "s", "user", "users", "now", "also", "really", "very", "so", "just", "i", "my", "me", "anymore", "any", "more", "longer", "than", "then"]
)
_FAMILIES = {
    "pref": ["prefer", "like", "love", "enjoy", "use", "favorite", "favourite", "fan", "switched", "switch", "migrated"],
    "place": ["live", "moved", "move", "based", "reside", "city", "home"],
    "work": ["work", "job", "employed", "company", "employer", "engineer", "developer"],
}
_FAMILY_OF = {w: f for f, words in _FAMILIES.items() for w in words}
#: nouns that name a kind of fact: "forget my job" retracts the work memory.
_TOPIC_NOUNS = {"job": "work", "work": "work", "employer": "work", "company": "work",
                "home": "place", "city": "place", "address": "place", "place": "place"}


def _stem(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in re.findall(r"\w+", text.casefold()) if w not in _STOPWORDS}


def _families(words: set[str]) -> set[str]:
    return {_FAMILY_OF[w] for w in words if w in _FAMILY_OF}


def _conjugate(verb: str) -> str:
    low = verb.lower()
    if low in _MODALS or low in _PAST or low.endswith("ed"):
        return verb
    if low in _IRREGULAR:
        return _IRREGULAR[low]
    if low.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if len(low) > 1 and low.endswith("y") and low[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def to_third_person(sentence: str) -> str | None:
    """A first-person statement as a "User ..." sentence; None when it is not one."""
    text = sentence.replace("\u2019", "'").strip().rstrip(".!")
    text = _LEAD_IN.sub("", text).strip()
    if not text or text.endswith("?"):
        return None
    if re.match(rf"^{SUBJECT}\b", text):
        out = text  # already third person (a fact from the extraction pass)
    else:
        for pattern, replacement in _FIXED_SUBJECTS:
            if pattern.match(text):
                out = pattern.sub(replacement, text, count=1)
                break
        else:
            m = _I_VERB.match(text)
            if m is None:
                return None
            adverb = f"{m.group(1)} " if m.group(1) else ""
            out = f"{SUBJECT} {adverb}{_conjugate(m.group(2))}{text[m.end():]}"
    head, rest = out[: len(SUBJECT) + 3], out[len(SUBJECT) + 3 :]
    for pattern, replacement in _INNER:
        rest = pattern.sub(replacement, rest)
    out = head + rest
    words = out.split()
    if len(words) < 3 or words[1].lower() in _SMALL_TALK:
        return None
    return out


@dataclass(frozen=True)
class Statement:
    """What one sentence means to the rules."""

    kind: Literal["fact", "change", "retract"]
    text: str  # the fact as it should be stored (retract: the retracted content)
    hint: str | None = None  # change: words of the value being replaced, when stated
    cue: str = ""


def classify(sentence: str) -> Statement | None:
    clean = sentence.replace("\u2019", "'").strip().rstrip(".!")
    clean = _NOW_FIRST.sub("I now ", _LEADING_ACTUALLY.sub("", clean))
    call_me = _CALL_ME.match(clean)
    if call_me:
        return Statement("fact", f"{SUBJECT}'s name is {call_me.group(1).strip()}", cue="statement")
    forget = _RETRACT_FORGET.match(clean)
    if forget:
        retracted = to_third_person(forget.group(1)) or forget.group(1)
        return Statement("retract", retracted, cue="forget")
    third = to_third_person(clean)
    if third is None:
        return None
    retract = _RETRACT_THIRD.match(third)
    if retract:
        return Statement("retract", f"{SUBJECT} {retract.group(1) or retract.group(2)}", cue="no longer")
    now = _NOW_PREFER.match(third)
    if now:
        return Statement("change", f"{SUBJECT} {now.group(1)} {now.group(2)}", cue="now")
    change = _CHANGE_TO.search(third)
    if change:
        verb, value = change.group(1).lower(), change.group(2).strip()
        text = f"{SUBJECT} lives in {value}" if verb == "moved" else third
        return Statement("change", text, hint=None, cue=f"{verb} to")
    not_clause = _NOT_CLAUSE.match(third)
    if not_clause:
        return Statement("change", not_clause.group(1).strip(), hint=not_clause.group(2).strip(), cue="not")
    return Statement("fact", third, cue="statement")


def _topic_match(statement: Statement, existing: Sequence[tuple[int, str]]) -> tuple[int, str] | None:
    """For a retraction naming a topic ("forget my job"): the one memory of that kind."""
    topics = {_TOPIC_NOUNS[w] for w in content_words(statement.text) if w in _TOPIC_NOUNS}
    found = [(i, t) for i, t in existing if topics & _families(content_words(t))]
    return found[0] if len(found) == 1 else None


def _best_match(statement: Statement, existing: Sequence[tuple[int, str]], *, allow_family: bool) -> tuple[int, str] | None:
    """The existing memory sharing the most subject words (ties: lowest id, which the
    pipeline lists most similar first)."""
    probe = content_words(statement.hint) if statement.hint else content_words(statement.text)
    probe_families = _families(content_words(statement.text) | content_words(statement.cue))
    best: tuple[int, tuple[int, str]] | None = None
    for small_id, text in existing:
        words = content_words(text)
        score = 2 * len(probe & words)
        if allow_family and probe_families & _families(words):
            score += 1
        if score > 0 and (best is None or score > best[0]):
            best = (score, (small_id, text))
    return best[1] if best else None


def _updated_text(statement: Statement, old_text: str) -> str:
    """Keep the old memory's verb for preference switches: "User prefers Python" +
    "switched to TypeScript" -> "User prefers TypeScript"."""
    change = _CHANGE_TO.search(statement.text)
    keep = _KEEP_VERB.match(old_text)
    if change and keep and change.group(1).lower() != "moved":
        return f"{SUBJECT} {keep.group(1)} {change.group(2).strip()}"
    return statement.text


def sentences(text: str) -> list[str]:
    parts = (c for s in _SENTENCE_SPLIT.split(text) if s for c in _CLAUSE_SPLIT.split(s))
    return [c.strip() for c in parts if c and c.strip()]


def _worth_reporting(sentence: str) -> bool:
    """Questions and two-word remarks ("thanks a lot") are not lost facts."""
    return not sentence.rstrip().endswith("?") and len(sentence.split()) >= 3


UNRECOGNISED = "unrecognised: the rules LLM has no pattern for this (it is approximate; use a real LLM)"
UNMATCHED = "unrecognised: a retraction that matches no stored memory"


def _unrecognised(text: str, reason: str = UNRECOGNISED) -> dict[str, Any]:
    return {"event": "NONE", "text": text, "reason": reason}


def decide(existing: Sequence[tuple[int, str]], new_items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The decision list for the update call (unread sentences as id-less NONEs)."""
    known = {normalise_text(t): i for i, t in existing}
    decisions: list[dict[str, Any]] = []
    touched: set[int] = set()
    added: set[str] = set()
    for item in new_items:
        if item.get("role") not in ("user", "fact") or not isinstance(item.get("content"), str):
            continue
        for sentence in sentences(item["content"]):
            st = classify(sentence)
            if st is None:
                if _worth_reporting(sentence):
                    decisions.append(_unrecognised(sentence))
                continue
            if st.kind == "retract":
                open_ = [(i, t) for i, t in existing if i not in touched]
                target = _best_match(st, open_, allow_family=False) or _topic_match(st, open_)
                if target is not None:
                    touched.add(target[0])
                    decisions.append({"event": "DELETE", "id": target[0], "reason": f"retraction cue ({st.cue})"})
                else:
                    decisions.append(_unrecognised(sentence, UNMATCHED))
                continue
            key = normalise_text(st.text)
            if key in known:
                if known[key] not in touched:
                    decisions.append({"event": "NONE", "id": known[key], "reason": "already known"})
                continue
            if st.kind == "change":
                target = _best_match(st, [(i, t) for i, t in existing if i not in touched], allow_family=True)
                if target is not None:
                    touched.add(target[0])
                    decisions.append({"event": "UPDATE", "id": target[0], "text": _updated_text(st, target[1]),
                                      "reason": f"change cue ({st.cue})"})
                    continue
            if key not in added:
                added.add(key)
                decisions.append({"event": "ADD", "text": st.text, "reason": st.cue})
    return decisions


def extract(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    """The fact list for the extraction call (two-pass mode)."""
    facts: list[str] = []
    for item in messages:
        if item.get("role") != "user" or not isinstance(item.get("content"), str):
            continue
        for sentence in sentences(item["content"]):
            st = classify(sentence)
            if st is None:
                continue
            if st.kind == "retract":
                rest = st.text[len(SUBJECT) + 1 :] if st.text.startswith(SUBJECT + " ") else st.text
                facts.append(f"{SUBJECT} no longer {rest}")
            elif st.kind == "change" and st.hint:
                facts.append(f"{st.text}, not {st.hint}")
            else:
                facts.append(st.text)
    return facts


class RulesLLM(LLM):
    """APPROXIMATE rule-based decisions, no model: for offline demos and tests only."""

    name: ClassVar[str] = "rules"
    description: ClassVar[str] = (
        "approximate rule-based stand-in for an LLM (English first-person patterns); "
        "use a real LLM provider for real use"
    )
    capabilities: ClassVar[frozenset[str]] = frozenset({"json_schema"})

    class Config(ProviderConfig):
        pass

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "response",
        max_tokens: int | None = None,
    ) -> LLMResponse:
        prompt = "\n".join(m.content for m in messages if m.role == "user")
        wants_facts = schema_name == "facts" or "facts" in (json_schema or {}).get("properties", {})
        answer: dict[str, Any]
        if wants_facts:
            answer = {"facts": extract(read_block(prompt, "messages") or [])}
        else:
            existing = [
                (int(e["id"]), str(e["text"]))
                for e in read_block(prompt, "existing_memories") or []
                if isinstance(e, dict) and isinstance(e.get("id"), int) and isinstance(e.get("text"), str)
            ]
            answer = {"decisions": decide(existing, read_block(prompt, "new_messages") or [])}
        text = json.dumps(answer, ensure_ascii=False)
        usage = Usage(
            prompt_tokens=sum(estimate_tokens(m.content) for m in messages),
            completion_tokens=estimate_tokens(text),
        )
        return LLMResponse(text=text, structured=answer, usage=usage, model="rules")
