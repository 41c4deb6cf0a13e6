"""The viewer's handle on the store: the recorder's read API, one connection per worker thread.

Handlers run in Starlette's thread pool, so each thread keeps its own connection. Derived tables
are refreshed only when something new was recorded, by one thread at a time. The last few
conversations stay parsed, so the lazy pieces of a long episode do not re-read it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from typing import Any

from recorder.episodes import browse, chain, curation, links, select
from recorder.episodes.chain import Episode
from recorder.episodes.curation import Curation
from recorder.episodes.select import Filters
from recorder.store import queries, stats

CACHED_CONVERSATIONS = 3


class Reads:
    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self._local = threading.local()
        self._refresh_lock = threading.Lock()
        self._refreshed: str | None = None
        self._cache: OrderedDict[tuple[int, int], Episode] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "db", None)
        if conn is None:
            conn = self._local.db = queries.open_db(self.db_path)
        return conn

    def refresh(self) -> str:
        """Chain and link what was recorded since the last look; returns the store's change marker."""
        marker = browse.version(self.db)
        if marker != self._refreshed:
            with self._refresh_lock:
                if marker != self._refreshed:
                    select.refresh(self.db)
                    self._refreshed = marker
        return marker

    # Episodes

    def episodes(self, filters: Filters, limit: int, before: tuple[float, int] | None) -> list[dict[str, Any]]:
        self.refresh()
        return select.list_episodes(self.db, filters, limit, before)

    def summary(self, episode_id: int) -> dict[str, Any] | None:
        self.refresh()
        return browse.summary(self.db, episode_id)

    def episode(self, episode_id: int) -> Episode | None:
        """The conversation, parsed once per version of the episode."""
        row = self.summary(episode_id)
        if row is None:
            return None
        key = (episode_id, row["last_exchange_id"])
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        episode = chain.conversation(self.db, episode_id)
        if episode is not None:
            with self._cache_lock:
                self._cache[key] = episode
                while len(self._cache) > CACHED_CONVERSATIONS:
                    self._cache.popitem(last=False)
        return episode

    def turn_stats(self, episode_id: int) -> dict[int, dict[str, Any]]:
        return browse.turn_stats(self.db, episode_id)

    def links(self, exchange_ids: list[int]) -> dict[str, dict[str, Any]]:
        return links.links_for(self.db, exchange_ids)

    # Curation: the append-only log shared with the CLI

    def curation(self, episode_id: int) -> Curation:
        return curation.state(self.db, [episode_id]).get(episode_id, Curation())

    def history(self, episode_id: int) -> list[dict[str, Any]]:
        return curation.history(self.db, episode_id)

    def curate(self, episode_id: int, action: str, **args: Any) -> int:
        return curation.record(self.db, episode_id, action, **args)

    def undo(self, episode_id: int) -> bool:
        return curation.undo(self.db, episode_id) is not None

    # Exchanges, MCP calls, aggregates

    def exchanges(self, **filters: Any) -> list[dict[str, Any]]:
        return stats.exchange_page(self.db, **filters)

    def exchange_rows(self, ids: list[int]) -> list[dict[str, Any]]:
        return stats.exchange_rows(self.db, ids)

    def exchange(self, exchange_id: int) -> dict[str, Any] | None:
        """In full, with the episode it belongs to."""
        self.refresh()
        ex = queries.get_exchange(self.db, exchange_id)
        return None if ex is None else {**ex, "episode_id": browse.episode_of(self.db, exchange_id)}

    def mcp_servers(self) -> list[dict[str, Any]]:
        return stats.mcp_servers(self.db)

    def mcp_calls(self, server: str | None, limit: int) -> list[dict[str, Any]]:
        return queries.list_mcp_calls(self.db, server=server, limit=limit)

    def overview(self, since: float) -> dict[str, Any]:
        self.refresh()
        return {
            "totals": stats.totals(self.db),
            "days": stats.per_day(self.db, since),
            "models": stats.tokens_per_model(self.db, since),
            "latency": stats.latency_per_day(self.db, since),
            "tools": stats.tool_calls_per_tool(self.db, since),
        }
