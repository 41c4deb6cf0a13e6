"""Recorded episodes for the export, unroll and push tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import tm
from tests.support.episode_data import add_exchange, assistant

SYS = {"role": "system", "content": "Guide: always use the browser."}
TOOLS_A = [
    {
        "type": "function",
        "function": {
            "name": "browser_navigate",
            "description": "Go",
            "parameters": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
        },
    }
]
TOOLS_B = [
    {
        "type": "function",
        "function": {
            "name": "get_sum",
            "parameters": {
                "type": "object",
                "properties": {
                    "a": {"type": "number"},
                    "b": {"type": "number"},
                    "opts": {"type": "object", "properties": {"round": {"type": "boolean"}}},
                },
            },
        },
    }
]


def tool(call_id: str, content: str) -> dict:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def workshop_trace(folder: Path) -> Path:
    """A trace in the reference workflow's format, built here (the tests ship their own fixtures)."""
    messages = [
        SYS,
        {"role": "user", "content": "open example.com"},
        assistant("\n\n", "I'll navigate.", [("chatcmpl-tool-1", "browser_navigate", {"url": "https://example.com"})]),
        tool("chatcmpl-tool-1", "- Page Title: Example"),
        assistant("The page title is Example.", "Done, answer."),
    ]
    path = folder / "trace_20250529_130900.json"
    path.write_text(
        json.dumps(
            {"timestamp": "20250529_130900", "model": "Qwen/Qwen3-30B-A3B-FP8", "messages": messages, "tools": TOOLS_A}
        )
    )
    return path


@pytest.fixture
def store(db, tmp_path) -> Any:
    """Two recorded episodes (one multi-turn with two user messages) and one imported trace, on each backend."""
    u1, u2 = {"role": "user", "content": "sum 2 and 3"}, {"role": "user", "content": "now 4 and 5"}
    a1 = assistant(None, "Call get_sum.", [("c1", "get_sum", {"a": 2, "b": 3})])
    a2 = assistant("5", "Say 5.")
    a3 = assistant(None, "Call again.", [("c2", "get_sum", {"a": 4, "b": 5})])
    add_exchange(db, [SYS, u1], a1, at=100, tools=TOOLS_B, session="s1")
    add_exchange(
        db, [SYS, u1, {**a1, "reasoning_content": None}, tool("c1", "5")], a2, at=101, tools=TOOLS_B, session="s1"
    )
    add_exchange(db, [SYS, u1, a1, tool("c1", "5"), a2, u2], a3, at=102, tools=TOOLS_B, session="s1")
    add_exchange(
        db,
        [SYS, u1, a1, tool("c1", "5"), a2, u2, a3, tool("c2", "9")],
        assistant("9", "Say 9."),
        at=103,
        tools=TOOLS_B,
        session="s1",
    )
    add_exchange(db, [{"role": "user", "content": "hello"}], assistant("hi!", "Greet."), at=200, session="s2")
    result = tm("import", str(workshop_trace(tmp_path)), "--db", str(db))
    assert result.returncode == 0 and "imported 1 new trace" in result.stdout, result.stderr
    return db
