"""Curation state: the append-only log replayed, through the read API the CLI and viewer use."""

from __future__ import annotations

import pytest

from recorder import Curation, open_reader
from tests.support.episode_data import add_exchange, assistant

U = {"role": "user", "content": "hello"}


@pytest.fixture
def reader(db):
    """The read API over a store with one episode, on each backend."""
    add_exchange(db, [{"role": "system", "content": "be brief"}, U], assistant("hi", "r"), at=1)
    with open_reader(str(db)) as r:
        yield r


def test_the_log_replays_into_the_current_state(reader):
    (episode,) = [e["id"] for e in reader.episodes()]
    assert reader.curation(episode) == Curation()
    reader.curate(episode, "tag", tags=["good", "short"])
    reader.curate(episode, "untag", tags=["short"])
    reader.curate(episode, "exclude")
    reader.curate(episode, "drop_turns", start=1, end=1)
    reader.curate(episode, "strip_system")
    state = reader.curation(episode)
    assert state.tags == {"good"} and state.excluded and state.strip_system
    assert state.dropped == [(1, 1)] and state.drops(1) and not state.drops(2)
    reader.curate(episode, "include")
    reader.curate(episode, "keep_system")
    state = reader.curation(episode)
    assert not state.excluded and not state.strip_system


def test_undo_cancels_the_latest_step_still_in_force_and_the_history_says_so(reader):
    (episode,) = [e["id"] for e in reader.episodes()]
    first = reader.curate(episode, "tag", tags=["a"])
    second = reader.curate(episode, "tag", tags=["b"])
    undone = reader.undo(episode)
    assert undone is not None and undone["id"] == second and undone["args"] == {"tags": ["b"]}
    assert reader.curation(episode).tags == {"a"}
    assert reader.undo(episode)["id"] == first  # the undo itself is not undone: the step before it is
    assert reader.curation(episode).tags == set() and reader.undo(episode) is None
    history = reader.curation_history(episode)
    assert [h["action"] for h in history] == ["tag", "tag", "undo", "undo"]
    assert [h["args"] for h in history[2:]] == [{"step": second}, {"step": first}]
    assert not any(h["in_force"] for h in history[:2])


def test_excluded_and_tagged_episodes_filter_the_listing(reader):
    from recorder import Filters

    (episode,) = [e["id"] for e in reader.episodes()]
    reader.curate(episode, "exclude")
    assert reader.episodes() == [] and reader.count_episodes() == 1
    assert [e["excluded"] for e in reader.episodes(Filters(include_excluded=True))] == [True]
    reader.curate(episode, "include")
    reader.curate(episode, "tag", tags=["x"])
    assert reader.episodes(Filters(tag="y")) == [] and len(reader.episodes(Filters(tag="x"))) == 1


def test_bad_steps_are_refused(reader):
    with pytest.raises(ValueError, match="unknown curation action"):
        reader.curate(1, "polish")
    with pytest.raises(LookupError, match="no episode 99"):
        reader.curate(99, "tag", tags=["x"])
