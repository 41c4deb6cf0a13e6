"""Train/test splits keep whole episodes on one side, the same way in export and finetune."""

from __future__ import annotations

import pytest

from finetune.dataset.split import SplitError, in_test, side, split, split_key


def test_unrolled_rows_follow_their_episode():
    rows = [{"id": f"{e}#{k}", "parent_id": str(e)} for e in range(200) for k in range(3)] + [{"id": "7"}]
    assert split_key(rows[0]) == "0" and split_key(rows[-1]) == "7"
    for e in range(200):
        assert len({side(r, 0.3) for r in rows if r.get("parent_id") == str(e)}) == 1
    train, held = split(rows, 0.3)
    assert len(train) + len(held) == len(rows) and 0.15 < len(held) / len(rows) < 0.45


def test_the_split_is_stable_and_zero_means_none():
    assert [in_test(str(i), 0.5) for i in range(50)] == [in_test(str(i), 0.5) for i in range(50)]
    assert not any(in_test(str(i), 0) for i in range(50))
    rows = [{"id": "1"}]
    assert split(rows, 0) == (rows, [])


def test_an_empty_side_is_a_clear_error():
    with pytest.raises(SplitError, match="leaves one side empty"):
        split([{"id": "1"}], 0.5)
