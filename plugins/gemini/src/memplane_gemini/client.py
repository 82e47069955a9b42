"""Build a google-genai client from :class:`GeminiConnection` (the SDK is imported here)."""

from __future__ import annotations

from typing import Any

from memplane_gemini.settings import GeminiConnection


def build_client(conn: GeminiConnection) -> Any:
    """A ``google.genai.Client`` for the configured backend.

    The SDK's own retries are switched off: memplane retries through
    :mod:`memplane.providers.retry` so it can honour the server's retry delay and map
    every failure to a memplane error.
    """
    from google import genai
    from google.genai import types

    http_options = types.HttpOptions(
        base_url=conn.base_url,
        api_version=conn.api_version,
        headers=dict(conn.headers) or None,
        timeout=max(1, int(conn.timeout * 1000)),
    )
    if not conn.vertexai:
        return genai.Client(api_key=conn.resolved_api_key(), http_options=http_options)

    if conn.project is None and conn.api_key is not None:
        # Vertex AI express mode: an API key, no project.
        return genai.Client(
            vertexai=True, api_key=conn.api_key.get_secret_value(), http_options=http_options
        )
    credentials: Any = None
    if conn.access_token is not None:
        from google.oauth2.credentials import Credentials

        credentials = Credentials(token=conn.access_token.get_secret_value())
    return genai.Client(
        vertexai=True,
        project=conn.resolved_project(),
        location=conn.resolved_location(),
        credentials=credentials,
        http_options=http_options,
    )
