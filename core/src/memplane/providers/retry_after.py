"""How long a server asked a client to wait before trying again.

Cloud LLM and embedding APIs answer a rate limit with a wait in their headers:
``Retry-After`` (seconds, or an HTTP date) and often a more precise milliseconds
header of their own. Provider plugins read it here so that every one of them
understands the same forms.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping


def retry_after_seconds(
    headers: Mapping[str, str] | None, *, millis_header: str = "retry-after-ms"
) -> float | None:
    """Seconds to wait: the milliseconds header (``retry-after-ms`` unless the service
    names another, e.g. ``x-amz-retry-after``), else ``Retry-After`` as seconds or an
    HTTP date; None when neither is present and readable. Names are looked up in lower
    case: pass a case-insensitive mapping (as HTTP clients give) or lower-cased keys."""
    if headers is None:
        return None
    millis = headers.get(millis_header)
    if millis is not None:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass  # unreadable: fall back to Retry-After
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return max(email.utils.mktime_tz(parsed) - time.time(), 0.0)
