"""URL shapes of the MCP ways in: /mcp/<name>/mcp is /mcp/<name>, and the legacy SSE endpoint
event cannot be bent by what the client put in the path."""

from __future__ import annotations

import httpx2
import pytest
from mcp import Client

from proxy.config import MCPServerConfig
from proxy.mcp.inbound.sse_stream import sse_event
from recorder.sse import parse_all
from tests.support.mcp_harness import http_server, line_stdio, mcp_proxy, py_http_cmd


@pytest.mark.slow
@pytest.mark.parametrize("upstream", ["stdio", "http"])
async def test_a_path_ending_in_mcp_is_the_same_endpoint_for_the_official_client(tmp_path, upstream):
    db = tmp_path / "m.db"
    if upstream == "stdio":
        async with mcp_proxy(db, line_stdio("srv")) as (url, _app):
            for path in ("/mcp/srv", "/mcp/srv/mcp", "/s/k1/mcp/srv/mcp"):
                async with Client(url + path, mode="legacy") as client:
                    assert (await client.call_tool("echo", {"message": path})).content[0].text == path
        return
    async with http_server(py_http_cmd("http"), "/mcp") as upstream_url:
        config = MCPServerConfig(name="srv", url=upstream_url)
        async with mcp_proxy(db, config) as (url, _app), Client(url + "/mcp/srv/mcp", mode="legacy") as client:
            assert (await client.call_tool("echo", {"message": "hi"})).content[0].text == "Echo: hi"


def test_an_sse_event_cannot_gain_lines_from_its_data_or_fields():
    events = parse_all([sse_event(b'{"a":\r\n1}\rX\ndata: injected', event_id="e-1")])
    assert [(e.event, e.id) for e in events] == [("message", "e-1")]
    assert events[0].data == '{"a":\n1}\nX\ndata: injected'  # each line came back as data
    with pytest.raises(ValueError):
        sse_event(b"{}", event="endpoint\r\nevent: evil")


async def test_a_session_key_with_line_breaks_cannot_inject_into_the_endpoint_event(tmp_path):
    path = "/s/k%0d%0aevent:%20evil%0d%0adata:%20x/mcp/srv/sse"
    async with (
        mcp_proxy(tmp_path / "m.db", line_stdio("srv")) as (url, _app),
        httpx2.AsyncClient(timeout=10) as http,
        http.stream("GET", url + path) as response,
    ):
        if response.status_code != 200:  # refusing such a key outright is as good
            assert response.status_code == 400
            return
        raw = b""
        async for chunk in response.aiter_raw():
            raw += chunk
            if b"\n\n" in raw:
                break
    (event,) = parse_all([raw.split(b"\n\n")[0] + b"\n\n"])
    assert event.event == "endpoint" and "\r" not in event.data and "\n" not in event.data
    assert event.data.startswith("/s/k%0D%0Aevent:%20evil%0D%0Adata:%20x/mcp/srv/messages?session_id=")
