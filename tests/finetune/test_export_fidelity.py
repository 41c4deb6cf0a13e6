"""What an export must never train on (cut-off answers) and must never lose (images)."""

from __future__ import annotations

from tests.support.cli import export, tm
from tests.support.episode_data import add_exchange, assistant

U = {"role": "user", "content": "weather in Paris?"}
CALL = assistant(None, "I need the weather tool.", [("c1", "get_weather", {"city": "Paris"})])
RESULT = {"role": "tool", "tool_call_id": "c1", "content": "18°C"}


def test_an_aborted_answer_and_its_retry_export_as_one_episode_without_the_cut_off_turn(tmp_path):
    db = tmp_path / "x.db"
    add_exchange(db, [U], CALL, at=1)
    cut = assistant(None, "Now I can answer, it is 18 and", field="reasoning_content")  # the client aborted here
    add_exchange(db, [U, CALL, RESULT], cut, at=2, finish=None, state="incomplete")
    add_exchange(db, [U, CALL, RESULT], assistant("It is 18°C.", "Now I can answer."), at=3)  # the retry
    rows = export(db, tmp_path / "e.jsonl", "--unroll")
    assert [r["messages"][-1]["reasoning_content"] for r in rows] == ["I need the weather tool.", "Now I can answer."]
    assert len({r["parent_id"] for r in rows}) == 1  # the retry took the aborted turn's place: no fork, no stub


def test_a_cut_off_last_turn_is_left_out_unless_asked_for_and_marked_in_traces_show(tmp_path):
    db = tmp_path / "x.db"
    add_exchange(db, [U], CALL, at=1)
    add_exchange(db, [U, CALL, RESULT], assistant("It is 18 and", "Answer."), at=2, finish="length", state="truncated")
    (row,) = export(db, tmp_path / "d.jsonl")
    assert [m["role"] for m in row["messages"]] == ["user", "assistant", "tool"]
    (kept,) = export(db, tmp_path / "k.jsonl", "--include-incomplete")
    assert kept["messages"][-1]["content"] == "It is 18 and"
    assert len(export(db, tmp_path / "u.jsonl", "--unroll")) == 1
    shown = tm("traces", "show", "1", "--db", str(db))
    assert shown.returncode == 0 and "truncated" in shown.stdout and "left out of exports" in shown.stdout


def test_an_episode_whose_only_answer_was_cut_off_exports_nothing(tmp_path):
    db = tmp_path / "x.db"
    add_exchange(db, [U], assistant(None, "I need the wea"), at=1, finish=None, state="incomplete")
    assert export(db, tmp_path / "e.jsonl") == []
    assert len(export(db, tmp_path / "i.jsonl", "--include-incomplete")) == 1


def test_images_survive_export_as_parts_and_text_only_lists_become_strings(tmp_path):
    db = tmp_path / "x.db"
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    audio = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
    asked = {"role": "user", "content": [{"type": "text", "text": "What is in this picture?"}, image, audio]}
    texts = {"role": "user", "content": [{"type": "text", "text": "Two "}, {"type": "text", "text": "parts."}]}
    add_exchange(db, [asked], assistant("A cat.", "Look."), at=1)
    add_exchange(db, [texts], assistant("Ok.", "Fine."), at=2)
    rows = export(db, tmp_path / "e.jsonl")
    assert rows[0]["messages"][0]["content"] == [{"type": "text", "text": "What is in this picture?"}, image, audio]
    assert rows[1]["messages"][0]["content"] == "Two parts."
    parquet = tmp_path / "e.parquet"
    assert tm("export", str(parquet), "--format", "parquet", "--db", str(db)).returncode == 0
    from datasets import load_dataset

    loaded = load_dataset("parquet", data_files=str(parquet))["train"]
    assert loaded[0]["messages"][0]["content"][1] == image
