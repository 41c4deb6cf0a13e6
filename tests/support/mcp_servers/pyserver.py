"""A Python MCP server built with the SDK, for the tests: tools named like server-everything's,
a resource, a prompt, progress, elicitation, a huge result, and a crash.

    python -m tests.support.mcp_servers.pyserver stdio
    python -m tests.support.mcp_servers.pyserver http PORT
    python -m tests.support.mcp_servers.pyserver sse PORT
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ElicitRequest, ElicitRequestFormParams, InputRequiredResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

server = MCPServer("pyserver", instructions="A test server for tracemill.")


@server.tool(name="echo", description="Echoes back the input.")
def echo(message: str) -> str:
    return f"Echo: {message}"


@server.tool(name="get-sum", description="Returns the sum of two numbers.")
def get_sum(a: float, b: float) -> str:
    return f"The sum of {a} and {b} is {a + b}."


@server.tool(name="trigger-long-running-operation", description="Reports progress as it goes.")
async def long_running(duration: float, steps: int, ctx: Context) -> str:
    for step in range(1, steps + 1):
        await asyncio.sleep(duration / steps)
        await ctx.report_progress(step, steps, f"step {step}")
    return f"Long running operation completed. Duration: {duration} seconds, Steps: {steps}."


class Answer(BaseModel):
    color: str


@server.tool(name="ask-color", description="Asks the user for a color (elicitation).")
async def ask_color(ctx: Context) -> Any:
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        # 2026-07-28: no server-to-client request; ask for input and expect a retry.
        if ctx.input_responses and "color" in ctx.input_responses:
            answer = ctx.input_responses["color"]
            return f"action={answer.action} color={(answer.content or {}).get('color')} state={ctx.request_state}"
        ask = ElicitRequest(
            params=ElicitRequestFormParams(
                message="What is your favourite color?", requested_schema=Answer.model_json_schema()
            )
        )
        return InputRequiredResult(input_requests={"color": ask}, request_state="asked-once")
    result = await ctx.elicit("What is your favourite color?", Answer)
    return f"action={result.action} color={result.data.color if result.data else None}"


@server.tool(name="big-result", description="Returns a text of the given size.")
def big_result(size: int) -> str:
    return "x" * size


@server.tool(name="crash", description="Exits the process mid-request.")
def crash() -> str:
    os._exit(3)


@server.resource("test://static/resource/1", name="Resource 1", mime_type="text/plain")
def resource_one() -> str:
    return "Resource 1: This is a plaintext resource"


@server.prompt(name="simple-prompt", description="A prompt without arguments.")
def simple_prompt() -> str:
    return "This is a simple prompt without arguments."


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    if kind == "stdio":
        server.run("stdio")
    elif kind == "http":
        server.run("streamable-http", port=int(sys.argv[2]))
    else:
        server.run("sse", port=int(sys.argv[2]))
