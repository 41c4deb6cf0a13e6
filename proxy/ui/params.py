"""Query parameters in, episode filters out: the same filters as `traces list`, from a form."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from recorder.episodes.filters import RATING_CHOICES, Filters

FILTER_KEYS = ("q", "session", "model", "tag", "since", "excluded", "rating", "min_rating")
SINCE_UNITS = {"m": 60, "h": 3600, "d": 86400}


class BadParam(ValueError):
    """A filter value the user can fix; shown on the page, never a traceback."""


def since_of(value: str) -> float | None:
    """A duration back from now (30m, 12h, 7d) or an ISO date."""
    value = value.strip()
    if not value:
        return None
    if value[-1] in SINCE_UNITS and value[:-1].isdigit():
        return time.time() - int(value[:-1]) * SINCE_UNITS[value[-1]]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadParam(f"since {value!r}: use a duration (30m, 12h, 7d) or an ISO date (2026-11-01)") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def filters_of(params: Any) -> tuple[Filters, dict[str, str]]:
    """Filters from a query string or form; also the raw values, to refill the form and build links."""
    raw = {k: str(params.get(k) or "").strip() for k in FILTER_KEYS}
    rating = raw["rating"].lower() or None
    if rating and rating not in RATING_CHOICES:
        try:
            rating = str(float(rating))
        except ValueError:
            raise BadParam(f"rating {raw['rating']!r}: use {', '.join(RATING_CHOICES)} or a number") from None
    try:
        min_rating = float(raw["min_rating"]) if raw["min_rating"] else None
    except ValueError:
        raise BadParam(f"min rating {raw['min_rating']!r} is not a number") from None
    filters = Filters(
        session=raw["session"] or None,
        model=raw["model"] or None,
        since=since_of(raw["since"]),
        tag=raw["tag"] or None,
        include_excluded=raw["excluded"] == "show",
        only_excluded=raw["excluded"] == "only",
        rating=rating,
        min_rating=min_rating,
        search=raw["q"] or None,
    )
    return filters, raw


def query(raw: dict[str, str], **extra: Any) -> str:
    """A query string of the non-empty values."""
    return urlencode({k: v for k, v in {**raw, **extra}.items() if v not in (None, "")})


def cursor_of(value: str | None) -> tuple[float, int] | None:
    """A keyset cursor `started_at:id`, as the page's "older" link writes it."""
    if not value:
        return None
    started, _, episode_id = value.partition(":")
    try:
        return float(started), int(episode_id)
    except ValueError:
        raise BadParam(f"page cursor {value!r} is malformed; start from the first page") from None


def int_of(value: Any, default: int, low: int = 1, high: int = 1000) -> int:
    try:
        return max(low, min(high, int(value)))
    except (TypeError, ValueError):
        return default
