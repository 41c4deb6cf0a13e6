"""A tiny built-in MCP server for `tracemill demo`: one tool, `get_weather`, with canned answers.

The demo serves it over streamable HTTP inside its own process, behind the proxy's /mcp/weather,
so the tool call is recorded on the MCP side and linked to the LLM tool call that asked for it.
`python -m proxy.fakes.weather_mcp` runs it on stdio instead, for trying `tracemill wrap`.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

WEATHER = {"Paris": "18°C, light rain", "Tokyo": "24°C, clear", "Lima": "16°C, overcast", "Oslo": "3°C, snow"}

server = MCPServer(
    "weather", instructions="Current weather for a few cities (canned: a demo server).", log_level="WARNING"
)


@server.tool(name="get_weather", description="Current weather for a city.")
def get_weather(city: str) -> str:
    return WEATHER.get(city, f"no weather data for {city}")


def http_app() -> Any:
    """The server as an ASGI app answering streamable HTTP at /mcp."""
    return server.streamable_http_app()


if __name__ == "__main__":
    server.run("stdio")
