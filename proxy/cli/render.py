"""Rich rendering for the inspection commands: tables and readable exchanges."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from recorder.dialects.chat_completions import REASONING_FIELDS
from recorder.episodes.normalize import readable_text

console = Console()


def when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def exchanges_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("id", "time", "session", "model", "status", "ms", "tokens"):
        table.add_column(col, no_wrap=True, max_width=24)
    table.add_column("answer", overflow="fold", min_width=30, ratio=1)
    for r in rows:
        state = r.get("completion_state") or ("incomplete" if r["incomplete"] else "complete")
        status = str(r["status"] or "-") + ("" if state == "complete" else f" {state}")
        has_tokens = r["prompt_tokens"] is not None or r["completion_tokens"] is not None
        tokens = f"{r['prompt_tokens'] or 0}/{r['completion_tokens'] or 0}" if has_tokens else "-"
        table.add_row(
            str(r["id"]),
            when(r["started_at"])[5:],
            r["session"] or "-",
            (r["model"] or "-")[-28:],
            Text(
                status,
                style="red"
                if (r["status"] or 500) >= 400 or state in ("incomplete", "error")
                else "yellow"
                if state != "complete"
                else "green",
            ),
            f"{r['duration_ms']:.0f}" if r["duration_ms"] is not None else "-",
            tokens,
            r["summary"],
        )
    return table


def message_panel(message: dict[str, Any], title: str | None = None) -> Panel:
    """One chat message: reasoning dimmed, tool calls as pretty JSON."""
    role = message.get("role", "?")
    parts: list[Any] = []
    for field in REASONING_FIELDS:
        if message.get(field):
            parts.append(Text(str(message[field]).strip(), style="dim italic"))
    if message.get("redacted_thinking"):
        parts.append(Text("[part of the reasoning was redacted by the provider]", style="dim italic"))
    content = readable_text(message.get("content"))
    if content:
        parts.append(Text(fold(content)))
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        try:
            args = json.dumps(json.loads(fn.get("arguments") or "{}"), indent=2, ensure_ascii=False)
        except ValueError:
            args = str(fn.get("arguments"))
        parts.append(Text(f"⚙ {fn.get('name')}  [{call.get('id')}]", style="bold yellow"))
        parts.append(Syntax(args, "json", theme="ansi_dark", background_color="default"))
    if message.get("unmapped"):
        parts.append(Text("unmapped: " + fold(json.dumps(message["unmapped"], ensure_ascii=False), 600), style="dim"))
    style = {"system": "magenta", "user": "cyan", "assistant": "green", "tool": "yellow"}.get(role, "white")
    label = title or role + (f" ← {message['tool_call_id']}" if message.get("tool_call_id") else "")
    return Panel(
        Group(*parts) if parts else Text("(empty)", style="dim"), title=label, title_align="left", border_style=style
    )


def fold(text: str, limit: int = 1200) -> str:
    if len(text) <= limit:
        return text
    return f"{text[: limit // 2]}\n… [{len(text) - limit} characters folded] …\n{text[-limit // 2 :]}"


# Request keys that hold the conversation (shown as messages and tools), in any dialect.
CONVERSATION_KEYS = ("messages", "tools", "input", "instructions", "system")


def _tool_line(tool: dict[str, Any]) -> str:
    fn: dict[str, Any] = tool["function"] if isinstance(tool.get("function"), dict) else tool
    name = fn.get("name") or tool.get("type") or "?"
    return f"tool {name}: {(fn.get('description') or '')[:100]}"


def show_exchange(ex: dict[str, Any]) -> None:
    head = (
        f"#{ex['id']}  {when(ex['started_at'])}  {ex['method']} {ex['path']}  status {ex['status']}  "
        f"{ex['duration_ms'] or 0:.0f} ms (first byte {ex['ttfb_ms'] or 0:.0f} ms)  session {ex['session'] or '-'}"
        + (f"  dialect {ex['dialect']}" if ex.get("dialect") else "")
    )
    console.print(Text(head, style="bold"))
    state = ex.get("completion_state")
    if state and state != "complete":
        console.print(Text(f"{state}: {ex.get('completion_reason') or ''}".rstrip(": "), style="yellow"))
    if ex.get("error"):
        console.print(Text(f"error: {ex['error']}", style="red"))
    request, canonical = ex.get("request_json"), ex.get("canonical")
    if isinstance(request, dict):
        params = {k: v for k, v in request.items() if k not in CONVERSATION_KEYS}
        console.print(Text("parameters: " + json.dumps(params, ensure_ascii=False), style="dim"))
        for tool in (canonical["tools"] if canonical else request.get("tools")) or []:
            console.print(Text(_tool_line(tool), style="dim"))
        for message in (canonical["messages"] if canonical else request.get("messages")) or []:
            console.print(message_panel(message))
    elif ex.get("request_raw"):
        console.print(Panel(fold(ex["request_raw"]), title="request (not JSON)"))
    response = ex.get("response_json")
    choices = response.get("choices") if isinstance(response, dict) else None
    if isinstance(choices, list) and len(choices) > 1:  # n > 1: every choice
        for choice in choices:
            title = f"answer #{choice.get('index', 0)} (finish: {choice.get('finish_reason')})"
            console.print(message_panel(choice.get("message") or {}, title))
    elif canonical and canonical["answer"]:
        console.print(message_panel(canonical["answer"], f"answer ({state or 'complete'})"))
    elif response is not None:
        console.print(
            Syntax(fold(json.dumps(response, indent=2, ensure_ascii=False), 4000), "json", background_color="default")
        )
    elif ex.get("response_raw"):
        console.print(Panel(fold(ex["response_raw"]), title="response (raw)"))
    if isinstance(response, dict) and isinstance(response.get("usage"), dict):
        console.print(Text("usage: " + json.dumps(response["usage"]), style="dim"))
    for row in ex.get("tokens") or []:
        sizes = (
            f", {row['prompt_len']} prompt + {row['completion_len']} completion ids" if row["completion_ids"] else ""
        )
        detail = f": {row['detail']}" if row["detail"] else ""
        console.print(Text(f"token ids (choice {row['choice']}): {row['status']}{sizes}{detail}", style="dim"))


def render_episode(out: Console, episode: Any, linked: dict[str, Any], curation: Any) -> None:
    """An episode for a human: numbered messages, roles apart, linked MCP calls marked."""
    tags = ", ".join(sorted(curation.tags)) or "-"
    head = (
        f"episode {episode.id}  {when(episode.started_at)}  model {episode.model or '-'}  session {episode.session or '-'}  "
        f"source {episode.source}  exchanges {len(episode.exchange_ids)}  tags {tags}"
        + ("  [excluded]" if curation.excluded else "")
        + (f"  rated {curation.rating}" if curation.rating is not None else "")
    )
    out.print(Text(head, style="bold"))
    names = [(t.get("function") or t).get("name", "?") for t in episode.tools]
    if names:
        out.print(Text(f"tools ({len(names)}): {', '.join(names)}", style="dim"))
    for index, message in enumerate(episode.messages):
        dropped = curation.drops(index) or (curation.strip_system and message.get("role") == "system")
        title = f"[{index}] {message.get('role')}" + (
            f" ← {message['tool_call_id']}" if message.get("tool_call_id") else ""
        )
        if dropped:
            title += " (dropped from export)"
        if index in curation.edits:
            title += " (edited; exports use the edit)"
            message = curation.edited(index, message)
        if episode.cut_off and index == len(episode.messages) - 1:
            why = f": {episode.final_reason}" if episode.final_reason else ""
            title += f" ({episode.final_state}{why}; left out of exports unless --include-incomplete)"
        link = linked.get(message.get("tool_call_id") or "")
        if link:
            flag = "✗ " if link["is_error"] else ""
            title += f"  ⇄ {flag}MCP {link['server']} {link['latency_ms'] or 0:.0f} ms ({link['method']}, {link['confidence']:.0%})"
        out.print(message_panel(message, title))
