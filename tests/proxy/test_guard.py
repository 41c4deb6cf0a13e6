"""The guard: a foreign web page, a rebound DNS name or a crafted path cannot drive the proxy."""

from __future__ import annotations

import asyncio
import json

import httpx2
import pytest

from proxy.app import App
from proxy.config import Config
from proxy.server import running, uvicorn_config
from tests.support.mcp_harness import mcp_proxy, py_stdio
from tests.support.serving import proxy_for
from tests.support.store_rows import Canned, rows

INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "page", "version": "1"}},
}
POST_JSON = "POST /v1/chat/completions HTTP/1.1\nhost: 127.0.0.1\ncontent-type: application/json\n"
CALL = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "echo", "arguments": {"message": "pwned"}},
}


async def raw_request(url: str, head: str, body: bytes = b"", read_timeout: float = 5) -> tuple[int, bytes]:
    """Send bytes exactly as written (no client-side path normalisation); return status and body."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
    await writer.drain()
    try:
        status_line = await asyncio.wait_for(reader.readline(), read_timeout)
        rest = await asyncio.wait_for(reader.read(65536), read_timeout)
    finally:
        writer.close()
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def canned_json(payload: bytes = b'{"ok": true}', **headers: bytes) -> Canned:
    upstream = Canned([payload], content_type=b"application/json")
    return upstream


async def test_a_cross_origin_text_plain_post_cannot_run_an_mcp_tool(tmp_path):
    db = tmp_path / "m.db"
    async with mcp_proxy(db, py_stdio()) as (proxy, app), httpx2.AsyncClient() as client:
        page = {"origin": "http://evil.example", "content-type": "text/plain"}
        for message in (INIT, CALL):
            response = await client.post(proxy + "/mcp/py", content=json.dumps(message), headers=page)
            assert response.status_code == 403
            assert "allowed_origins" in response.json()["error"]["message"]
            assert "access-control-allow-origin" not in response.headers
        # the Origin check comes first: even a JSON POST from that page is refused
        response = await client.post(proxy + "/mcp/py", json=INIT, headers={"origin": "http://evil.example"})
        assert response.status_code == 403
        # without an Origin, a text/plain POST is still refused (the MCP spec's Content-Type rule)
        response = await client.post(
            proxy + "/mcp/py", content=json.dumps(INIT), headers={"content-type": "text/plain"}
        )
        assert response.status_code == 400
        handler = app.mcp.http["py"]
        assert handler.sessions == {} and handler._stateless == {}  # no child was started
        await app.recorder.flush()
    assert rows(db, "SELECT * FROM mcp_messages") == []


async def test_a_loopback_page_and_a_plain_client_still_reach_mcp(tmp_path):
    async with mcp_proxy(tmp_path / "m.db", py_stdio()) as (proxy, _app), httpx2.AsyncClient() as client:
        headers = {"origin": "http://localhost:5173", "accept": "application/json, text/event-stream"}
        response = await client.post(proxy + "/mcp/py", json=INIT, headers=headers)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert "mcp-session-id" in response.headers["access-control-expose-headers"]
        sid = response.headers["mcp-session-id"]
        await client.delete(proxy + "/mcp/py", headers={"mcp-session-id": sid})


async def test_v1_from_a_foreign_page_never_reaches_the_upstream_nor_gets_the_key(monkeypatch, db_path):
    monkeypatch.setenv("GUARD_TEST_KEY", "sk-configured-0123456789")
    upstream = canned_json()
    async with running(upstream) as up, proxy_for(up, db_path, api_key_env="GUARD_TEST_KEY") as (proxy, _):
        async with httpx2.AsyncClient() as client:
            for headers in (
                {"origin": "https://evil.example"},
                {"origin": "null"},
                {"host": "attacker.example:4000"},  # a DNS name rebound to 127.0.0.1
                {"sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors"},  # an <img> or <script> tag
            ):
                response = await client.post(proxy + "/v1/chat/completions", json={"model": "m"}, headers=headers)
                assert response.status_code == (421 if "host" in headers else 403), headers
        assert upstream.bodies == []
        async with httpx2.AsyncClient() as client:
            ok = await client.post(proxy + "/v1/chat/completions", json={"model": "m"}, headers={"host": "localhost:9"})
        assert ok.status_code == 200 and upstream.headers[0][b"authorization"] == b"Bearer sk-configured-0123456789"


async def test_configured_hosts_and_origins_are_allowed_and_get_cors(db_path):
    upstream = Canned([b"{}"], content_type=b"application/json")
    config = Config()
    config.store.path, config.server.port = str(db_path), 0
    config.server.allowed_hosts = ["tracemill.internal"]
    config.server.allowed_origins = ["https://app.example", "http://dev.example:*"]
    async with running(upstream) as up:
        config.llm.base_url = up + "/v1"
        app = App(config)
        async with running(app, uvicorn_config(app, config)) as proxy, httpx2.AsyncClient() as client:
            assert (
                await client.get(proxy + "/healthz", headers={"host": "tracemill.internal:8443"})
            ).status_code == 200
            assert (await client.get(proxy + "/healthz", headers={"host": "other.internal"})).status_code == 421
            for origin in ("https://app.example", "http://dev.example:3000"):
                response = await client.post(proxy + "/v1/embeddings", json={}, headers={"origin": origin})
                assert response.status_code == 200 and response.headers["access-control-allow-origin"] == origin
            assert (
                await client.post(proxy + "/v1/embeddings", json={}, headers={"origin": "http://dev.example"})
            ).status_code == 403
            preflight = await client.request(
                "OPTIONS",
                proxy + "/v1/chat/completions",
                headers={
                    "origin": "https://app.example",
                    "access-control-request-method": "POST",
                    "access-control-request-headers": "authorization, content-type",
                },
            )
            assert preflight.status_code == 204
            assert preflight.headers["access-control-allow-origin"] == "https://app.example"
            assert preflight.headers["access-control-allow-headers"] == "authorization, content-type"
    assert len(upstream.bodies) == 2  # the preflight was answered here


async def test_upstream_cors_headers_are_replaced_not_passed_through(db_path):
    async def wildcard(scope, receive, send):
        if scope["type"] != "http":
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"access-control-allow-origin", b"*"),
                    (b"access-control-allow-credentials", b"true"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"{}"})

    async with running(wildcard) as up, proxy_for(up, db_path) as (proxy, _), httpx2.AsyncClient() as client:
        response = await client.get(proxy + "/v1/models", headers={"origin": "http://127.0.0.1:3000"})
    assert response.headers.get_list("access-control-allow-origin") == ["http://127.0.0.1:3000"]
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize(
    "path",
    [
        "/v1/..%2f..%2fadmin",
        "/v1/%2e%2e/%2e%2e/admin",
        "/v1/models/../../admin",
        "/v1/.%2E/x",
        "/v1/..%5cadmin",
        "/v1/%252e%252e/admin",
        "/s/k/v1/../x",
    ],
)
async def test_dot_segments_never_leave_v1(db_path, path):
    upstream = canned_json()
    async with running(upstream) as up, proxy_for(up, db_path) as (proxy, _):
        status, body = await raw_request(proxy, f"GET {path} HTTP/1.1\nhost: 127.0.0.1\nconnection: close\n")
    assert status == 400 and b"'..'" in body
    assert upstream.bodies == []


async def test_encoded_characters_reach_the_upstream_as_the_client_sent_them(db_path):
    seen = []

    async def echo(scope, receive, send):
        if scope["type"] != "http":
            return
        seen.append((scope["raw_path"], scope["query_string"]))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})

    async with running(echo) as up, proxy_for(up, db_path) as (proxy, _):
        await raw_request(proxy, "GET /s/run-1/v1/files/a%2Fb%3Fc HTTP/1.1\nhost: 127.0.0.1\nconnection: close\n")
    assert seen == [(b"/v1/files/a%2Fb%3Fc", b"")]


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/s/a%0d%0aevent:%20x/v1/models", {}),
        ("/s/" + "k" * 129 + "/v1/models", {}),
        ("/s//v1/models", {}),
        ("/v1/models", {"x-tracemill-session": "has space"}),
        ("/v1/models", {"session-id": "a\u00e9b"}),
    ],
)
async def test_bad_session_keys_are_refused(db_path, path, headers):
    upstream = canned_json()
    async with running(upstream) as up, proxy_for(up, db_path) as (proxy, _):
        extra = "".join(f"{k}: {v}\n" for k, v in headers.items())
        status, body = await raw_request(proxy, f"GET {path} HTTP/1.1\nhost: 127.0.0.1\n{extra}connection: close\n")
    assert status == 400 and b"session key" in body
    assert upstream.bodies == []


async def test_good_session_keys_are_recorded(db_path):
    upstream = canned_json()
    async with running(upstream) as up, proxy_for(up, db_path) as (proxy, app), httpx2.AsyncClient() as client:
        await client.get(proxy + "/s/run:1.a_b-c/v1/models")
        await client.get(
            proxy + "/v1/models", headers={"x-claude-code-session-id": "0f6b2a1e-1b7c-4c5e-9a61-2e4b5d6c7f80"}
        )
        await client.get(proxy + "/v1/models", headers={"session-id": "theirs", "x-tracemill-session": "ours"})
        await app.recorder.flush()
    sessions = [r["session"] for r in rows(db_path)]
    assert sessions == ["run:1.a_b-c", "0f6b2a1e-1b7c-4c5e-9a61-2e4b5d6c7f80", "ours"]


async def test_bodies_over_the_limit_get_413_with_or_without_a_content_length(db_path):
    upstream = canned_json()
    config = Config()
    config.store.path, config.server.port, config.server.max_request_bytes = str(db_path), 0, 10_000
    async with running(upstream) as up:
        config.llm.base_url = up + "/v1"
        app = App(config)
        async with running(app, uvicorn_config(app, config)) as proxy:
            # declared too large: refused before a byte of the body is read
            status, body = await raw_request(
                proxy,
                f"{POST_JSON}content-length: 20000\n",
            )
            assert status == 413 and "max_request_bytes" in json.loads(body)["error"]["message"]
            # chunked: refused as soon as the limit is crossed, while the client is still sending
            chunk = b"1000\r\n" + b"x" * 4096 + b"\r\n"
            status, body = await raw_request(
                proxy,
                f"{POST_JSON}transfer-encoding: chunked\n",
                chunk * 3,
            )
            assert status == 413 and json.loads(body)["error"]["code"] == 413
            async with httpx2.AsyncClient() as client:
                fine = await client.post(proxy + "/v1/chat/completions", content=b"{" + b" " * 9000 + b"}")
            assert fine.status_code == 200
    assert len(upstream.bodies) == 1


def test_binding_beyond_loopback_warns_and_names_the_settings(tmp_path):
    from pathlib import Path

    from tests.support.serving import start_serve

    proc, _ = start_serve(tmp_path / "t.db", "http://127.0.0.1:9/v1", "--host", "0.0.0.0")
    proc.terminate()
    proc.wait(10)
    log = Path(proc.log_path).read_text()
    assert "not a loopback address" in log and "allowed_hosts" in log and "allowed_origins" in log


async def test_slow_or_huge_headers_are_cut_off(db_path):
    config = Config()
    config.store.path, config.server.port = str(db_path), 0
    config.server.header_timeout, config.server.max_header_bytes = 0.5, 8192
    app = App(config)
    async with running(app, uvicorn_config(app, config)) as proxy:
        host, port = proxy.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n")
        answered = asyncio.create_task(reader.readuntil(b"}"))
        for _ in range(50):  # a trickle that never ends the headers
            if answered.done():
                break
            writer.write(b"x-slow: 1\r\n")
            await asyncio.sleep(0.1)
        answer = await asyncio.wait_for(answered, 5)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408 ") and b"header_timeout" in answer
        status, body = await raw_request(
            proxy, "GET /healthz HTTP/1.1\nhost: 127.0.0.1\n" + "x-big: " + "a" * 20_000 + "\n"
        )
        assert status == 431 and b"max_header_bytes" in body
        status, _ = await raw_request(proxy, "GET /healthz HTTP/1.1\nhost: 127.0.0.1\nconnection: close\n")
        assert status == 200


async def test_one_endless_header_line_is_cut_off_at_the_cap(db_path):
    config = Config()
    config.store.path, config.server.port, config.server.max_header_bytes = str(db_path), 0, 8192
    app = App(config)
    async with running(app, uvicorn_config(app, config)) as proxy:
        host, port = proxy.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-endless: ")
        answered = asyncio.create_task(reader.readuntil(b"}"))
        for _ in range(100):
            if answered.done():
                break
            writer.write(b"a" * 1024)
            await asyncio.sleep(0.01)
        answer = await asyncio.wait_for(answered, 5)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 431 ")


async def test_the_viewer_is_behind_the_same_checks(db_path):
    async with proxy_for("http://127.0.0.1:9", db_path) as (proxy, _), httpx2.AsyncClient() as client:
        assert (await client.get(proxy + "/ui/", headers={"origin": "http://evil.example"})).status_code == 403
        assert (await client.get(proxy + "/ui/", headers={"host": "evil.example"})).status_code == 421
        assert (await client.get(proxy + "/ui/", follow_redirects=True)).status_code == 200


async def test_another_local_page_cannot_read_the_viewer(db_path):
    """Loopback origins may call the APIs, but the viewer's pages get no CORS headers for them."""
    async with proxy_for("http://127.0.0.1:9", db_path) as (proxy, _), httpx2.AsyncClient() as client:
        page = await client.get(proxy + "/ui/", headers={"origin": "http://localhost:5173"}, follow_redirects=True)
        assert page.status_code == 200 and "access-control-allow-origin" not in page.headers
        preflight = await client.options(
            proxy + "/ui/", headers={"origin": "http://localhost:5173", "access-control-request-method": "POST"}
        )
        assert "access-control-allow-origin" not in preflight.headers
