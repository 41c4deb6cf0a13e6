"""tracemill's proxy: the ASGI app, the LLM and MCP relays, the stdio wrapper and the CLI."""
