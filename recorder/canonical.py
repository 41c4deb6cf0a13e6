"""Canonical JSON: one text per value (sorted keys, no spaces, UTF-8 kept), for hashing and matching.

Tool schemas are stored by the hash of this text, tool-call arguments are matched by it, and
JSON-RPC ids are routed by it (so 1 and "1" stay apart).
"""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
