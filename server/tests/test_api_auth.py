"""Credentials: API key lifecycle, bearer JWTs (local RSA key + JWKS file), per-key
rate limits and body-size limits, all over real HTTP."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from support import Live, memory_config, uvicorn_thread

from memplane.models import Scope
from memplane_server.settings import JWTSettings, ServerSettings

ISSUER, AUDIENCE = "https://issuer.test", "memplane"


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Live]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig"}]}))
    settings = ServerSettings(
        memory=memory_config(tmp_path), keys_db=tmp_path / "server.db",
        rate_limit_per_minute=30, max_body_bytes=4096, max_import_bytes=8192,
        jwt=JWTSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=tmp_path / "jwks.json",
                        admin_claim="memplane_admin"))
    with uvicorn_thread(settings) as live:
        live.private_key = private  # type: ignore[attr-defined]
        yield live


def _token(live: Live, key: Any = None, **claims: Any) -> str:
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": int(time.time()) + 300}
    return jwt.encode({**base, **claims}, key or live.private_key,  # type: ignore[attr-defined]
                      algorithm="RS256", headers={"kid": "k1"})


def _list(live: Live, credential: str | None, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {credential}"} if credential is not None else {}
    return httpx.get(live.url + "/v1/memories", params=params, headers=headers)


def test_bad_keys_are_401(server: Live) -> None:
    key = server.key(Scope(user_id="alice"))
    key_id = key.split("_")[1]
    for credential in (None, "-", "mp_", "mp_x_y", key[:-1], key + "0", f"mp_{key_id}_",
                       f"mp_{key_id}_{'0' * 48}", key.upper(), "Basic abc", "mp_../../_x"):
        response = _list(server, credential)
        assert response.status_code == 401 and _code(response) == "unauthenticated", credential
    no_scheme = httpx.get(server.url + "/v1/memories", headers={"Authorization": key})
    assert no_scheme.status_code == 401
    assert _list(server, key).status_code == 200


def test_rotate_and_revoke(server: Live) -> None:
    key = server.key(Scope(user_id="alice"))
    key_id = key.split("_")[1]
    rotated = server.keys.rotate(key_id)
    assert _list(server, key).status_code == 401
    assert _list(server, rotated).status_code == 200
    server.keys.revoke(key_id)
    assert _list(server, rotated).status_code == 401
    with pytest.raises(KeyError):
        server.keys.rotate(key_id)  # a revoked key stays revoked
    # the database holds no secret, only its hash
    raw = Path(server.settings.keys_db).read_bytes()
    assert rotated.split("_")[2].encode() not in raw and key.split("_")[2].encode() not in raw


def test_multi_scope_key_and_narrowing(server: Live) -> None:
    key = server.key(Scope(user_id="alice"), Scope(agent_id="helper"))
    assert _list(server, key).status_code == 400  # two scopes: the request must choose
    assert _list(server, key, user_id="alice").status_code == 200
    assert _list(server, key, user_id="alice", run_id="r1").status_code == 200  # narrower
    assert _list(server, key, agent_id="helper", user_id="bob").status_code == 200
    assert _list(server, key, user_id="bob").status_code == 403


def test_jwt(server: Live) -> None:
    good = _token(server)
    assert _list(server, good).status_code == 200
    assert _list(server, good, user_id="alice").status_code == 200
    forbidden = _list(server, good, user_id="bob")
    assert forbidden.status_code == 403 and _code(forbidden) == "scope_forbidden"
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = [
        _token(server, exp=int(time.time()) - 3600),
        _token(server, aud="someone-else"),
        _token(server, iss="https://evil.test"),
        _token(server, key=other_key),
        jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice",
                    "exp": int(time.time()) + 300}, "s" * 40, algorithm="HS256",
                   headers={"kid": "k1"}),
        jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice",
                    "exp": int(time.time()) + 300}, None, algorithm="none"),  # type: ignore[arg-type]
        _token(server, sub=""),
        _token(server, memplane_admin="true"),  # a string is not admin, and sub is still alice
    ]
    for token in bad[:-1]:
        response = _list(server, token)
        assert response.status_code == 401 and _code(response) == "unauthenticated"
    assert _list(server, bad[-1], user_id="bob").status_code == 403
    admin = _token(server, memplane_admin=True)
    assert _list(server, admin, user_id="bob").status_code == 200
    audit = httpx.get(server.url + "/v1/audit", headers={"Authorization": f"Bearer {admin}"})
    assert audit.status_code == 200


def test_rate_limit_per_key(server: Live) -> None:
    key, other = server.key(Scope(user_id="rl")), server.key(Scope(user_id="rl2"))
    responses = [_list(server, key) for _ in range(40)]
    statuses = [r.status_code for r in responses]
    assert statuses[:30] == [200] * 30 and 429 in statuses[30:]
    limited = next(r for r in responses if r.status_code == 429)
    assert _code(limited) == "rate_limited" and int(limited.headers["Retry-After"]) >= 1
    assert _list(server, other).status_code == 200  # one key's bucket is its own


def test_body_limits(server: Live) -> None:
    key = server.key(Scope(user_id="big"))
    headers = {"Authorization": f"Bearer {key}"}
    big = {"messages": "x" * 5000, "infer": False}
    response = httpx.post(server.url + "/v1/memories", json=big, headers=headers)
    assert response.status_code == 413 and _code(response) == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams
        yield b'{"messages": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'", "infer": false}'

    response = httpx.post(server.url + "/v1/memories", content=chunks(),
                          headers={**headers, "content-type": "application/json"})
    assert response.status_code == 413
    # a malformed Content-Length is refused (by uvicorn's HTTP parser, before the app)
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))) as sock:
        sock.sendall(b"POST /v1/memories HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode()
                     + b"\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}")
        status_line = sock.recv(4096).split(b"\r\n")[0]
        assert status_line.split()[1] in (b"400", b"413"), status_line
    page = httpx.get(server.url + "/v1/memories", headers=headers).json()
    assert page["records"] == []  # nothing written by a refused request
    assert httpx.post(server.url + "/v1/memories", json={"messages": "small", "infer": False},
                      headers=headers).status_code == 200


def test_jwt_with_jwks_url(tmp_path: Path) -> None:
    """The JWKS is fetched over HTTP (PyJWKClient) when configured by URL."""
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1"}]}))

    fetches: list[str] = []

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def do_GET(self) -> None:
            fetches.append(self.path)
            super().do_GET()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        jwks_url = f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json"
        settings = ServerSettings(memory=memory_config(tmp_path), keys_db=tmp_path / "s.db",
                                  jwt=JWTSettings(issuer=ISSUER, audience=AUDIENCE,
                                                  jwks_url=jwks_url))
        with uvicorn_thread(settings) as live:
            live.private_key = private  # type: ignore[attr-defined]
            assert _list(live, _token(live)).status_code == 200
            assert _list(live, _token(live), user_id="bob").status_code == 403
            other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            assert _list(live, _token(live, key=other)).status_code == 401
            # unknown kids cannot make the server fetch the JWKS again and again
            for i in range(10):
                forged = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice",
                                     "exp": int(time.time()) + 300}, other, algorithm="RS256",
                                    headers={"kid": f"unknown-{i}"})
                assert _list(live, forged).status_code == 401
            assert len(fetches) == 1
    finally:
        httpd.shutdown()
