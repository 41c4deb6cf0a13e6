"""The schema as first released: LLM exchanges, MCP messages and tool schemas, episodes, links and
curation. Listed first in `migrations.MIGRATIONS`; later changes are new migrations there."""

from __future__ import annotations

import sqlite3

from recorder.store.migrate import run_sql


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
        """,
    )


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
