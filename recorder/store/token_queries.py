"""Reads for token capture: an episode's calls with the ids each one came with, and one exchange's
token rows. `TraceReader` exposes them; the ids are unpacked here, so callers get plain lists."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from recorder.dialects import by_name
from recorder.dialects.base import DialectError
from recorder.ingest.token_rows import unpack_floats, unpack_ids
from recorder.store.dbapi import Connection


@dataclass
class TokenCall:
    """One LLM call of an episode: what was asked, what came back, and the ids the upstream used."""

    exchange_id: int
    answer_index: int  # where its answer sits in the episode's conversation
    model: str | None
    messages: list[dict[str, Any]]  # the request's conversation, as sent
    tools: list[dict[str, Any]]
    answer: dict[str, Any] | None  # the assistant message recorded (choice 0), canonical
    finished: bool  # the answer's completion state is complete (not truncated, cut or failed)
    status: str | None  # captured, inconsistent, missing; None when capture was off
    prompt_ids: list[int] | None
    completion_ids: list[int] | None
    logprobs: list[float] | None
    detail: str | None

    @property
    def turn(self) -> int:
        """1-based: the assistant turn this call produced."""
        return sum(1 for m in self.messages if m.get("role") == "assistant") + 1


_CALLS = """
    SELECT x.id, x.model, x.dialect, x.request_json, x.response_json, x.completion_state, ee.answer_index,
           t.status, t.prompt_ids, t.completion_ids, t.logprobs, t.detail
    FROM episode_exchanges ee JOIN exchanges x ON x.id = ee.exchange_id
    LEFT JOIN exchange_tokens t ON t.exchange_uid = x.uid AND t.choice = 0
    WHERE ee.episode_id = ? ORDER BY ee.exchange_id
"""


def episode_calls(db: Connection, episode_id: int) -> list[TokenCall]:
    """Every call chained into the episode, oldest first, read through its dialect."""
    calls = []
    for row in db.execute(_CALLS, (episode_id,)):
        dialect = by_name(row["dialect"] or "chat_completions")  # imports are chat
        try:
            request = json.loads(row["request_json"] or "{}")
            response = json.loads(row["response_json"]) if row["response_json"] else None
            canonical = (
                dialect.canonical(request, response if isinstance(response, dict) else None) if dialect else None
            )
        except (ValueError, DialectError):
            canonical = None
        if canonical is None:
            continue
        calls.append(
            TokenCall(
                exchange_id=row["id"],
                answer_index=row["answer_index"],
                model=row["model"],
                messages=canonical.messages,
                tools=canonical.tools or [],
                answer=canonical.answer,
                finished=row["completion_state"] in (None, "complete"),
                status=row["status"],
                prompt_ids=unpack_ids(row["prompt_ids"]),
                completion_ids=unpack_ids(row["completion_ids"]),
                logprobs=unpack_floats(row["logprobs"]),
                detail=row["detail"],
            )
        )
    return calls


def exchange_tokens(db: Connection, exchange_id: int) -> list[dict[str, Any]]:
    """The token rows of one exchange, one per choice, ids unpacked."""
    sql = (
        "SELECT t.* FROM exchange_tokens t JOIN exchanges x ON x.uid = t.exchange_uid WHERE x.id = ? ORDER BY t.choice"
    )
    out = []
    for row in db.execute(sql, (exchange_id,)):
        item = dict(row)
        item["prompt_ids"], item["completion_ids"] = unpack_ids(row["prompt_ids"]), unpack_ids(row["completion_ids"])
        item["logprobs"] = unpack_floats(row["logprobs"])
        out.append(item)
    return out
