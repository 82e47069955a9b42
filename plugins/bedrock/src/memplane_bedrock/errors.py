"""Map botocore failures to :mod:`memplane.errors`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from memplane.errors import (
    AuthenticationError,
    ConfigurationError,
    MemplaneError,
    ProviderError,
    ProviderTimeout,
    RateLimitError,
)
from memplane.providers.retry import RetryPolicy, call_with_retries, error_for_status
from memplane.providers.retry_after import retry_after_seconds
from memplane.providers.wire import garbled, wrong_shape
from memplane_bedrock.settings import BedrockConnection

T = TypeVar("T")

PROVIDER = "bedrock"
_AUTH_CODES = {
    "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
    "IncompleteSignature", "MissingAuthenticationToken", "ExpiredToken", "ExpiredTokenException",
    "InvalidClientTokenId", "SignatureDoesNotMatch",
}
_THROTTLE_CODES = {"ThrottlingException", "ModelNotReadyException", "TooManyRequestsException"}
_RETRYABLE_CODES = {"InternalServerException", "ServiceUnavailableException",
                    "ModelErrorException", "BadGatewayException", "DependencyFailedException"}


def _headers(response: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in
            (response.get("ResponseMetadata", {}).get("HTTPHeaders") or {}).items()}


def retry_after_of(response: dict[str, Any]) -> float | None:
    """Seconds to wait from ``x-amz-retry-after`` (milliseconds) or ``Retry-After``."""
    return retry_after_seconds(_headers(response), millis_header="x-amz-retry-after")


def map_error(exc: BaseException, *, what: str = "bedrock") -> MemplaneError:
    """The memplane error for an exception raised by a boto3 call."""
    if isinstance(exc, MemplaneError):
        return exc
    from botocore import exceptions as bx
    from botocore.parsers import ResponseParserError

    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message") or exc).rstrip(".")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        where = f"{what} returned {status} {code}: {message}"
        if code in _AUTH_CODES or status in (401, 403):
            return AuthenticationError(
                f"{where}. Check the AWS credentials, that the role may call this model "
                "(bedrock:InvokeModel / bedrock:Rerank), and that model access is enabled in "
                "the Bedrock console for this region",
                provider=PROVIDER,
            )
        if code in _THROTTLE_CODES or status == 429:
            return RateLimitError(
                f"{where}. Bedrock throttled the call; slow down or request a quota increase",
                provider=PROVIDER, retry_after=retry_after_of(exc.response),
            )
        if code == "ModelTimeoutException":
            return ProviderTimeout(f"{where}. Try again or shorten the input", provider=PROVIDER)
        if code in _RETRYABLE_CODES:
            return ProviderError(f"{where}. A server-side failure; try again",
                                 provider=PROVIDER, retryable=True)
        if code in ("ValidationException", "ResourceNotFoundException"):
            return ProviderError(
                f"{where}. Check the model id (some models need an inference profile id such "
                "as 'us.anthropic...') and that it is available in this region",
                provider=PROVIDER, retryable=False)
        return error_for_status(int(status or 0), provider=PROVIDER, detail=f"{code}: {message}",
                                headers=_headers(exc.response), millis_header="x-amz-retry-after")
    if isinstance(exc, bx.ReadTimeoutError | bx.ConnectTimeoutError):
        return ProviderTimeout(
            f"{what} did not answer in time ({exc}); try again or raise `timeout`",
            provider=PROVIDER,
        )
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError | bx.NoAuthTokenError):
        return AuthenticationError(
            f"no usable AWS credentials ({exc}); configure them the usual boto3 way (environment, "
            "~/.aws/credentials, SSO, an instance role) or set aws_access_key_id and "
            "aws_secret_access_key in the provider config",
            provider=PROVIDER,
        )
    if isinstance(exc, bx.NoRegionError):
        return ConfigurationError(f"{exc}: set `region` in the provider config or AWS_REGION")
    if isinstance(exc, UnicodeDecodeError):
        return garbled(PROVIDER, f"{what}: {exc}")
    if isinstance(exc, ResponseParserError | ValueError):
        # botocore decoded the JSON but could not fit it to the operation's shapes
        return wrong_shape(PROVIDER, f"{what}: {type(exc).__name__}: {exc}")
    if isinstance(exc, bx.ConnectionError | bx.HTTPClientError):
        return ProviderError(f"could not reach {what} ({exc}); check the network and "
                             "`endpoint_url`", provider=PROVIDER, retryable=True)
    return ProviderError(f"{what} call failed: {type(exc).__name__}: {exc}", provider=PROVIDER,
                         retryable=False)


def with_retries(fn: Callable[[], T], conn: BedrockConnection, *, what: str = "bedrock") -> T:
    """``fn()`` under the shared retry policy (:mod:`memplane.providers.retry`);
    botocore's own retries are off (one attempt per call) so they cannot multiply."""
    policy = RetryPolicy(max_retries=conn.max_retries, max_wait=conn.max_retry_wait)
    return call_with_retries(fn, policy, lambda exc: map_error(exc, what=what))
