"""The read API: one class over a store, for the CLI, `finetune` and the viewer.

Like simonw/llm's LogStore, it owns everything a reader needs: bringing the derived tables
(episodes, links) up to date, selecting exchanges, MCP calls, episodes and links, and the
curation log, whose appends are its only writes besides the derived tables. Nothing outside
`recorder/store` writes SQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from recorder.episodes import curation
from recorder.episodes.chain import Episode
from recorder.episodes.curation import Curation
from recorder.episodes.filters import Filters
from recorder.store import (
    browse,
    chaining,
    connect_existing,
    curation_log,
    episode_queries,
    linking,
    masked,
    queries,
    stats,
    token_queries,
)
from recorder.store.conversations import load_episode
from recorder.store.dbapi import Connection
from recorder.store.token_queries import TokenCall


class TraceReader:
    """Reads one store. Open with `TraceReader.open(location)` (or `recorder.open_reader`); close when done."""

    def __init__(self, db: Connection, location: str) -> None:
        self.location = location
        self._db = db

    @classmethod
    def open(cls, location: str | os.PathLike[str]) -> TraceReader:
        """An existing store; FileNotFoundError when there is none, SchemaError when it is newer than this code."""
        return cls(connect_existing(location), masked(location))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> TraceReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # Derived tables

    def refresh(self) -> None:
        """Chain new exchanges into episodes and link new MCP calls (incremental; cheap when nothing is new)."""
        chaining.update(self._db)
        linking.update(self._db)

    # Exchanges and MCP calls, as recorded

    def exchanges(self, *, limit: int = 50, session: str | None = None) -> list[dict[str, Any]]:
        """One-line summaries, newest first."""
        return queries.list_exchanges(self._db, limit, session)

    def exchange(self, exchange_id: int) -> dict[str, Any] | None:
        """One exchange in full, JSON columns parsed."""
        return queries.get_exchange(self._db, exchange_id)

    def mcp_calls(
        self, *, server: str | None = None, session: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """MCP tools/call requests with their answers, newest first."""
        return queries.list_mcp_calls(self._db, server=server, session=session, limit=limit)

    # Episodes (each call refreshes first)

    def episodes(
        self, filters: Filters | None = None, *, limit: int = 50, before: tuple[float, int] | None = None
    ) -> list[dict[str, Any]]:
        """Episode summaries, newest first, with their curation (tags, exclusion, rating, edits).

        `before` is the (started_at, id) of the last row of the previous page: keyset paging.
        """
        self.refresh()
        states = curation.states(curation_log.steps(self._db))
        return episode_queries.summaries(self._db, filters or Filters(), states, limit, before)

    def iter_episodes(self, filters: Filters | None = None) -> Iterator[tuple[Episode, Curation]]:
        """Every matching episode in full, oldest first, one at a time: memory stays flat."""
        self.refresh()
        return self._iter_episodes(filters or Filters())

    def _iter_episodes(self, filters: Filters) -> Iterator[tuple[Episode, Curation]]:
        states = curation.states(curation_log.steps(self._db))
        for episode_id in episode_queries.ids(self._db, filters):
            state = states.get(episode_id, Curation())
            if filters.keeps(state):
                episode = load_episode(self._db, episode_id)
                if episode is not None:
                    yield episode, state

    def count_episodes(self, filters: Filters | None = None) -> int:
        self.refresh()
        return episode_queries.count(self._db, filters or Filters())

    def has_episode(self, episode_id: int) -> bool:
        self.refresh()
        return episode_queries.exists(self._db, episode_id)

    def episode(self, episode_id: int) -> Episode | None:
        """One episode: the last request's messages plus its answer, each assistant turn with its reasoning."""
        self.refresh()
        return load_episode(self._db, episode_id)

    def links(self, exchange_ids: list[int]) -> dict[str, dict[str, Any]]:
        """tool_call_id -> the MCP call linked to it: server, latency, result, how it was matched."""
        return linking.links_for(self._db, exchange_ids)

    # Token capture ([llm] capture_tokens): the ids each call came with

    def token_calls(self, episode_id: int) -> list[TokenCall]:
        """The episode's calls, oldest first, each with its request, answer and recorded ids."""
        self.refresh()
        return token_queries.episode_calls(self._db, episode_id)

    def exchange_tokens(self, exchange_id: int) -> list[dict[str, Any]]:
        """One exchange's token rows (one per choice), ids unpacked; [] when none were asked for."""
        return token_queries.exchange_tokens(self._db, exchange_id)

    # Curation: an append-only log per episode

    def curation(self, episode_id: int) -> Curation:
        """The episode's state after replaying its log."""
        return curation.replay(curation_log.steps(self._db, [episode_id]))

    def curation_history(self, episode_id: int) -> list[dict[str, Any]]:
        """Every step, oldest first, with whether it is still in force."""
        return curation.history(curation_log.steps(self._db, [episode_id]))

    def curate(self, episode_id: int, action: str, **args: Any) -> int:
        """Append a step (tag, untag, exclude, include, drop_turns, strip_system, ...); returns its id.

        Raises LookupError for an unknown episode and ValueError for an unknown action.
        """
        return curation_log.append(self._db, episode_id, action, curation.validated(action, args))

    def undo(self, episode_id: int) -> dict[str, Any] | None:
        """Cancel the latest step still in force; returns it, or None when there is nothing to undo."""
        live = curation.live(curation_log.steps(self._db, [episode_id]))
        if not live:
            return None
        step = live[-1]
        curation_log.append(self._db, episode_id, "undo", {"step": step.id})
        return {"id": step.id, "at": step.at, "episode_id": step.episode_id, "action": step.action, "args": step.args}

    # For the viewer: a change marker, per-turn figures, pages of exchanges, aggregates

    def version(self) -> str:
        """Changes whenever anything is recorded or curated: a cheap marker for live views."""
        return browse.version(self._db)

    def episode_summary(self, episode_id: int) -> dict[str, Any] | None:
        """The episode's row (start, model, counts, tokens, first user message, fork parent), no conversation."""
        self.refresh()
        return browse.summary(self._db, episode_id)

    def turn_stats(self, episode_id: int) -> dict[int, dict[str, Any]]:
        """Message index of each answer -> its exchange's tokens, TTFB, duration and status."""
        return browse.turn_stats(self._db, episode_id)

    def episode_of(self, exchange_id: int) -> int | None:
        return browse.episode_of(self._db, exchange_id)

    def exchange_page(self, **filters: Any) -> list[dict[str, Any]]:
        """Every LLM exchange (failures and non-chat paths too), newest first, keyset paged by id."""
        return stats.exchange_page(self._db, **filters)

    def exchange_rows(self, ids: list[int]) -> list[dict[str, Any]]:
        """Summaries of these exchanges without reading their (possibly huge) requests."""
        return stats.exchange_rows(self._db, ids)

    def mcp_servers(self) -> list[dict[str, Any]]:
        return stats.mcp_servers(self._db)

    def overview(self, since: float) -> dict[str, Any]:
        """Totals, and per day / model / tool figures since a time, for the overview's charts."""
        self.refresh()
        return {
            "totals": stats.totals(self._db),
            "days": stats.per_day(self._db, since),
            "models": stats.tokens_per_model(self._db, since),
            "latency": stats.latency_per_day(self._db, since),
            "tools": stats.tool_calls_per_tool(self._db, since),
        }
