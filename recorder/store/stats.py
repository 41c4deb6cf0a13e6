"""Aggregates and pages for the viewer: counts per day, tokens per model, latency, errors, tools.

Everything is bounded by a time window (`since`, unix seconds) and computed in one pass.
"""

from __future__ import annotations

from typing import Any

from recorder.store.dbapi import Connection
from recorder.store.queries import exchange_summary

DAY = "date(started_at, 'unixepoch', 'localtime')"  # PostgreSQL has this date() too (postgres/schema.py)
FAILED = "(status IS NULL OR status >= 400 OR error IS NOT NULL OR incomplete = 1)"
FAILED_COUNT = f"sum(CASE WHEN {FAILED} THEN 1 ELSE 0 END)"  # a boolean is no number on PostgreSQL


def per_day(db: Connection, since: float) -> list[dict[str, Any]]:
    """day -> exchanges, failed exchanges, new episodes, prompt and completion tokens."""
    days: dict[str, dict[str, Any]] = {}
    for r in db.execute(
        f"SELECT {DAY} AS day, count(*), {FAILED_COUNT}, sum(coalesce(prompt_tokens, 0)), "
        "sum(coalesce(completion_tokens, 0)) "
        f"FROM exchanges WHERE started_at >= ? GROUP BY day",
        (since,),
    ):
        days[r[0]] = {
            "day": r[0],
            "exchanges": r[1],
            "failed": r[2] or 0,
            "prompt_tokens": r[3],
            "completion_tokens": r[4],
            "episodes": 0,
        }
    for r in db.execute(f"SELECT {DAY} AS day, count(*) FROM episodes WHERE started_at >= ? GROUP BY day", (since,)):
        days.setdefault(r[0], {"day": r[0], "exchanges": 0, "failed": 0, "prompt_tokens": 0, "completion_tokens": 0})[
            "episodes"
        ] = r[1]
    return [days[d] for d in sorted(days)]


def tokens_per_model(db: Connection, since: float) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT coalesce(model, '-') AS m, count(*), sum(coalesce(prompt_tokens, 0)), "
        "sum(coalesce(completion_tokens, 0)) "
        "FROM exchanges WHERE started_at >= ? GROUP BY m "
        "ORDER BY sum(coalesce(prompt_tokens, 0)) + sum(coalesce(completion_tokens, 0)) DESC",
        (since,),
    ).fetchall()
    return [{"model": r[0], "exchanges": r[1], "prompt_tokens": r[2], "completion_tokens": r[3]} for r in rows]


def _percentile(values: list[float], q: float) -> float:
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[k]


def latency_per_day(db: Connection, since: float) -> list[dict[str, Any]]:
    """day -> p50, p90 and p99 of duration, and p50 of time to first byte, over successful exchanges (ms)."""
    durations: dict[str, list[float]] = {}
    ttfbs: dict[str, list[float]] = {}
    for day, duration, ttfb in db.execute(
        f"SELECT {DAY}, duration_ms, ttfb_ms FROM exchanges "
        f"WHERE started_at >= ? AND duration_ms IS NOT NULL AND NOT {FAILED}",
        (since,),
    ):
        durations.setdefault(day, []).append(duration)
        if ttfb is not None:
            ttfbs.setdefault(day, []).append(ttfb)
    out = []
    for day in sorted(durations):
        values, firsts = sorted(durations[day]), sorted(ttfbs.get(day, []))
        out.append(
            {
                "day": day,
                "p50": _percentile(values, 0.5),
                "p90": _percentile(values, 0.9),
                "p99": _percentile(values, 0.99),
                "ttfb_p50": _percentile(firsts, 0.5) if firsts else None,
            }
        )
    return out


def tool_calls_per_tool(db: Connection, since: float, limit: int = 15) -> list[dict[str, Any]]:
    """The tools models called most (from their answers), with how many of those calls reached an MCP server."""
    rows = db.execute(
        "SELECT t.name, count(*), count(l.mcp_uid) FROM llm_tool_calls t "
        "LEFT JOIN links l ON l.exchange_id = t.exchange_id AND l.tool_call_id = t.tool_call_id "
        "AND l.method != 'retry' "
        "WHERE t.answered_at >= ? GROUP BY t.name ORDER BY 2 DESC LIMIT ?",
        (since, limit),
    ).fetchall()
    return [{"tool": r[0], "calls": r[1], "via_mcp": r[2]} for r in rows]


def totals(db: Connection) -> dict[str, int]:
    row = db.execute(
        f"SELECT (SELECT count(*) FROM exchanges), (SELECT count(*) FROM exchanges WHERE {FAILED}), "
        "(SELECT count(*) FROM episodes), "
        "(SELECT count(*) FROM mcp_calls), (SELECT count(*) FROM curation)"
    ).fetchone()
    return dict(zip(("exchanges", "failed", "episodes", "mcp_calls", "curation_steps"), row, strict=True))


# What a summary needs, without the request body (it can be megabytes): the answer comes from the response.
LIGHT = (
    "id, started_at, session, method, path, model, status, stream, duration_ms, ttfb_ms, "
    "prompt_tokens, completion_tokens, "
    "incomplete, error, response_json, NULL AS request_json, dialect, completion_state, completion_reason, "
    "length(response_raw) AS raw_size"  # a BLOB's length is in its header; a TEXT's would read all of it
)


def exchange_page(
    db: Connection,
    *,
    limit: int = 50,
    before: int | None = None,
    session: str | None = None,
    model: str | None = None,
    failed: bool = False,
    path: str | None = None,
) -> list[dict[str, Any]]:
    """Every LLM exchange (any path, failures included), newest first; `before` is the last id of the previous page."""
    clauses: list[str] = []
    args: list[Any] = []
    for clause, value in (
        ("id < ?", before),
        ("session = ?", session),
        ("lower(model) LIKE lower(?)", f"%{model}%" if model else None),  # case-blind on both backends
        ("lower(path) LIKE lower(?)", f"%{path}%" if path else None),
    ):
        if value is not None:
            clauses.append(clause)
            args.append(value)
    if failed:
        clauses.append(FAILED)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = db.execute(f"SELECT {LIGHT} FROM exchanges{where} ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
    return [{**exchange_summary(r), "method": r["method"], "raw_size": r["raw_size"]} for r in rows]


def exchange_rows(db: Connection, ids: list[int]) -> list[dict[str, Any]]:
    """Summaries of these exchanges, oldest first, without reading their (possibly huge) requests."""
    out = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for r in db.execute(f"SELECT {LIGHT} FROM exchanges WHERE id IN ({marks}) ORDER BY id", chunk):
            out.append({**exchange_summary(r), "method": r["method"], "raw_size": r["raw_size"]})
    return out


def mcp_servers(db: Connection) -> list[dict[str, Any]]:
    """Per MCP server: tool calls, failed ones, mean latency, last seen."""
    rows = db.execute(
        "SELECT server, count(*), "
        "sum(CASE WHEN coalesce(is_error, 0) = 1 OR response_kind = 'error' THEN 1 ELSE 0 END), "
        "avg(latency_ms), max(at) "
        "FROM mcp_calls GROUP BY server ORDER BY server"
    ).fetchall()
    return [
        {"server": r[0], "calls": r[1], "errors": r[2] or 0, "mean_latency_ms": r[3], "last_at": r[4]} for r in rows
    ]
