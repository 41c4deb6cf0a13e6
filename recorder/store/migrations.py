"""Schema migrations: a plain list of small named functions, applied once each, in order.

A newer tracemill opens an older database by running the ones it has not seen yet; the names
already applied are kept in `_migrations` (recorder/store/migrate.py applies them). The first
three, the schema as first released, are in `initial_schema.py`. Append a new one at the END.

Each one runs on SQLite and on PostgreSQL (recorder/store/postgres/schema.py maps it), so write it
in the SQL both speak: the types INTEGER, REAL, TEXT and BLOB (BIGINT, DOUBLE PRECISION, TEXT and
BYTEA there; `INTEGER PRIMARY KEY` becomes an identity), JSON kept as TEXT, `?` placeholders,
`INSERT ... ON CONFLICT ... DO NOTHING | DO UPDATE` (never `INSERT OR ...`), no PRAGMA,
AUTOINCREMENT or WITHOUT ROWID. `json_extract`, `json_valid`, `instr` and `date(x, 'unixepoch')`
work on both. `dbapi.backend(db)` tells them apart for what has no common form. A new raw table
(one the writer fills) also goes into `copy.RAW_TABLES`, keyed by a uid, never by a local id.
"""

from __future__ import annotations

import json
import sqlite3

from recorder.store.initial_schema import m001_exchanges, m002_mcp, m003_episodes
from recorder.store.migrate import Migration, SchemaError, apply_all, pending_of, run_sql

__all__ = ["MIGRATIONS", "SchemaError", "apply", "pending"]

MIGRATIONS: list[Migration] = [m001_exchanges, m002_mcp, m003_episodes]


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def apply(db: sqlite3.Connection) -> list[str]:
    """Run the migrations this file has not seen yet; return their names."""
    return apply_all(db, MIGRATIONS)


def pending(db: sqlite3.Connection) -> list[str]:
    """The migrations this file still needs; SchemaError when it was written by a newer tracemill."""
    return pending_of(db, MIGRATIONS)


@migration
def m004_mcp_message_note(db: sqlite3.Connection) -> None:
    """Why a message was stored raw: nested too deep, a number too long, or not JSON at all. The
    mcp_calls view reads such a body only if SQLite can parse it (else one row would fail them all)."""
    run_sql(
        db,
        """
        ALTER TABLE mcp_messages ADD COLUMN note TEXT;
        DROP VIEW mcp_calls;
        CREATE VIEW mcp_calls AS
            SELECT q.id, q.uid, q.at, q.server, q.session, q.transport,
                   CASE WHEN q.note IS NULL OR json_valid(q.body) THEN json_extract(q.body, '$.params.name') END AS tool,
                   CASE WHEN q.note IS NULL OR json_valid(q.body) THEN json_extract(q.body, '$.params.arguments') END
                       AS arguments,
                   r.body AS response, r.kind AS response_kind, r.latency_ms, r.is_error, r.at AS answered_at
            FROM mcp_messages q LEFT JOIN mcp_messages r ON r.reply_to = q.uid
            WHERE q.kind = 'request' AND q.method = 'tools/call'
        """,
    )


@migration
def m005_exchange_tokens(db: sqlite3.Connection) -> None:
    """Token ids captured with [llm] capture_tokens: one row per choice, ids as packed binary."""
    run_sql(
        db,
        """
        CREATE TABLE exchange_tokens (
            exchange_uid TEXT NOT NULL,        -- exchanges.uid
            choice INTEGER NOT NULL,           -- the choice's index; 0 on a 'missing' row
            status TEXT NOT NULL,              -- captured, inconsistent (see detail) or missing (no ids came back)
            injected TEXT NOT NULL DEFAULT '', -- what tracemill asked for, e.g. 'return_token_ids,logprobs'; '' if the client did
            prompt_ids BLOB,                   -- little-endian uint32, as the upstream tokenized the prompt
            completion_ids BLOB,               -- little-endian uint32, the ids the model generated
            logprobs BLOB,                     -- little-endian float32, one per completion id, when asked for
            prompt_len INTEGER,
            completion_len INTEGER,
            detail TEXT,                       -- why inconsistent or missing
            PRIMARY KEY (exchange_uid, choice)
        )
        """,
    )


