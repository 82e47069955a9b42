"""The inspector page: ``GET /inspector/`` and its static assets.

A static page and a little vanilla JS that call the ``/v1`` REST API with the key
the user types in (kept in sessionStorage, sent as a bearer token). The server
renders nothing from memory data: the script builds every node with
``textContent``, and a strict Content-Security-Policy (no inline script, no other
origin, Trusted Types required for HTML sinks) is a second wall against memory
text that carries markup. All assets ship in the package, so no CDN is involved.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, HTTPException
from fastapi.responses import RedirectResponse, Response

#: sent with every inspector response. ``require-trusted-types-for`` makes the
#: browser refuse any string-to-HTML assignment even if a bug slipped one in.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
#: the only files served: an allowlist, so no request path ever reaches the filesystem.
ASSETS = {
    "inspector.js": "text/javascript; charset=utf-8",
    "inspector.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",  # else the browser asks for /favicon.ico and gets a 404
}

router = APIRouter(include_in_schema=False)


def _read(name: str) -> bytes:
    return (resources.files(__name__) / "static" / name).read_bytes()


@router.get("/inspector")
def inspector_redirect() -> RedirectResponse:
    # Relative, so the page also works behind a proxy that mounts the server under a prefix.
    return RedirectResponse("inspector/", status_code=307, headers=SECURITY_HEADERS)


@router.get("/inspector/")
def inspector_page() -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
    return Response(_read("index.html"), media_type="text/html; charset=utf-8", headers=headers)


@router.get("/inspector/static/{name}")
def inspector_asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status_code=404)
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return Response(_read(name), media_type=media_type, headers=headers)
