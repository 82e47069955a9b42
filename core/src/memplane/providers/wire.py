"""Reading a remote provider's answer defensively.

SDKs hand back what the server sent, even when it breaks the API's schema (most
build their response objects without validation): an answer list holding ``None``,
a text that is a number, token counts that are strings. These helpers read such
objects — SDK models, plain objects or JSON dicts alike — and turn every deviation
into a :class:`~memplane.errors.ProviderError`, so no ``AttributeError``,
``TypeError`` or pydantic ``ValidationError`` escapes a provider.

Two kinds of failure, told apart by ``retryable``:

- :func:`garbled`: the body could not be decoded at all (cut off, not UTF-8, not
  JSON): a proxy or transport accident, worth another attempt;
- :func:`wrong_shape`: the body decoded but breaks the API's schema: the same server
  will answer the same way, so it is not retried.

The malformed-response corpus of ``memplane-conformance`` checks both on every LLM
provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memplane.errors import ProviderError

_MISSING: Any = object()
_SCALARS = (str, bytes, int, float, bool, list, tuple)


def garbled(provider: str, detail: object) -> ProviderError:
    """The body could not be decoded: retryable."""
    return ProviderError(
        f"{provider}: the server sent a body that could not be decoded ({detail}); "
        f"usually a proxy or an overloaded server, so it is retried. If it persists, "
        f"check that the endpoint (base_url / endpoint_url) is the provider's API",
        provider=provider,
        retryable=True,
    )


def wrong_shape(provider: str, detail: str) -> ProviderError:
    """The body decoded but breaks the API's schema: not retryable."""
    return ProviderError(
        f"{provider}: the server's answer does not follow the API's schema ({detail}); "
        f"check that the endpoint (base_url / endpoint_url) speaks this provider's API "
        f"and that the model is one it serves",
        provider=provider,
        retryable=False,
    )


def is_record(value: Any) -> bool:
    """True for what can hold fields: a mapping or an object (not a str, number, list)."""
    return value is not None and not isinstance(value, _SCALARS)


def field(value: Any, name: str, default: Any = None) -> Any:
    """``value[name]`` for a mapping, ``value.name`` for an object, else ``default``."""
    if isinstance(value, Mapping):
        return value.get(name, default)
    if not is_record(value):
        return default
    return getattr(value, name, default)


def record(value: Any, what: str, provider: str, *, optional: bool = False) -> Any:
    """``value`` when it can hold fields (None too when ``optional``); else wrong shape."""
    if value is None and optional:
        return None
    if not is_record(value):
        raise wrong_shape(provider, f"{what} is {_kind(value)}, expected an object")
    return value


def records(value: Any, what: str, provider: str, *, optional: bool = False) -> list[Any]:
    """``value`` as a list whose every item can hold fields; else wrong shape."""
    if value is None and optional:
        return []
    if not isinstance(value, list | tuple):
        raise wrong_shape(provider, f"{what} is {_kind(value)}, expected a list")
    for i, item in enumerate(value):
        record(item, f"{what}[{i}]", provider)
    return list(value)


def text(value: Any, what: str, provider: str) -> str | None:
    """A text field: a string or None; anything else is wrong shape."""
    if value is None or isinstance(value, str):
        return value
    raise wrong_shape(provider, f"{what} is {_kind(value)}, expected a string")


def undamaged(value: str, what: str, provider: str) -> str:
    """``value`` unless it holds U+FFFD, the mark an SDK that decodes with
    ``errors="replace"`` (httpx's ``response.text``) leaves where the body was not
    valid UTF-8: such a body is garbled, and is retried rather than remembered."""
    if "\ufffd" in value:
        raise garbled(provider, f"{what} holds U+FFFD: the body was not valid UTF-8")
    return value


def token_count(usage: Any, name: str, provider: str) -> int:
    """A non-negative integer token count from a usage block (0 when absent)."""
    value = field(usage, name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise wrong_shape(provider, f"usage {name} is {value!r}, expected a non-negative integer")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return f"a {type(value).__name__}"
