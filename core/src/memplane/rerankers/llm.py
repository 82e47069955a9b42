"""A reranker that asks an LLM to grade each candidate for the query.

The LLM sees the query and the candidates as numbered passages and answers with a
0-10 grade per passage (a coarse integer scale is what chat models grade most
consistently); grades become scores in [0, 1] by dividing by 10. The grading schema
goes to the LLM as JSON schema; replies are parsed from native structured output
first, then tolerantly from text (code fences, chatty prefixes, several accepted
shapes). An unusable reply gets one repair retry that shows the model the error;
what still fails raises :class:`~memplane.errors.ProviderError` (or, with
``on_failure="input_order"``, keeps the candidates' input order).

Which LLM: the ``llm`` config block (``"openai:gpt-4o-mini"`` or
``{"provider": ..., "config": {...}}``) or, when that is unset, the one the caller
binds with :meth:`LLMReranker.bind_llm` — ``Memory`` binds its configured LLM.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field

from memplane.errors import ConfigurationError, ProviderError, ValidationError
from memplane.models import ChatMessage, Usage
from memplane.pipeline.parsing import MAX_JSON_DEPTH, json_depth
from memplane.providers.base import (
    LLM,
    LLMResponse,
    ProviderConfig,
    Reranked,
    Reranker,
    RerankResult,
)

GRADE_MAX = 10

SYSTEM_PROMPT = (
    "You grade search results. For every numbered passage, rate how useful it is for "
    f"answering the query, from 0 (unrelated) to {GRADE_MAX} (answers it directly). "
    "Grade every passage. Reply with JSON only: "
    '{"scores": [{"index": <passage number>, "score": <0-10>}]}'
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "scores": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "score": {"type": "integer", "minimum": 0, "maximum": GRADE_MAX},
                },
                "required": ["index", "score"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["scores"],
    "additionalProperties": False,
}


class LLMRerankerConfig(ProviderConfig):
    llm: str | dict[str, Any] | None = Field(
        default=None,
        description="LLM to grade with; unset means the LLM bound by Memory",
    )
    batch_size: int = Field(default=20, ge=1, le=200, description="passages per LLM call")
    max_document_chars: int = Field(
        default=1000, ge=20, description="longer passages are cut to this many characters"
    )
    repair_retries: int = Field(default=1, ge=0, le=3)
    on_failure: Literal["raise", "input_order"] = Field(
        default="raise",
        description="what an unparseable reply does: raise ProviderError, or keep input order",
    )


class GradeParseError(ValueError):
    """The LLM's reply holds no usable grades."""


class LLMReranker(Reranker):
    """Grades candidates with an LLM; scores in [0, 1], ties keep input order."""

    name: ClassVar[str] = "llm"
    Config: ClassVar[type[ProviderConfig]] = LLMRerankerConfig
    config: LLMRerankerConfig

    def __init__(
        self,
        config: ProviderConfig | Mapping[str, Any] | None = None,
        *,
        llm: LLM | None = None,
        **overrides: Any,
    ) -> None:
        super().__init__(config, **overrides)
        self._llm = llm

    # -- which LLM --------------------------------------------------------------------
    def bind_llm(self, llm: LLM) -> None:
        """Use ``llm`` unless one was configured or passed explicitly."""
        if self._llm is None and self.config.llm is None:
            self._llm = llm

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            if self.config.llm is None:
                raise ConfigurationError(
                    "the 'llm' reranker has no LLM: set rerankers config 'llm' (e.g. "
                    "'openai:gpt-4o-mini') or use it through Memory, which binds its own LLM"
                )
            from memplane.plugins.registry import create_provider  # lazy: avoids a cycle

            made = create_provider("llms", self.config.llm)
            assert isinstance(made, LLM)
            self._llm = made
        return self._llm

    # -- the call -----------------------------------------------------------------------
    def rerank(
        self, query: str, documents: Sequence[str], *, top_n: int | None = None
    ) -> list[RerankResult]:
        _check_args(query, top_n)
        usage = Usage()
        grades: dict[int, float] = {}
        for start in range(0, len(documents), self.config.batch_size):
            batch = documents[start : start + self.config.batch_size]
            grades.update(self._grade_batch(query, batch, start, usage))
        return Reranked(_ranked(grades, len(documents), top_n), usage=usage)

    async def arerank(
        self, query: str, documents: Sequence[str], *, top_n: int | None = None
    ) -> list[RerankResult]:
        _check_args(query, top_n)
        usage = Usage()
        grades: dict[int, float] = {}
        for start in range(0, len(documents), self.config.batch_size):
            batch = documents[start : start + self.config.batch_size]
            messages = self._messages(query, batch)
            for attempt in range(self.config.repair_retries + 1):
                response = await self.llm.agenerate(
                    messages, json_schema=SCHEMA, schema_name="grades",
                    max_tokens=_max_tokens(len(batch)),
                )
                done, messages = self._accept(response, messages, batch, start, grades, attempt,
                                              usage)
                if done:
                    break
        return Reranked(_ranked(grades, len(documents), top_n), usage=usage)

    def _grade_batch(self, query: str, batch: Sequence[str], start: int,
                     usage: Usage) -> dict[int, float]:
        grades: dict[int, float] = {}
        messages = self._messages(query, batch)
        for attempt in range(self.config.repair_retries + 1):
            response = self.llm.generate(
                messages, json_schema=SCHEMA, schema_name="grades",
                max_tokens=_max_tokens(len(batch)),
            )
            done, messages = self._accept(response, messages, batch, start, grades, attempt, usage)
            if done:
                break
        return grades

    def _accept(
        self,
        response: LLMResponse,
        messages: list[ChatMessage],
        batch: Sequence[str],
        start: int,
        grades: dict[int, float],
        attempt: int,
        usage: Usage,
    ) -> tuple[bool, list[ChatMessage]]:
        """Record a reply's grades and cost; returns (done, messages for a repair retry)."""
        usage.llm_calls += 1
        usage.prompt_tokens += response.usage.prompt_tokens
        usage.completion_tokens += response.usage.completion_tokens
        try:
            parsed = parse_grades(response, len(batch))
        except GradeParseError as exc:
            if attempt < self.config.repair_retries:
                return False, [
                    *messages,
                    ChatMessage(role="assistant", content=response.text or "(empty)"),
                    ChatMessage(
                        role="user",
                        content=f"That reply was not usable: {exc}. Answer again with JSON "
                        'only: {"scores": [{"index": <n>, "score": <0-10>}]}',
                    ),
                ]
            if self.config.on_failure == "input_order":
                return True, messages
            raise ProviderError(
                f"the llm reranker could not read grades from the LLM's reply ({exc}); "
                "use a model with JSON output, or set on_failure='input_order'",
                provider=self.name,
                retryable=False,
            ) from None
        grades.update({start + i: score for i, score in parsed.items()})
        return True, messages

    def _messages(self, query: str, batch: Sequence[str]) -> list[ChatMessage]:
        limit = self.config.max_document_chars
        lines = [f"[{i}] {_one_line(doc)[:limit]}" for i, doc in enumerate(batch)]
        user = f"Query: {_one_line(query)}\n\nPassages:\n" + "\n".join(lines)
        return [ChatMessage(role="system", content=SYSTEM_PROMPT), ChatMessage(role="user", content=user)]


