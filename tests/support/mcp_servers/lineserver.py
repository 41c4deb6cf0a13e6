"""A fast stdio MCP server for edge tests (plain Python, no SDK, starts in milliseconds).

Tools: echo; deep (answers with JSON nested 2,000 levels); env (returns an environment
variable's value); flood (sends N notifications, then answers; with `after`, answers first).
With --stubborn it ignores stdin EOF, SIGTERM and SIGHUP, like a server that would outlive its parent.

    python -m tests.support.mcp_servers.lineserver [--stubborn]
"""

import json
import os
import signal
import sys
import time

DEEP = 2000
sys.set_int_max_str_digits(0)  # ids of any length, as JSON allows


def answer(mid, result):
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": mid, "result": result}) + "\n")
    sys.stdout.flush()


def main() -> None:
    stubborn = "--stubborn" in sys.argv
    if stubborn:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if not isinstance(message, dict) or "id" not in message:
            continue
        mid, method = message["id"], message.get("method")
        params = message.get("params") or {}
        if method == "initialize":
            answer(
                mid,
                {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "line", "version": "1"},
                },
            )
        elif method == "tools/list":
            answer(
                mid,
                {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in ("echo", "deep", "env", "flood")]},
            )
        elif method == "tools/call":
            name, args = params.get("name"), params.get("arguments") or {}
            if name == "deep":  # a valid but very deep answer, written by hand: json.dumps would recurse
                mid_text = json.dumps(mid)
                sys.stdout.write('{"jsonrpc":"2.0","id":' + mid_text + ',"result":' + "[" * DEEP + "]" * DEEP + "}\n")
                sys.stdout.flush()
                continue
            text = os.environ.get(args.get("name", ""), "") if name == "env" else str(args.get("message", ""))
            if name == "flood" and args.get("after"):  # answer first, then flood while no request is open
                answer(mid, {"content": [{"type": "text", "text": text}]})
                time.sleep(float(args["after"]))
            if name == "flood":
                for i in range(int(args.get("count", 10))):
                    note = {
                        "jsonrpc": "2.0",
                        "method": "notifications/message",
                        "params": {"level": "info", "data": "x" * int(args.get("size", 100)) + str(i)},
                    }
                    sys.stdout.write(json.dumps(note) + "\n")
                sys.stdout.flush()
                if args.get("after"):
                    continue
            answer(mid, {"content": [{"type": "text", "text": text}]})
        elif method == "ping":
            answer(mid, {})
        else:
            sys.stdout.write(
                json.dumps({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "Method not found"}})
                + "\n"
            )
            sys.stdout.flush()
    while stubborn:
        time.sleep(3600)


if __name__ == "__main__":
    main()
