"""Schema migrations: a plain list of small named functions, applied once each, in order.

A newer tracemill opens an older database by running the ones it has not seen yet; the names
already applied are kept in `_migrations`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def run_sql(db: sqlite3.Connection, script: str) -> None:
    """Statement by statement: executescript() would commit the migration's transaction."""
    script = "\n".join(line.split("--", 1)[0] for line in script.splitlines())  # comments may hold ';'
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


@migration
def m001_exchanges(db: sqlite3.Connection) -> None:
    """One row per LLM-side HTTP exchange, with the reassembled answer for chat completions."""
    run_sql(
        db,
        """
        CREATE TABLE exchanges (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,          -- stable id, makes spill recovery idempotent
            started_at REAL NOT NULL,          -- unix seconds
            session TEXT,
            client TEXT,                       -- client address
            method TEXT NOT NULL,
            path TEXT NOT NULL,                -- /v1/... as the client asked
            upstream TEXT,                     -- full upstream URL
            status INTEGER,
            ttfb_ms REAL,
            duration_ms REAL,
            model TEXT,
            stream INTEGER NOT NULL DEFAULT 0,
            request_json TEXT,                 -- request body when it was JSON
            request_raw BLOB,                  -- request body when it was not
            request_headers TEXT,              -- JSON list of [name, value], secrets redacted
            response_json TEXT,                -- reassembled chat.completion, or the JSON body
            response_raw BLOB,                 -- raw bytes: non-JSON bodies, or all when keep_raw
            response_headers TEXT,
            reasoning_field TEXT,              -- 'reasoning_content' or 'reasoning', as the upstream used
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            error TEXT,
            incomplete INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX exchanges_started ON exchanges(started_at);
        CREATE INDEX exchanges_session ON exchanges(session, started_at);
        """
    )