# --- parsing ------------------------------------------------------------------------

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def parse_grades(response: LLMResponse, count: int) -> dict[int, float]:
    """Grades by passage index (0..count-1) as scores in [0, 1].

    Accepted shapes: ``{"scores": [{"index": i, "score": s}, ...]}``, the same list at
    top level, ``{"scores": [s0, s1, ...]}`` (grades in passage order) and
    ``{"0": s0, "1": s1}``. Grades are on the 0-10 scale; a reply whose grades are all
    within [0, 1] with at least one fraction is read as already normalised. Indices
    outside the batch are ignored; the first grade of a repeated index wins.
    """
    data: Any = response.structured
    if data is None:
        data = _extract_json(response.text)
    pairs = _pairs(data)
    pairs = [(i, s) for i, s in pairs if 0 <= i < count]
    if not pairs:
        raise GradeParseError("no grade for any passage index")
    fractions = all(0.0 <= s <= 1.0 for _, s in pairs) and any(s != int(s) for _, s in pairs)
    scale = 1.0 if fractions else float(GRADE_MAX)
    grades: dict[int, float] = {}
    for index, raw in pairs:
        grades.setdefault(index, min(1.0, max(0.0, raw / scale)))
    return grades


def _extract_json(text: str) -> Any:
    text = (text or "").strip()
    if not text:
        raise GradeParseError("the reply is empty")
    if json_depth(text) > MAX_JSON_DEPTH:  # json would raise RecursionError
        raise GradeParseError(f"the reply nests JSON deeper than {MAX_JSON_DEPTH} levels")
    candidates = [m.group(1).strip() for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        # the outermost value is the one that opens first, whether object or array
        for start in (i for i, ch in enumerate(candidate) if ch in "{["):
            try:
                value, _ = decoder.raw_decode(candidate[start:])
            except json.JSONDecodeError:
                continue
            return value
    raise GradeParseError("the reply holds no JSON object")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _index(value: Any) -> int | None:
    number = _number(value)
    if number is None or number != int(number):
        return None
    return int(number)


def _pairs(data: Any) -> list[tuple[int, float]]:
    if isinstance(data, dict):
        for key in ("scores", "grades", "results", "ratings"):
            if key in data:
                return _pairs(data[key])
        mapped = [(_index(k), _number(v)) for k, v in data.items()]
        return [(i, s) for i, s in mapped if i is not None and s is not None]
    if isinstance(data, list):
        pairs: list[tuple[int, float]] = []
        for position, item in enumerate(data):
            if isinstance(item, dict):
                index = _index(item.get("index", item.get("id", item.get("passage"))))
                score = _number(item.get("score", item.get("grade", item.get("relevance"))))
            else:
                index, score = position, _number(item)
            if index is not None and score is not None:
                pairs.append((index, score))
        return pairs
    raise GradeParseError(f"expected a JSON object with 'scores', got {type(data).__name__}")


# --- helpers ------------------------------------------------------------------------


def _check_args(query: str, top_n: int | None) -> None:
    if not isinstance(query, str) or not query.strip():
        raise ValidationError("rerank needs a non-empty query string")
    if top_n is not None and top_n < 0:
        raise ValidationError(f"top_n must be >= 0 or None, got {top_n}")


def _ranked(grades: Mapping[int, float], count: int, top_n: int | None) -> list[RerankResult]:
    """Graded passages by score, then ungraded ones (score 0); ties keep input order."""
    order = sorted(range(count), key=lambda i: (i not in grades, -grades.get(i, 0.0), i))
    results = [RerankResult(index=i, score=grades.get(i, 0.0)) for i in order]
    return results if top_n is None else results[:top_n]


def _max_tokens(batch_size: int) -> int:
    return 32 + 16 * batch_size


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
