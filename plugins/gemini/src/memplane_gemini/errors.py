"""Map google-genai and transport failures to :mod:`memplane.errors`."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from memplane.errors import (
    AuthenticationError,
    MemplaneError,
    ProviderError,
    ProviderTimeout,
    RateLimitError,
)
from memplane.providers.retry import error_for_status
from memplane.providers.retry_after import retry_after_seconds
from memplane.providers.wire import garbled, wrong_shape

PROVIDER = "gemini"
_AUTH_STATUSES = {"UNAUTHENTICATED", "PERMISSION_DENIED"}
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)s\s*$")


def _timeout_types() -> tuple[type[BaseException], ...]:
    """httpx (and its fork httpx2, when the SDK uses it) timeout classes, if loaded."""
    types: list[type[BaseException]] = [TimeoutError]
    for name in ("httpx", "httpx2"):
        module = sys.modules.get(name)
        if module is not None:
            types.append(module.TimeoutException)
    return tuple(types)


def _transport_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [ConnectionError]
    for name in ("httpx", "httpx2"):
        module = sys.modules.get(name)
        if module is not None:
            types.append(module.TransportError)
    return tuple(types)


def retry_after_of(exc: Any) -> float | None:
    """Seconds the server asked us to wait: Retry-After header, else google.rpc.RetryInfo."""
    waited = retry_after_seconds(getattr(getattr(exc, "response", None), "headers", None))
    if waited is not None:
        return waited
    details = getattr(exc, "details", None)
    error = details.get("error", details) if isinstance(details, dict) else None
    for item in (error or {}).get("details", []) if isinstance(error, dict) else []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            match = _DURATION.match(str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def body_length(raw: Any) -> int | None:
    """The Content-Length of the HTTP response the SDK built ``raw`` from, if known.
    The SDK makes the same empty response object of an empty body (garbled: retry)
    and of JSON it does not recognise (wrong shape): only the length tells them apart."""
    headers = getattr(getattr(raw, "sdk_http_response", None), "headers", None)
    try:
        return int(headers["content-length"]) if isinstance(headers, dict) else None
    except (KeyError, TypeError, ValueError):
        return None


def _mentions_invalid_key(exc: Any) -> bool:
    return "API_KEY_INVALID" in str(getattr(exc, "details", "")) or "API key not valid" in str(
        getattr(exc, "message", "")
    )


def map_error(exc: BaseException) -> MemplaneError:
    """The memplane error for a failure raised by the SDK or its transport."""
    if isinstance(exc, MemplaneError):
        return exc
    import pydantic
    from google.genai import errors as genai_errors

    if isinstance(exc, genai_errors.APIError):
        code, status = exc.code, exc.status or ""
        message = str(exc.message or exc).rstrip(".")
        where = f"gemini returned {code} {status}: {message}"
        if code in (401, 403) or status in _AUTH_STATUSES or _mentions_invalid_key(exc):
            return AuthenticationError(
                f"{where}. Check the API key (GEMINI_API_KEY) or, on Vertex AI, the "
                "credentials and the project's permissions",
                provider=PROVIDER,
            )
        if code == 429 or status == "RESOURCE_EXHAUSTED":
            return RateLimitError(
                f"{where}. Slow down or raise the quota", provider=PROVIDER,
                retry_after=retry_after_of(exc),
            )
        if status == "DEADLINE_EXCEEDED":
            return ProviderTimeout(f"{where}. Try again or raise `timeout`", provider=PROVIDER)
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return error_for_status(code, provider=PROVIDER, detail=f"{status} {message}".strip(),
                                headers=headers)
    if isinstance(exc, genai_errors.UnknownApiResponseError | json.JSONDecodeError
                  | UnicodeDecodeError):
        return garbled(PROVIDER, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, pydantic.ValidationError):
        # the SDK validates the body into its models: a wrong shape
        return wrong_shape(PROVIDER, str(exc).splitlines()[0])
    if isinstance(exc, _timeout_types()):
        return ProviderTimeout(
            f"gemini did not answer within the timeout ({type(exc).__name__}); try again or "
            "raise `timeout`",
            provider=PROVIDER,
        )
    if isinstance(exc, _transport_types()):
        return ProviderError(
            f"could not reach gemini ({type(exc).__name__}: {exc}); check the network and "
            "`base_url`",
            provider=PROVIDER, retryable=True,
        )
    auth_errors = sys.modules.get("google.auth.exceptions")
    if auth_errors is not None and isinstance(
        exc, (auth_errors.DefaultCredentialsError, auth_errors.RefreshError)
    ):
        return AuthenticationError(
            f"no usable Google Cloud credentials ({exc}); run `gcloud auth application-default "
            "login`, set GOOGLE_APPLICATION_CREDENTIALS, or set `access_token`",
            provider=PROVIDER,
        )
    return ProviderError(f"gemini call failed: {type(exc).__name__}: {exc}", provider=PROVIDER,
                         retryable=False)
