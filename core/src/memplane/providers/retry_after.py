"""How long a server asked a client to wait before trying again.

Cloud LLM and embedding APIs answer a rate limit with a wait in their headers:
``Retry-After`` (seconds, or an HTTP date) and often a more precise milliseconds
header of their own. Provider plugins read it here so that every one of them
understands the same forms.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping


def retry_after_seconds(
    headers: Mapping[str, str] | None, *, millis_header: str = "retry-after-ms"
) -> float | None:
    """Seconds to wait: the milliseconds header (``retry-after-ms`` unless the service
    names another, e.g. ``x-amz-retry-after``), else ``Retry-After`` as seconds or an
    HTTP date; None when neither is present and readable (``nan``, ``inf`` and
    negative numbers are not readable waits). Names are looked up in lower
    case: pass a case-insensitive mapping (as HTTP clients give) or lower-cased keys."""
    if headers is None:
        return None
    millis = _number(headers.get(millis_header))
    if millis is not None:
        return millis / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        parsed = email.utils.parsedate_tz(value)
    except (TypeError, ValueError):
        return None
    if parsed is None:
        return None
    return max(email.utils.mktime_tz(parsed) - time.time(), 0.0)


def _number(value: str | None) -> float | None:
    """A finite, non-negative number of the header's value, else None. ``float()``
    alone would accept ``nan``, ``inf`` and ``-5``, none of which is a wait."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
