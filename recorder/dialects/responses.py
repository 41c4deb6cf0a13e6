"""The OpenAI Responses dialect (POST /v1/responses), streamed and not, in canonical chat form.

Translation rules (request `instructions` + `input` items, and the response's `output` items):
- `instructions` -> a system message; `input` as a string -> one user message.
- message items keep their role (`developer` -> system); `input_text`/`output_text` parts -> text
  parts, `input_image` -> `image_url` parts, `input_file` -> `file` parts, others kept as sent.
- Consecutive model-side items (reasoning, assistant message, function_call and the other calls)
  form ONE assistant message: `reasoning_content` from the reasoning's `reasoning_text` parts, else
  its summary texts; `content` the output text; `tool_calls` `{id: call_id, type: function,
  function: {name, arguments}}`. Reasoning that is only `encrypted_content` marks the turn
  `redacted_thinking`.
- `custom_tool_call` (input as arguments), `local_shell_call`, `shell_call` and `apply_patch_call`
  (their action / operation as JSON arguments) become tool calls too; their outputs and each
  `function_call_output` become tool messages with `tool_call_id: call_id`.
- `item_reference` is resolved with `lookup` against the earlier response that output the item.
- Anything else (web_search_call, mcp_call, computer_call_output, ...) is carried as sent in the
  `unmapped` list of the message it belongs to: the open assistant turn for model-side items, else
  the previous message (or the next one, before any message).
- Function tools `{type: function, name, description, parameters, strict}` -> chat tools; other
  tool types are kept as sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from recorder.dialects.base import (
    COMPLETE,
    ERROR,
    INCOMPLETE,
    REDACTED,
    TRUNCATED,
    UNMAPPED,
    Canonical,
    DialectError,
    Lookup,
    Reassembled,
    as_int,
    obj,
    path_is,
)
from recorder.dialects.responses_stream import STREAM_IDS, reassemble
from recorder.sse import SSEEvent

PATH = "/responses"
CALLS = {"function_call", "custom_tool_call", "local_shell_call", "shell_call", "apply_patch_call"}
OUTPUTS = {
    "function_call_output",
    "custom_tool_call_output",
    "local_shell_call_output",
    "shell_call_output",
    "apply_patch_call_output",
}
_CALL_NAMES = {"local_shell_call": "local_shell", "shell_call": "shell", "apply_patch_call": "apply_patch"}
_MODEL_SIDE_EXTRA = {"mcp_list_tools", "mcp_approval_request"}  # model-side items that do not end in _call


def parts(content: Any) -> Any:
    """Responses content parts as chat parts; a string stays a string."""
    if not isinstance(content, list):
        return content
    out: list[Any] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            out.append({"type": "text", "text": part.get("text") or ""})
        elif kind == "input_image" and part.get("image_url"):
            image = {"url": part["image_url"], **({"detail": part["detail"]} if part.get("detail") else {})}
            out.append({"type": "image_url", "image_url": image})
        elif kind == "input_file":
            out.append(
                {
                    "type": "file",
                    "file": {k: part[k] for k in ("file_data", "file_id", "filename", "file_url") if part.get(k)},
                }
            )
        else:
            out.append(part)
    return out


def _text(content: Any, kind: str = "output_text") -> str:
    if isinstance(content, str):
        return content
    return "".join(
        p.get("text") or ""
        for p in content or []
        if isinstance(p, dict) and p.get("type") in (kind, "text", "input_text")
    )


def _reasoning(item: dict[str, Any]) -> str | None:
    texts = [
        p.get("text") for p in item.get("content") or [] if isinstance(p, dict) and p.get("type") == "reasoning_text"
    ]
    if not any(texts):
        texts = [p.get("text") for p in item.get("summary") or [] if isinstance(p, dict)]
        return "\n\n".join(t for t in texts if t) or None
    return "".join(t for t in texts if t) or None


def _call(item: dict[str, Any]) -> dict[str, Any]:
    kind = item.get("type")
    if kind == "function_call":
        name, arguments = item.get("name"), item.get("arguments")
    elif kind == "custom_tool_call":
        name, arguments = item.get("name"), item.get("input")
    else:
        name = _CALL_NAMES.get(str(kind), kind)
        arguments = json.dumps(item.get("action") or item.get("operation") or {}, ensure_ascii=False)
    return {
        "id": item.get("call_id") or item.get("id"),
        "type": "function",
        "function": {"name": name or "", "arguments": arguments or ""},
    }


def _model_side(item: dict[str, Any]) -> bool:
    kind = str(item.get("type") or "")
    return kind == "reasoning" or kind.endswith("_call") or kind in _MODEL_SIDE_EXTRA


class _Conversation:
    """Builds chat messages from Responses items, one assistant message per run of model-side items."""

    def __init__(self, lookup: Lookup | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self.turn: dict[str, Any] | None = None  # the open assistant turn
        self.pending: list[Any] = []  # unmapped items seen before any message
        self.lookup = lookup

    def add(self, message: dict[str, Any]) -> dict[str, Any]:
        if self.pending:
            message[UNMAPPED] = self.pending
            self.pending = []
        self.messages.append(message)
        return message

    def open_turn(self) -> dict[str, Any]:
        if self.turn is None:
            self.turn = self.add({"role": "assistant", "content": None})
        return self.turn

    def carry(self, item: Any) -> None:
        if self.turn is not None and isinstance(item, dict) and _model_side(item):
            self.turn.setdefault(UNMAPPED, []).append(item)
        elif self.messages:
            self.messages[-1].setdefault(UNMAPPED, []).append(item)
        else:
            self.pending.append(item)

    def item(self, item: Any) -> None:
        if not isinstance(item, dict):
            self.carry(item)
            return
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "item_reference":
            found = self.resolve(item.get("id"))
            self.item(found) if found is not None else self.carry(item)
        elif kind == "message" and item.get("role") == "assistant":
            turn = self.open_turn()
            text = _text(item.get("content"))
            turn["content"] = text if turn["content"] is None else turn["content"] + "\n\n" + text
            refusal = "".join(p.get("refusal") or "" for p in item.get("content") or [] if isinstance(p, dict))
            if refusal:
                turn["refusal"] = refusal
        elif kind == "message":
            self.turn = None
            role = "system" if item.get("role") == "developer" else item.get("role")
            self.add({"role": role, "content": parts(item.get("content"))})
        elif kind == "reasoning":
            turn = self.open_turn()
            thought = _reasoning(item)
            if thought:
                turn["reasoning_content"] = (
                    thought if not turn.get("reasoning_content") else turn["reasoning_content"] + "\n\n" + thought
                )
            elif item.get("encrypted_content"):
                turn[REDACTED] = True
        elif kind in CALLS:
            self.open_turn().setdefault("tool_calls", []).append(_call(item))
        elif kind in OUTPUTS:
            self.turn = None
            output = item.get("output")
            content = parts(output) if isinstance(output, (str, list)) else json.dumps(output, ensure_ascii=False)
            self.add({"role": "tool", "tool_call_id": item.get("call_id") or item.get("id"), "content": content})
        else:
            if not _model_side(item):
                self.turn = None
            self.carry(item)

    def resolve(self, item_id: Any) -> dict[str, Any] | None:
        """The item an `item_reference` names, from the earlier response that output it."""
        if not isinstance(item_id, str) or self.lookup is None:
            return None
        earlier = self.lookup(item_id)
        if not isinstance(earlier, dict):
            return None
        renamed = {streamed: final for final, streamed in (earlier.get(STREAM_IDS) or {}).items()}
        wanted = renamed.get(item_id, item_id)
        return next((i for i in earlier.get("output") or [] if isinstance(i, dict) and i.get("id") == wanted), None)


def tools_of(tools: Any) -> list[dict[str, Any]] | None:
    if not isinstance(tools, list):
        return None
    out = []
    for tool in tools:
        if isinstance(tool, dict) and tool.get("type") == "function" and "function" not in tool:
            fn = {k: tool[k] for k in ("name", "description", "parameters", "strict") if k in tool}
            out.append({"type": "function", "function": fn})
        elif isinstance(tool, dict):
            out.append(tool)
    return out


def answer_message(answer: dict[str, Any] | None) -> dict[str, Any] | None:
    """The assistant message a response's output items add up to."""
    output = answer.get("output") if isinstance(answer, dict) else None
    if not isinstance(output, list) or not output:
        return None  # a failed call, or one cut before any item: not a turn
    conversation = _Conversation()
    conversation.open_turn()
    for item in output:
        conversation.item(item)
    turn = conversation.messages[0]
    if len(conversation.messages) > 1:  # client-side items in an output: keep them with the turn
        for extra in conversation.messages[1:]:
            turn.setdefault(UNMAPPED, []).append(extra)
    return turn


