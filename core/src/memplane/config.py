"""``MemoryConfig``: which providers to use and how the pipeline and search behave.

Provider blocks are ``{"provider": name, "config": {...}}`` or the shorthand
``"name"`` / ``"name:model"``. The core does not know any provider's keys: each
block is validated by that provider's own ``Config`` model when it is loaded.

Sources, later ones winning: defaults, a YAML/TOML file, environment variables
(``MEMPLANE_LLM=openai:gpt-4o-mini``, ``MEMPLANE_VECTOR_STORE__PATH=/data/m.db``,
``MEMPLANE_SEARCH__HYBRID=false``). See docs/configuration.md for every key.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from memplane.errors import ConfigurationError
from memplane.inputs import DEFAULT_MAX_MESSAGE_CHARS
from memplane.pipeline.prompts import (
    EXTRACTION_PLACEHOLDERS,
    EXTRACTION_REQUIRED,
    UPDATE_PLACEHOLDERS,
    UPDATE_REQUIRED,
    validate_template,
)
from memplane.plugins.registry import ProviderSpec

ENV_PREFIX = "MEMPLANE_"
#: env var naming a config file that ``Memory()`` reads when given no config.
CONFIG_FILE_ENV = "MEMPLANE_CONFIG"
PROVIDER_SECTIONS = ("llm", "embedder", "vector_store", "reranker")
# embedder: minilm_onnx (memplane-minilm-onnx) needs no torch; chosen by measurement,
# see docs/benchmarks.md "Default embedder". sentence_transformers remains an option.
DEFAULT_PROVIDERS = {"llm": "rules", "embedder": "minilm_onnx", "vector_store": "sqlite"}
SETTING_SECTIONS = ("pipeline", "search")


def _problems(exc: PydanticValidationError) -> list[str]:
    """``key.path: message`` for each error, unwrapping errors of nested sections."""
    parts: list[str] = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        nested = (err.get("ctx") or {}).get("error")
        if isinstance(nested, _SectionError):
            parts.extend(f"{loc}.{p}" if loc else p for p in nested.problems)
            continue
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see docs/configuration.md)"
        parts.append(f"{loc or '(root)'}: {msg}")
    return parts


class _SectionError(ConfigurationError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid memplane configuration: " + "; ".join(problems))


class _Strict(BaseModel):
    """Unknown keys are errors, and every error is a ConfigurationError naming the key."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except PydanticValidationError as exc:
            raise _SectionError(_problems(exc)) from None

    # every way in raises ConfigurationError, never pydantic's error type
    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate(obj, *args, **kwargs)
        except PydanticValidationError as exc:
            raise _SectionError(_problems(exc)) from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
        except PydanticValidationError as exc:
            raise _SectionError(_problems(exc)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except PydanticValidationError as exc:
            raise _SectionError(_problems(exc)) from None


class ProviderBlock(_Strict):
    """One provider choice. ``config`` is validated later by the provider itself."""

    provider: str = Field(min_length=1)
    config: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            spec = ProviderSpec.parse(value)
            return {"provider": spec.provider, "config": dict(spec.config)}
        return value

    def spec(self) -> ProviderSpec:
        return ProviderSpec(self.provider, dict(self.config))


class PipelineConfig(_Strict):
    """How ``add`` turns messages into memory changes."""

    #: ``single``: one LLM call returns the diff. ``two_pass``: extract facts first,
    #: then reconcile them with the memories retrieved per fact (two calls).
    mode: Literal["single", "two_pass"] = "single"
    #: how many existing memories of the scope the LLM sees (as ids 0..top_k-1).
    top_k: int = Field(10, ge=0, le=100)
    #: replaces the extraction prompt (two-pass mode); must contain ``{messages}``.
    custom_extraction_prompt: str | None = None
    #: replaces the update prompt; must contain ``{existing_memories}`` and
    #: ``{new_messages}``. The answer format is fixed by the core regardless.
    custom_update_prompt: str | None = None
    #: how many times an unusable reply is sent back with the error (0 or 1).
    max_repair_retries: int = Field(1, ge=0, le=1)
    #: completion budget passed to the LLM (None: the provider's default).
    max_tokens: int | None = Field(None, gt=0)
    #: longest message content ``add`` accepts, in characters (an InputTooLarge
    #: error beyond it; ~4 characters are one LLM token).
    max_message_chars: int = Field(DEFAULT_MAX_MESSAGE_CHARS, ge=1)

    @field_validator("custom_update_prompt")
    @classmethod
    def _check_update(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return validate_template(
            value, required=UPDATE_REQUIRED, allowed=UPDATE_PLACEHOLDERS,
            setting="custom_update_prompt",
        )

    @field_validator("custom_extraction_prompt")
    @classmethod
    def _check_extraction(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return validate_template(
            value, required=EXTRACTION_REQUIRED, allowed=EXTRACTION_PLACEHOLDERS,
            setting="custom_extraction_prompt",
        )


class SearchConfig(_Strict):
    """How ``search`` ranks (see docs/concepts.md, "Hybrid retrieval")."""

    #: fuse keyword relevance with vector similarity (needs the store's
    #: ``keyword_search`` capability; vector only otherwise).
    hybrid: bool = True
    #: ``boost``: cosine similarity raised by bounded keyword evidence (absolute
    #: scores); ``rrf``: reciprocal rank fusion; ``weighted``: weighted mean of the scores.
    fusion: Literal["boost", "rrf", "weighted"] = "boost"
    #: the k of ``rrf``: small k favours the top ranks (docs/concepts.md).
    rrf_k: int = Field(5, ge=1)
    #: under ``boost`` only their ratio counts: the keyword boost may close
    #: ``keyword_weight / (vector_weight + keyword_weight)`` of the gap to 1.
    vector_weight: float = Field(1.0, ge=0.0)
    keyword_weight: float = Field(1.0, ge=0.0)
    #: ``boost`` length normalisation of keyword evidence: a text of ``n`` terms
    #: longer than the pivot has its keyword relevance divided by
    #: ``1 + keyword_length_b * (n / keyword_length_pivot - 1)`` (0 turns it off).
    keyword_length_pivot: int = Field(100, ge=0)
    keyword_length_b: float = Field(1.0, ge=0.0, le=1.0)
    #: ``boost`` keyword confidence per query from its strongest keyword match
    #: ``s`` (unbounded relevance, e.g. summed IDF): the boost is scaled by
    #: ``s / (s + keyword_confidence_scale)`` (0: never scaled).
    keyword_confidence_scale: float = Field(0.0, ge=0.0)
    #: ``boost`` keyword confidence per query: the share of the keyword top
    #: ``keyword_agreement_depth`` that is also in the vector top as many, raised
    #: to ``keyword_agreement_power``, lifted by ``keyword_agreement_floor``
    #: (``floor + (1 - floor) * agreement ** power``), scales the keyword boost
    #: (depth 0: the boost is never scaled). See ``memplane.fusion``.
    keyword_agreement_depth: int = Field(0, ge=0, le=1_000)
    keyword_agreement_power: float = Field(1.0, gt=0.0)
    keyword_agreement_floor: float = Field(0.0, ge=0.0, le=1.0)
    #: hybrid search keeps vector-only's top ``vector_reserved`` hits inside its
    #: top ``vector_reserved_depth`` (a floor under the loss against vector-only
    #: search; 0: off; 4 chosen by measurement, docs/benchmarks.md). See
    #: ``memplane.fusion.reserve_vector_slots``.
    vector_reserved: int = Field(4, ge=0, le=1_000)
    vector_reserved_depth: int = Field(10, ge=1, le=10_000)
    #: knowledge updates: inside the top ``newer_first_depth``, a memory observed later
    #: moves above one ranked just above it that scores at most this much higher
    #: (0: off). See ``memplane.fusion.newer_first``.
    newer_first_margin: float = Field(0.0, ge=0.0, le=1.0)
    newer_first_depth: int = Field(10, ge=1, le=10_000)
    #: candidates fetched from each signal before fusion (at least ``limit``).
    candidate_pool: int = Field(50, ge=1, le=10_000)
    #: rerank by default (needs a reranker block); ``search(rerank=...)`` overrides.
    rerank: bool = False
    #: how many fused candidates the reranker sees.
    rerank_pool: int = Field(30, ge=1, le=1_000)
    #: drop hits scoring below this (None: keep all); ``search(threshold=...)`` overrides.
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    #: share of the final score given to recency (0 disables the boost).
    recency_weight: float = Field(0.0, ge=0.0, le=1.0)
    #: age (by observed_at, else created_at) at which the recency signal halves;
    #: age counts back from the search's ``as_of``, by default the newest
    #: observed_at among the candidates when that is in the past, else now.
    recency_half_life_days: float = Field(30.0, gt=0.0)

    @model_validator(mode="after")
    def _some_weight(self) -> SearchConfig:
        if self.vector_weight + self.keyword_weight <= 0:
            raise ValueError("vector_weight and keyword_weight cannot both be 0")
        return self


class MemoryConfig(_Strict):
    """The whole configuration of a :class:`memplane.memory.Memory`."""

    llm: ProviderBlock = Field(default_factory=lambda: ProviderBlock(provider=DEFAULT_PROVIDERS["llm"]))
    embedder: ProviderBlock = Field(
        default_factory=lambda: ProviderBlock(provider=DEFAULT_PROVIDERS["embedder"])
    )
    vector_store: ProviderBlock = Field(
        default_factory=lambda: ProviderBlock(provider=DEFAULT_PROVIDERS["vector_store"])
    )
    reranker: ProviderBlock | None = None
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)

    # --- sources -----------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MemoryConfig:
        if not isinstance(data, Mapping):
            raise ConfigurationError(
                f"a memplane configuration must be a mapping, got {type(data).__name__}"
            )
        return cls(**dict(data))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, env: bool = True) -> MemoryConfig:
        """Read a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file; environment
        variables override it unless ``env=False``."""
        data = read_config_file(path)
        if env:
            data = overlay_env(data, os.environ)
        return cls.from_dict(data)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MemoryConfig:
        """Defaults overridden by ``MEMPLANE_*`` variables."""
        return cls.from_dict(overlay_env({}, os.environ if environ is None else environ))

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> MemoryConfig:
        """What ``Memory()`` uses: ``path`` or ``$MEMPLANE_CONFIG`` if set, then env."""
        path = path or os.environ.get(CONFIG_FILE_ENV) or None
        return cls.from_file(path) if path else cls.from_env()


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise ConfigurationError(f"config file {str(file)!r} does not exist")
    suffix = file.suffix.lower()
    text = file.read_text(encoding="utf-8")
    try:
        if suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        else:
            raise ConfigurationError(
                f"config file {str(file)!r}: unknown format {suffix!r}; use .yaml, .yml or .toml"
            )
    except ConfigurationError:
        raise
    except Exception as exc:  # yaml.YAMLError / tomllib.TOMLDecodeError
        raise ConfigurationError(f"config file {str(file)!r} is not valid {suffix[1:].upper()}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"config file {str(file)!r} must hold a mapping at the top level")
    return data


def _env_value(raw: str) -> Any:
    """JSON when it parses (``true``, ``5``, ``0.3``, ``[1,2]``), else the string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _block_dict(value: Any, section: str) -> dict[str, Any]:
    if isinstance(value, str):
        spec = ProviderSpec.parse(value)
        return {"provider": spec.provider, "config": dict(spec.config)}
    if isinstance(value, Mapping):
        return {**value, "config": dict(value.get("config") or {})}
    default = DEFAULT_PROVIDERS.get(section)
    return {"provider": default, "config": {}} if default else {"config": {}}


def overlay_env(data: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Apply ``MEMPLANE_<SECTION>`` and ``MEMPLANE_<SECTION>__<KEY>`` variables.

    Only variables whose section is a known one are read, so unrelated ``MEMPLANE_*``
    variables (such as ``MEMPLANE_CONFIG``) never cause errors.
    """
    out: dict[str, Any] = dict(data)
    # Whole-block shorthands first so per-key variables refine them.
    for section in PROVIDER_SECTIONS:
        raw = environ.get(ENV_PREFIX + section.upper())
        if raw is not None and raw.strip():
            out[section] = _block_dict(raw.strip(), section)
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].partition("__")
        section, key = section.lower(), key.lower()
        if not key:
            continue
        value = _env_value(environ[name])
        if section in PROVIDER_SECTIONS:
            block = _block_dict(out.get(section), section)
            block["config"][key] = value
            out[section] = block
        elif section in SETTING_SECTIONS:
            current = out.get(section)
            out[section] = {**(current if isinstance(current, Mapping) else {}), key: value}
    return out
