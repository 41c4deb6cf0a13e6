"""The viewer over HTTP, on traffic recorded through a real `tracemill serve`: the guard (Origin,
token, Host, login), escaping of hostile trace content, folds loaded lazily, live rows, exports."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx2
import pytest

from recorder import Filters, open_reader
from tests.support.cli import tm
from tests.support.stores import TestStore, with_password
from tests.support.viewer_data import page_token, record_runs, serving, viewer


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def recorded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> TestStore:
    """Two recorded runs, once per module on each backend (the store fixture's two halves, module-wide)."""
    folder = tmp_path_factory.mktemp("viewer-http")
    if request.param == "sqlite":
        store = TestStore(str(folder / "viewer.db"), "sqlite", folder)
    else:
        store = TestStore(with_password(request.getfixturevalue("pg_databases").create()), "postgres", folder)

    async def record() -> TestStore:
        async with serving(folder, store) as (url, db):
            await record_runs(url)
            async with httpx2.AsyncClient() as client:  # a failed, non-chat exchange for the exchanges page
                await client.post(url + "/v1/embeddings", json={"model": "qwen", "input": "x"})
            return db

    return asyncio.run(record())


def episode_ids(db: TestStore) -> dict[str, int]:
    with open_reader(str(db)) as reader:
        return {r["session"]: r["id"] for r in reader.episodes(Filters(include_excluded=True), limit=100)}


def steps(db: TestStore) -> int:
    with open_reader(str(db)) as reader:
        return sum(len(reader.curation_history(episode)) for episode in episode_ids(db).values())


async def test_a_change_needs_the_viewers_origin_and_token_else_403_and_nothing_written(recorded):
    episode = episode_ids(recorded)["plain"]
    async with viewer(recorded) as (url, client):
        token = page_token((await client.get("/ui/episodes")).text)
        before = steps(recorded)
        tries = [
            ({"origin": "http://evil.example"}, {"token": token}),  # a foreign page that somehow has the token
            ({"origin": "null"}, {"token": token}),
            ({}, {"token": token}),  # no Origin at all
            ({"origin": url}, {}),  # our Origin, no token
            ({"origin": url}, {"token": "wrong"}),
            ({"origin": url, "x-tracemill-token": "wrong"}, {"token": token}),  # the header wins, and it is wrong
        ]
        for headers, form in tries:
            answer = await client.post(f"/ui/episodes/{episode}/tag", data={"tags": "pwned", **form}, headers=headers)
            assert answer.status_code == 403, (headers, form, answer.text)
        for path in (f"/ui/episodes/{episode}/exclude", "/ui/export"):
            assert (
                await client.post(path, data={"token": token}, headers={"origin": "http://evil.example"})
            ).status_code == 403
        assert steps(recorded) == before  # nothing written
        assert not list((recorded.folder / "exports").glob("*"))
        ok = await client.post(
            f"/ui/episodes/{episode}/tag", data={"tags": "ok"}, headers={"origin": url, "x-tracemill-token": token}
        )
        assert ok.status_code == 303 and steps(recorded) == before + 1
        assert (
            await client.post(f"/ui/episodes/{episode}/undo", data={"token": token}, headers={"origin": url})
        ).status_code == 303
        other = await client.get("/ui/episodes", headers={"host": "evil.example:80"})  # DNS rebinding
        assert other.status_code == 421


async def test_off_on_a_public_address_without_a_token_and_asks_for_it_with_one(recorded):
    async with viewer(recorded, host="0.0.0.0") as (_, client):
        off = await client.get("/ui/episodes")
        assert off.status_code == 403 and "[ui] token" in off.text
    async with viewer(recorded, host="0.0.0.0", token="s3cret-viewer") as (url, client):
        first = await client.get("/ui/episodes")
        assert first.status_code == 303 and first.headers["location"] == "/ui/login"
        login = await client.get("/ui/login")
        token = page_token(login.text)
        wrong = await client.post("/ui/login", data={"token": token, "login_token": "guess"}, headers={"origin": url})
        assert wrong.status_code == 403 and "not the token" in wrong.text
        right = await client.post(
            "/ui/login", data={"token": token, "login_token": "s3cret-viewer"}, headers={"origin": url}
        )
        assert (
            right.status_code == 303
            and "httponly" in right.headers["set-cookie"].lower()
            and "samesite=strict" in right.headers["set-cookie"].lower()
        )
        assert (await client.get("/ui/episodes")).status_code == 200  # the cookie now opens the pages
        assert "s3cret-viewer" not in right.headers["set-cookie"]


async def test_hostile_trace_content_renders_as_text(recorded):
    episode = episode_ids(recorded)["hostile"]
    async with viewer(recorded) as (_, client):
        page = await client.get(f"/ui/episodes/{episode}")
        html = page.text
        assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
        assert "<script>alert" not in html and "<img src=x" not in html and 'onerror="alert' not in html
        assert (
            "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;&lt;img src=x onerror=&#34;alert(&#39;img&#39;)&#34;&gt;"
            in html
        )
        assert re.findall(r"<script[^>]*>", html) == [
            '<script src="/ui/static/htmx.min.js" defer>',
            '<script src="/ui/static/viewer.js" defer>',
        ]
        for path in (
            f"/ui/episodes/{episode}/part/3/content",
            f"/ui/episodes/{episode}/part/3/mcp",
            "/ui/episodes?q=source",
            f"/ui/episodes/{episode}/raw",
        ):
            fragment = (await client.get(path)).text
            assert "<script>alert" not in fragment and "<img src=x" not in fragment, path
        listing = (await client.get("/ui/episodes?q=%3Cb%3Esource")).text  # the search term itself comes back escaped
        assert "<b>source" not in listing and "&lt;b&gt;source" in listing
        raw_tab = (await client.get(f"/ui/episodes/{episode}/raw")).text
        bodies = [
            (await client.get(f"/ui/exchanges/{x}/body")).text
            for x in re.findall(r'hx-get="/ui/exchanges/(\d+)/body"', raw_tab)
        ]
        assert len(bodies) == 2 and "&lt;script&gt;" in bodies[1] and not any("<script>alert" in b for b in bodies)


async def test_long_tool_results_fold_and_load_when_opened_and_mcp_links_show(recorded):
    episode = episode_ids(recorded)["hostile"]
    async with viewer(recorded) as (_, client):
        html = (await client.get(f"/ui/episodes/{episode}")).text
        assert "row 39" not in html and "row 2:" in html  # a preview in the page, the rest behind the fold
        assert f'hx-get="/ui/episodes/{episode}/part/3/content"' in html and "tool result" in html
        assert "<summary>reasoning" in html and "<summary>system prompt" in html
        assert "⇄ MCP <b>py</b>" in html and "matched by session+args" in html
        full = (await client.get(f"/ui/episodes/{episode}/part/3/content")).text
        assert "row 39" in full and "Echo: " in full
        result = json.loads(
            (await client.get(f"/ui/episodes/{episode}/part/3/mcp")).text.replace("&#34;", '"').replace("&#39;", "'")
        )
        assert result["content"][0]["text"].startswith("Echo: ")
        assert re.search(r"tokens \d+ / \d+\s+· TTFB \d+ ms · \d+ ms", html)
        assert (await client.get(f"/ui/episodes/{episode}/part/99/content")).status_code == 404
        assert (await client.get("/ui/episodes/999999")).status_code == 404


async def test_episode_list_filters_pages_and_live_rows(recorded):
    ids = episode_ids(recorded)
    async with viewer(recorded) as (_, client):
        listing = (await client.get("/ui/episodes")).text
        assert all(f'href="/ui/episodes/{i}"' in listing for i in ids.values())
        only = (await client.get("/ui/episodes", params={"q": "short"})).text
        assert f'href="/ui/episodes/{ids["plain"]}"' in only and f'href="/ui/episodes/{ids["hostile"]}"' not in only
        first = await client.get("/ui/episodes", params={"limit": 1})
        older = re.search(r'href="/ui/episodes\?([^"]+)" rel="next"', first.text).group(1).replace("&amp;", "&")
        second = (await client.get("/ui/episodes?" + older)).text
        assert (
            f'href="/ui/episodes/{ids["plain"]}"' in second and "hx-trigger" not in second
        )  # older pages are not live
        bad = await client.get("/ui/episodes", params={"since": "yesterday"})
        assert bad.status_code == 400 and "use a duration" in bad.text
        version = re.search(r"[?&;]v=([0-9:]+)", listing).group(1)
        assert (await client.get("/ui/episodes/rows", params={"v": version})).status_code == 204
        with open_reader(str(recorded)) as reader:
            reader.curate(ids["plain"], "tag", tags=["live"])
        rows = await client.get("/ui/episodes/rows", params={"v": version})
        assert rows.status_code == 200 and rows.text.startswith("<tbody") and ">live<" in rows.text
        assert (await client.get("/ui/episodes", params={"tag": "live"})).text.count("<tr class=") == 1


async def test_exchanges_mcp_and_overview_pages(recorded):
    async with viewer(recorded) as (_, client):
        exchanges = (await client.get("/ui/exchanges")).text
        assert "POST /v1/embeddings" in exchanges and "/v1/chat/completions" in exchanges
        failed = (await client.get("/ui/exchanges", params={"failed": "1"})).text
        assert "/v1/embeddings" in failed and "/v1/chat/completions" not in failed
        mcp = (await client.get("/ui/mcp", params={"server": "py"})).text
        assert "<b>echo</b>" in mcp and "Echo: message-0" in mcp
        overview = (await client.get("/ui/overview")).text
        assert overview.count("<svg") == 5 and "tokens per model" in overview and "echo" in overview
        raw = (await client.get("/ui/exchanges/1/body")).text
        assert "request" in raw and "&#34;messages&#34;" in raw


async def test_export_from_the_page_runs_in_the_background_and_links_its_file(recorded):
    async with viewer(recorded) as (url, client):
        token = page_token((await client.get("/ui/export")).text)
        form = {
            "token": token,
            "kind": "export",
            "format": "jsonl",
            "unroll": "assistant",
            "session": "plain",
            "name": "plain.jsonl",
        }
        started = await client.post("/ui/export", data=form, headers={"origin": url})
        assert started.status_code == 303
        job = started.headers["location"]
        deadline = time.monotonic() + 60
        while (
            'data-state="running"' in (page := (await client.get(job + "/progress")).text)
            and time.monotonic() < deadline
        ):
            await asyncio.sleep(0.2)
        assert 'data-state="done"' in page, page
        rows = [json.loads(line) for line in (await client.get(job + "/file/0")).text.splitlines()]
        assert (
            len(rows) == 2
            and {r["session"] for r in rows} == {"plain"}
            and rows[0]["parent_id"] == rows[1]["parent_id"]
        )
        again = await client.post("/ui/export", data=form, headers={"origin": url})
        assert again.status_code == 400 and "already exists" in again.text
        bad = await client.post("/ui/export", data={**form, "name": "../x.jsonl"}, headers={"origin": url})
        assert bad.status_code == 400 and "file name" in bad.text


async def test_curation_from_forms_is_the_cli_log(recorded):
    episode = episode_ids(recorded)["plain"]
    async with viewer(recorded) as (url, client):
        token = page_token((await client.get(f"/ui/episodes/{episode}")).text)

        async def post(action: str, **form: Any) -> httpx2.Response:
            return await client.post(
                f"/ui/episodes/{episode}/{action}", data={"token": token, **form}, headers={"origin": url}
            )

        assert (await post("rate", value="0.25")).status_code == 303
        edit_form = (await client.get(f"/ui/episodes/{episode}/edit/2")).text
        assert 'name="arguments_0"' in edit_form
        assert (await post("edit", index="2", content="", arguments_0='{"message": "edited"}')).status_code == 303
        refused = await post("edit", index="3", content="x")
        assert refused.status_code == 303 and "not+an+assistant+turn" in refused.headers["location"].replace("%20", "+")
        assert (await post("drop_turns", select=["3", "1"])).status_code == 303
        html = (await client.get(f"/ui/episodes/{episode}")).text
        assert html.count("dropped from export") == 3 and "arguments edited" in html and "rated 0.25" in html
    history = tm("traces", "history", str(episode), "--db", str(recorded)).stdout
    assert re.findall(r"#\d+ \S+ (\w+)", history)[-3:] == ["rate", "edit", "drop_turns"]


async def test_a_long_episode_renders_a_chunk_then_the_rest_as_it_scrolls(db):
    from tests.support.episode_data import add_exchange, assistant

    messages: list[dict[str, Any]] = [{"role": "user", "content": "go"}]
    for k in range(150):
        messages += [
            assistant(None, f"step {k}", [(f"c{k}", "tool", {"k": k})]),
            {"role": "tool", "tool_call_id": f"c{k}", "content": f"result {k}"},
        ]
    add_exchange(db, messages, assistant("done", "finished"), at=1)
    async with viewer(db) as (_, client):
        first = (await client.get("/ui/episodes/1")).text
        assert 'id="m99"' in first and 'id="m100"' not in first
        assert 'hx-get="/ui/episodes/1/turns?from=100" hx-trigger="revealed"' in first
        second = (await client.get("/ui/episodes/1/turns", params={"from": 100})).text
        assert 'id="m100"' in second and 'id="m199"' in second and "turns?from=200" in second
        last = (await client.get("/ui/episodes/1/turns", params={"from": 300})).text
        assert 'id="m301"' in last and "hx-trigger" in last and "turns?from" not in last  # the end: no more to load
        everything = (await client.get("/ui/episodes/1", params={"all": 1})).text
        assert 'id="m301"' in everything and "turns?from" not in everything
