"""Linking each MCP tools/call to the LLM tool call that asked for it: the matching rules.

Explicit session keys first; otherwise the tool name (allowing `mcp__server__tool`,
`server_tool` and similar prefixes) plus the canonical JSON arguments, inside the window between
the LLM answer and the next request that carries that tool_call_id back. Parallel identical calls
pair off in order; a second MCP call for an already linked tool call is recorded as a retry.
The store (recorder/store/linking.py) finds the candidates and keeps the links.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from recorder.episodes.normalize import canonical_args

GRACE = 2.0  # seconds of clock skew allowed between the LLM answer and the MCP call


def llm_names(server: str, tool: str) -> list[str]:
    """The names an agent may have given this MCP tool."""
    names = [tool]
    for sep in ("__", "_", ".", "-", "/"):
        names.append(f"{server}{sep}{tool}")
    names.append(f"mcp__{server}__{tool}")
    return names


def called_tool(body: str) -> tuple[str, str] | None:
    """A tools/call request's tool name and canonical arguments, or None when it names no tool."""
    try:
        params = json.loads(body).get("params") or {}
    except (ValueError, AttributeError):
        return None
    tool = params.get("name")
    return (tool, canonical_args(params.get("arguments") or {})) if isinstance(tool, str) else None


@dataclass(frozen=True)
class Candidate:
    """An LLM tool call with the same name and arguments, asked for in time."""

    exchange_id: int
    idx: int
    tool_call_id: str
    session: str | None
    answered_at: float
    linked: bool  # an earlier MCP call already took it


@dataclass(frozen=True)
class Choice:
    candidate: Candidate
    method: str  # session+args, args+window, order, retry
    confidence: float


def choose(session: str | None, connection: str | None, candidates: list[Candidate]) -> Choice | None:
    """The tool call an MCP call answers, among candidates newest answer first."""
    explicit = session if session and session != connection else None
    keyed = [c for c in candidates if explicit and c.session == explicit]
    pool, method, confidence = (keyed, "session+args", 1.0) if keyed else (candidates, "args+window", 0.9)
    if not pool:
        return None
    newest = max(c.answered_at for c in pool)
    pool = sorted((c for c in pool if c.answered_at == newest), key=lambda c: c.idx)  # the latest answer only
    free = [c for c in pool if not c.linked]
    if not free:
        return Choice(pool[-1], "retry", 0.6)
    if len(pool) > 1:
        method, confidence = ("order", 0.7) if method == "args+window" else (method, 0.95)
    return Choice(free[0], method, confidence)
