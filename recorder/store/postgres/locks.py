"""Advisory lock keys, and the rule that keeps incremental chaining exact under many writers.

Ids come from a sequence, so with several writers a row with a lower id can commit after one with
a higher id. A reader that moved its cursor past the higher id would skip the lower one forever.
So every write batch holds `WRITE` in shared mode until it commits, and a reader computes its
frontier (the highest id it may chain up to) while holding `WRITE` exclusively for one statement:
at that moment no batch is in flight, and every id handed out later is larger.

Readers that refresh at once serialise on a per-cursor lock, taken inside the transaction that
reads and moves the cursor: no exchange is chained twice, none is skipped.
"""

from __future__ import annotations

import zlib

MIGRATE = 0x746D_0001  # one process migrates a fresh database; the others wait, then find it done
WRITE = 0x746D_0002  # shared by write batches, exclusive for a reader's frontier


def cursor_key(name: str) -> int:
    """The advisory lock key guarding one `_cursors` row (episodes, links, ...)."""
    return 0x746D_1000_0000 + zlib.crc32(name.encode())
