"""Secrets that used to leak: query-string keys, user:password@ in base_url, key headers, cookies.
None reaches the store, the log, the startup line, a 502 body or /healthz."""

from __future__ import annotations

from pathlib import Path

import httpx2

from proxy.server import running
from tests.support.serving import free_port, proxy_for, start_serve
from tests.support.store_rows import rows, wait_rows

QUERY_KEY = "AIzaSy-query-secret-0123"
SHORT_KEY = "k3y9"  # shorter than 8 characters: still masked where it sits in a URL
PASSWORD = "hunter2-basic-secret"
GOOG_KEY = "AIzaSy-header-secret-4567"
COOKIE = "cookie-value-secret-89"
SET_COOKIE = "set-cookie-secret-1011"


def disk_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))


class Echo:
    """An upstream that echoes, in its body, everything the request carried, and sets a cookie."""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        echoed = f'{{"query": "{scope["query_string"].decode()}", "headers": "{dict(scope["headers"])!s}"}}'.replace(
            "'", ""
        )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"set-cookie", f"sid={SET_COOKIE}; Path=/; HttpOnly".encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": echoed.encode()})


async def test_query_keys_key_headers_and_cookies_echoed_back_are_never_stored(db_path):
    async with running(Echo()) as up, proxy_for(up, db_path) as (proxy, app), httpx2.AsyncClient() as client:
        response = await client.get(
            proxy + f"/v1/models?key={QUERY_KEY}&api_key={SHORT_KEY}&alt=json",
            headers={"x-goog-api-key": GOOG_KEY, "cookie": f"a=b; session={COOKIE}"},
        )
        assert QUERY_KEY in response.text and GOOG_KEY in response.text  # the client sees what was sent
        await client.post(
            proxy + "/v1/embeddings",
            json={"input": f"the cookie was {SET_COOKIE}"},
            headers={"cookie": f"sid={SET_COOKIE}"},
        )
        got = await wait_rows(db_path, 2)
        await app.recorder.flush()
    disk = disk_bytes(db_path)
    for secret in (QUERY_KEY, GOOG_KEY, COOKIE, SET_COOKIE):
        assert secret.encode() not in disk, secret
    assert got[0]["upstream"].endswith("/v1/models?key=[REDACTED]&api_key=[REDACTED]&alt=json")
    assert '["x-goog-api-key", "[REDACTED]"]' in got[0]["request_headers"]
    assert '["set-cookie", "[REDACTED]"]' in got[0]["response_headers"]


async def test_userinfo_and_query_keys_stay_out_of_502s_healthz_the_log_and_the_startup_line(tmp_path):
    db = tmp_path / "t.db"
    dead = f"http://tm-user:{PASSWORD}@127.0.0.1:{free_port()}/v1"
    proc, url = start_serve(db, dead, "--verbose")
    try:
        async with httpx2.AsyncClient() as client:
            response = await client.post(url + f"/v1/chat/completions?key={QUERY_KEY}", json={"model": "m"})
            health = await client.get(url + "/healthz")
        assert response.status_code == 502
        assert "could not reach" in response.text and "[REDACTED]@127.0.0.1" in response.text
        assert PASSWORD not in response.text and QUERY_KEY not in response.text
        assert PASSWORD not in health.text and "[REDACTED]@127.0.0.1" in health.text
        (row,) = await wait_rows(db, 1)
    finally:
        proc.terminate()
        proc.wait(10)
    log = Path(proc.log_path).read_text()  # type: ignore[attr-defined]
    assert "tracemill listening on" in log and "forwarding to http://[REDACTED]@127.0.0.1" in log
    assert PASSWORD not in log and QUERY_KEY not in log
    assert PASSWORD not in (row["error"] + row["upstream"]) and QUERY_KEY not in (row["error"] + row["upstream"])
    assert PASSWORD.encode() not in disk_bytes(db)


async def test_httpx_request_lines_are_not_logged(tmp_path):
    db = tmp_path / "t.db"
    async with running(Echo()) as up:
        proc, url = start_serve(db, up + "/v1")
        try:
            async with httpx2.AsyncClient() as client:
                assert (await client.get(url + f"/v1/models?key={QUERY_KEY}")).status_code == 200
            await wait_rows(db, 1)
        finally:
            proc.terminate()
            proc.wait(10)
    log = Path(proc.log_path).read_text()  # type: ignore[attr-defined]
    assert "GET /v1/models 200" in log  # tracemill's own line, without the query
    assert QUERY_KEY not in log and "HTTP Request" not in log
    assert [r["upstream"] for r in rows(db)] == [up + "/v1/models?key=[REDACTED]"]
