"""A hand-written stdio MCP server that misbehaves the way real ones do: it prints a banner to
stdout before speaking JSON-RPC. Enough protocol for initialize, tools/list and echo."""

import json
import sys

print("rawserver v1 starting (this line is not JSON)", flush=True)
for line in sys.stdin:
    message = json.loads(line)
    if "id" not in message:
        continue
    method, mid = message.get("method"), message["id"]
    if method == "initialize":
        result = {
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "raw", "version": "1"},
        }
    elif method == "tools/list":  # two pages, so clients must follow nextCursor
        page = (message.get("params") or {}).get("cursor")
        name = "echo" if page is None else "shout"
        result = {
            "tools": [{"name": name, "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}}}]
        }
        if page is None:
            result["nextCursor"] = "page-2"
    elif method == "tools/call" and message["params"]["name"] == "picture":
        result = {
            "content": [
                {"type": "image", "mimeType": "image/png", "data": "iVBORw0KGgo" * 100},
                {"type": "text", "text": "a picture"},
            ]
        }
    elif method == "tools/call":
        result = {"content": [{"type": "text", "text": "Echo: " + message["params"]["arguments"]["message"]}]}
    else:
        print(
            json.dumps({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "Method not found"}}),
            flush=True,
        )
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": mid, "result": result}), flush=True)