def apply(db: sqlite3.Connection) -> list[str]:
    """Run the migrations this file has not seen yet; return their names."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    ran = []
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have raced us to it between the read and the lock.
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (fn.__name__,)).fetchone():
                db.execute("COMMIT")
                continue
            fn(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", (fn.__name__, time.time()))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        ran.append(fn.__name__)
    return ran


class SchemaError(RuntimeError):
    """The file was written by a newer tracemill: its schema has migrations this one does not know."""


def pending(db: sqlite3.Connection) -> list[str]:
    """The migrations this file still needs (all of them for a fresh file); raises SchemaError if it is newer."""
    has_table = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").fetchone()
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")} if has_table else set()
    known = [fn.__name__ for fn in MIGRATIONS]
    if unknown := sorted(done - set(known)):
        raise SchemaError(
            f"this store was written by a newer tracemill (schema steps unknown here: {', '.join(unknown)}); "
            "upgrade tracemill to read it"
        )
    return [name for name in known if name not in done]


@migration
def m002_mcp(db: sqlite3.Connection) -> None:
    """One row per JSON-RPC message, responses linked to their requests; tool schemas by hash."""
    run_sql(
        db,
        """
        CREATE TABLE mcp_messages (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            at REAL NOT NULL,
            server TEXT NOT NULL,
            session TEXT,                      -- the proxy session key, else the connection
            connection TEXT,                   -- Mcp-Session-Id, SSE session or wrap-<pid>: one client link
            direction TEXT NOT NULL,           -- c2s or s2c
            transport TEXT NOT NULL,           -- the way in: http, sse or stdio
            kind TEXT NOT NULL,                -- request, response, notification, error, invalid
            method TEXT,
            rpc_id TEXT,                       -- the id as JSON text, so 0 and "0" stay apart
            body TEXT NOT NULL,                -- the message after redaction (image bytes as metadata)
            size INTEGER NOT NULL,             -- bytes on the wire
            reply_to TEXT,                     -- for responses: uid of the request answered
            latency_ms REAL,                   -- for responses: time since that request
            is_error INTEGER                   -- for tools/call results: isError, or a JSON-RPC error
        );
        CREATE INDEX mcp_messages_session ON mcp_messages(server, session, at);
        CREATE INDEX mcp_messages_reply ON mcp_messages(reply_to);
        CREATE INDEX mcp_messages_method ON mcp_messages(method, at);
        CREATE TABLE tools (
            hash TEXT PRIMARY KEY,             -- sha256 of the canonical JSON definition
            name TEXT NOT NULL,
            definition TEXT NOT NULL,          -- exactly as the server (or the agent) sent it
            first_seen REAL NOT NULL
        );
        CREATE TABLE server_tools (
            server TEXT NOT NULL,
            hash TEXT NOT NULL REFERENCES tools(hash),
            first_seen REAL NOT NULL,
            PRIMARY KEY (server, hash)
        );
        CREATE VIEW mcp_calls AS
            SELECT q.id, q.uid, q.at, q.server, q.session, q.transport,
                   json_extract(q.body, '$.params.name') AS tool,
                   json_extract(q.body, '$.params.arguments') AS arguments,
                   r.body AS response, r.kind AS response_kind, r.latency_ms, r.is_error, r.at AS answered_at
            FROM mcp_messages q LEFT JOIN mcp_messages r ON r.reply_to = q.uid
            WHERE q.kind = 'request' AND q.method = 'tools/call'
        """,
    )


@migration
def m003_episodes(db: sqlite3.Connection) -> None:
    """Episodes (chained chat exchanges), LLM-to-MCP links, and the curation log."""
    run_sql(
        db,
        """
        CREATE TABLE episodes (
            id INTEGER PRIMARY KEY,
            session TEXT,
            source TEXT NOT NULL,              -- 'proxy' or 'import'
            started_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            model TEXT,
            last_exchange_id INTEGER NOT NULL, -- its request + answer is the conversation
            exchanges INTEGER NOT NULL,
            turns INTEGER NOT NULL,            -- assistant messages
            tool_calls INTEGER NOT NULL,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            first_user TEXT,
            forked_from INTEGER                -- an edit or retry branched off this episode
        );
        CREATE INDEX episodes_session ON episodes(session, started_at);
        CREATE INDEX episodes_started ON episodes(started_at);
        CREATE TABLE episode_exchanges (
            exchange_id INTEGER PRIMARY KEY REFERENCES exchanges(id),
            episode_id INTEGER NOT NULL REFERENCES episodes(id),
            answer_index INTEGER NOT NULL,     -- where this exchange's answer sits in the conversation
            conv_hash TEXT NOT NULL            -- hash of the normalised request messages + answer
        );
        CREATE INDEX episode_exchanges_hash ON episode_exchanges(conv_hash);
        CREATE INDEX episode_exchanges_episode ON episode_exchanges(episode_id);
        CREATE TABLE llm_tool_calls (
            exchange_id INTEGER NOT NULL,
            idx INTEGER NOT NULL,
            tool_call_id TEXT,
            name TEXT NOT NULL,
            arguments TEXT NOT NULL,           -- canonical JSON, for matching MCP calls
            session TEXT,
            answered_at REAL NOT NULL,         -- when the answer that asked for it was complete
            consumed_at REAL,                  -- when a request first carried its result back
            PRIMARY KEY (exchange_id, idx)
        );
        CREATE INDEX llm_tool_calls_match ON llm_tool_calls(name, answered_at);
        CREATE INDEX llm_tool_calls_id ON llm_tool_calls(tool_call_id);
        CREATE TABLE links (
            mcp_uid TEXT PRIMARY KEY,          -- the tools/call request in mcp_messages
            exchange_id INTEGER NOT NULL,      -- the LLM exchange whose answer asked for it
            tool_call_id TEXT NOT NULL,
            method TEXT NOT NULL,              -- session+args, args+window, order, retry
            confidence REAL NOT NULL
        );
        CREATE INDEX links_tool_call ON links(tool_call_id);
        CREATE TABLE curation (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            episode_id INTEGER NOT NULL,
            action TEXT NOT NULL,              -- tag, untag, exclude, include, drop_turns, strip_system, undo
            args TEXT NOT NULL DEFAULT '{}'    -- JSON; an undo names the entry it cancels
        );
        CREATE INDEX curation_episode ON curation(episode_id);
        CREATE TABLE _cursors (name TEXT PRIMARY KEY, value INTEGER NOT NULL)
        """,
    )


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
            canonical = dialect.canonical(json.loads(request_json), json.loads(response_json or "null")) if dialect else None
        except ValueError:
            continue
        if canonical is not None and canonical.answer is not None:
            db.execute("UPDATE episode_exchanges SET answer_json = ? WHERE exchange_id = ?", (json.dumps(canonical.answer), exchange_id))
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
