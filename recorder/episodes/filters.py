"""Which episodes a listing or an export wants: recorded facts (session, model, time, text) and
curation state (tags, exclusion, rating). The store turns the first kind into SQL; `keeps` judges
the second."""

from __future__ import annotations

from dataclasses import dataclass

from recorder.episodes import curation

RATING_CHOICES = ("good", "bad", "rated", "unrated")


@dataclass
class Filters:
    session: str | None = None
    model: str | None = None
    since: float | None = None
    tag: str | None = None
    include_excluded: bool = False
    source: str | None = None
    rating: str | None = None  # good, bad, rated, unrated, or a number (that exact reward)
    min_rating: float | None = None  # reward at least this (good = 1, bad = 0); unrated never passes
    search: str | None = None  # text in the first user message
    only_excluded: bool = False

    def keeps(self, c: curation.Curation) -> bool:
        """Whether an episode in this curation state passes the curation-based filters."""
        if (c.excluded and not (self.include_excluded or self.only_excluded)) or (
            self.only_excluded and not c.excluded
        ):
            return False
        if self.tag and self.tag not in c.tags:
            return False
        if (self.rating == "rated" and c.rating is None) or (self.rating == "unrated" and c.rating is not None):
            return False
        if self.rating in ("good", "bad") and c.rating != self.rating:
            return False
        if self.rating is not None and self.rating not in RATING_CHOICES and c.reward != float(self.rating):
            return False
        return self.min_rating is None or (c.reward is not None and c.reward >= self.min_rating)
