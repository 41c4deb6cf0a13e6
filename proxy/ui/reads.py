"""The viewer's handle on the store: the recorder's read API (`TraceReader`), one per worker thread.

Handlers run in Starlette's thread pool and a SQLite connection belongs to one thread, so each
thread keeps its own reader. Refreshing the derived tables is serialised. The last few
conversations stay parsed, so the lazy folds of a long episode do not re-read it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from recorder import Episode, TraceReader, open_reader

CACHED_CONVERSATIONS = 3


class Reads:
    def __init__(self, location: str) -> None:
        self.location = location
        self._local = threading.local()
        self._refresh_lock = threading.Lock()
        self._cache: OrderedDict[tuple[int, int], Episode] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def reader(self) -> TraceReader:
        """This thread's reader, with the derived tables brought up to date."""
        reader = getattr(self._local, "reader", None)
        if reader is None:
            reader = self._local.reader = open_reader(self.location)
        with self._refresh_lock:
            reader.refresh()
        return reader

    def version(self) -> str:
        return self.reader.version()

    def episode(self, episode_id: int) -> Episode | None:
        """The conversation, parsed once per version of the episode (its last exchange)."""
        reader = self.reader
        row = reader.episode_summary(episode_id)
        if row is None:
            return None
        key = (episode_id, row["last_exchange_id"])
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        episode = reader.episode(episode_id)
        if episode is not None:
            with self._cache_lock:
                self._cache[key] = episode
                while len(self._cache) > CACHED_CONVERSATIONS:
                    self._cache.popitem(last=False)
        return episode
