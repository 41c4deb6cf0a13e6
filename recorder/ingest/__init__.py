"""Events to rows, off the hot path: parsing, stream reassembly and redaction, once per row.

A row is a (table, columns) pair of plain JSON-able values, so the same rows can go to any store
backend or to the spill file.
"""

from __future__ import annotations

from typing import Any

Row = tuple[str, dict[str, Any]]