@migration
def m006_exchange_dialect_and_completion(db: sqlite3.Connection) -> None:
    """Which API dialect each exchange spoke, and its completion state with the reason.

    Older rows are filled in from what was stored: an answer whose finish reason was recorded
    finished, even if the old relay marked it incomplete because the client closed right after
    the stream's end (the sync openai SDK, LangChain and LiteLLM do).
    """
    from recorder.dialects import by_name, dialect_for
    from recorder.dialects.base import COMPLETE, INCOMPLETE

    run_sql(
        db,
        """
        ALTER TABLE exchanges ADD COLUMN dialect TEXT;            -- chat_completions, responses, anthropic_messages
        ALTER TABLE exchanges ADD COLUMN completion_state TEXT;   -- complete, truncated, incomplete or error
        ALTER TABLE exchanges ADD COLUMN completion_reason TEXT   -- why, for every state but a plain complete
        """,
    )
    for method, path in db.execute("SELECT DISTINCT method, path FROM exchanges").fetchall():
        dialect = dialect_for("POST" if method == "IMPORT" else method, path)  # imports were stored as chat
        if dialect is not None:
            db.execute("UPDATE exchanges SET dialect = ? WHERE method = ? AND path = ?", (dialect.name, method, path))
    run_sql(
        db,
        """
        UPDATE exchanges SET completion_state = CASE
            WHEN status >= 400 OR error LIKE 'stream error:%' THEN 'error'
            WHEN incomplete = 1 THEN 'incomplete'
            ELSE 'complete' END,
            completion_reason = CASE WHEN status >= 400 OR incomplete = 1 OR error IS NOT NULL THEN error END
        """,
    )
    rows = db.execute(
        "SELECT id, dialect, response_json, incomplete FROM exchanges "
        "WHERE dialect IS NOT NULL AND completion_state != 'error' AND response_json IS NOT NULL"
    )
    updates = []
    for exchange_id, name, response_json, incomplete in rows:
        try:
            answer = json.loads(response_json)
        except ValueError:
            continue
        dialect = by_name(name)
        if dialect is None or not isinstance(answer, dict):
            continue
        state, why = dialect.completion(answer)
        if incomplete and state != COMPLETE:
            continue  # cut short, as recorded
        updates.append((state, why, int(state == INCOMPLETE), exchange_id))
    db.executemany(
        "UPDATE exchanges SET completion_state = ?, completion_reason = ?, incomplete = ?, "
        "error = CASE WHEN incomplete = 1 AND ? = 0 THEN NULL ELSE error END WHERE id = ?",
        [(s, w, i, i, x) for s, w, i, x in updates],
    )


@migration
def m007_episodes_across_dialects(db: sqlite3.Connection) -> None:
    """What chaining every dialect needs: each turn's canonical answer and ids, resumable episodes.

    Episodes are derived data. Without curation they are rebuilt with the new rules on the next
    read; with curation (which names episode ids) they are kept, and only exchanges that were
    never chained (Responses, Anthropic Messages) are chained now.
    """
    run_sql(
        db,
        """
        ALTER TABLE episode_exchanges ADD COLUMN alt_hash TEXT;      -- conv_hash with the answer's other call ids
        ALTER TABLE episode_exchanges ADD COLUMN answer_json TEXT;   -- the answer, a canonical assistant message
        ALTER TABLE episode_exchanges ADD COLUMN answer_id TEXT;     -- the id a later request names to continue it
        ALTER TABLE episode_exchanges ADD COLUMN alt_ids TEXT;       -- JSON {call id: the other id a client may send}
        ALTER TABLE episode_exchanges ADD COLUMN prev_exchange_id INTEGER;  -- the response this one continued
        CREATE INDEX episode_exchanges_alt ON episode_exchanges(alt_hash);
        CREATE INDEX episode_exchanges_answer ON episode_exchanges(answer_id);
        ALTER TABLE episodes ADD COLUMN resume_from INTEGER;         -- a retry of an unfinished last turn goes on here
        ALTER TABLE llm_tool_calls ADD COLUMN alt_id TEXT;           -- this call's other id (vLLM streams other ids)
        CREATE INDEX llm_tool_calls_alt ON llm_tool_calls(alt_id)
        """,
    )
    if db.execute("SELECT 1 FROM curation LIMIT 1").fetchone() is None:
        for table in ("links", "llm_tool_calls", "episode_exchanges", "episodes", "_cursors"):
            db.execute(f"DELETE FROM {table}")
        return
    from recorder.dialects import by_name

    db.execute("UPDATE episodes SET resume_from = last_exchange_id")
    rows = db.execute(
        "SELECT ee.exchange_id, x.dialect, x.request_json, x.response_json FROM episode_exchanges ee "
        "JOIN exchanges x ON x.id = ee.exchange_id"
    ).fetchall()
    for exchange_id, name, request_json, response_json in rows:
        dialect = by_name(name)
        try:
            request, answer = json.loads(request_json or "null"), json.loads(response_json or "null")
            canonical = dialect.canonical(request, answer if isinstance(answer, dict) else None) if dialect else None
        except (ValueError, TypeError, AttributeError):  # not a conversation its dialect reads: no answer to keep
            continue
        if canonical is not None and canonical.answer is not None:
            db.execute(
                "UPDATE episode_exchanges SET answer_json = ? WHERE exchange_id = ?",
                (json.dumps(canonical.answer), exchange_id),
            )
    db.execute("UPDATE _cursors SET value = 0 WHERE name = 'episodes'")


@migration
def m008_exchange_body_truncated(db: sqlite3.Connection) -> None:
    """Bodies past [store] max_body_bytes are stored cut and flagged; `note` says why a body is not
    as usual (cut short, or JSON nested too deeply to parse and kept raw)."""
    run_sql(
        db,
        """
        ALTER TABLE exchanges ADD COLUMN body_truncated INTEGER NOT NULL DEFAULT 0;  -- stored cut at max_body_bytes
        ALTER TABLE exchanges ADD COLUMN note TEXT
        """,
    )
