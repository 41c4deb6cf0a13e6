"""json.loads with stack to spare, for what the writer stores as JSON.

Python's parser recurses per nesting level and raises RecursionError near the interpreter's
limit. Parsing here a couple of hundred frames deeper than the caller means that whatever
parses here parses again in any reader, so deep JSON is stored raw with a note instead of
becoming a row no reader can load.
"""

from __future__ import annotations

import json
from typing import Any

HEADROOM = 200  # frames a reader may be deeper than the writer
TOO_DEEP = "nested too deeply to parse as JSON: stored raw"


def loads(text: str | bytes) -> Any:
    """json.loads, raising RecursionError for anything within HEADROOM levels of the limit."""
    return _descend(text, HEADROOM)


def _descend(text: str | bytes, frames: int) -> Any:
    return json.loads(text) if frames <= 0 else _descend(text, frames - 1)