class Responses:
    name = "responses"

    def matches(self, method: str, path: str) -> bool:
        return path_is(method, path, PATH)

    def reassemble(self, events: Iterable[SSEEvent]) -> Reassembled:
        return reassemble(events)

    def usage(self, answer: dict[str, Any]) -> tuple[int | None, int | None]:
        usage = obj(answer.get("usage"))
        return as_int(usage.get("input_tokens")), as_int(usage.get("output_tokens"))

    def completion(self, answer: dict[str, Any]) -> tuple[str, str | None]:
        status = answer.get("status")
        error = answer.get("error")
        if status == "failed" or (error and status != "completed"):
            err = error if isinstance(error, dict) else {"message": error}
            return ERROR, str(err.get("message") or err.get("code") or "response failed")
        if status == "completed":
            return COMPLETE, None
        if status == "incomplete":
            details = obj(answer.get("incomplete_details"))
            return TRUNCATED, f"incomplete: {details.get('reason') or 'no reason given'}"
        return INCOMPLETE, f"response status {status or 'missing'}"

    def canonical(
        self, request: dict[str, Any], answer: dict[str, Any] | None, lookup: Lookup | None = None
    ) -> Canonical:
        if not isinstance(request, dict) or not isinstance(request.get("input", ""), (str, list)):
            raise DialectError("a responses request needs `input` as a string or a list of items")
        conversation = _Conversation(lookup)
        instructions = request.get("instructions")
        if isinstance(instructions, str) and instructions:
            conversation.add({"role": "system", "content": instructions})
        elif isinstance(instructions, list):
            for item in instructions:
                conversation.item(item)
        items = request.get("input")
        if isinstance(items, str):
            conversation.add({"role": "user", "content": items})
        else:
            for item in items or []:
                conversation.item(item)
        if conversation.pending:
            conversation.add({"role": "user", "content": None})  # only unmapped items: keep them somewhere
        message = answer_message(answer)
        ids = (answer or {}).get(STREAM_IDS) or {}
        calls = {c.get("id") for c in (message or {}).get("tool_calls") or []}
        previous = request.get("previous_response_id")
        return Canonical(
            messages=conversation.messages,
            tools=tools_of(request.get("tools")),
            answer=message,
            model=request.get("model") if isinstance(request.get("model"), str) else None,
            response_id=(answer or {}).get("id") if isinstance((answer or {}).get("id"), str) else None,
            previous_response_id=previous if isinstance(previous, str) else None,
            alt_call_ids={k: v for k, v in ids.items() if k in calls},
        )


DIALECT = Responses()
