"""`tracemill export --format tokens`: the ids the upstream used, exactly, and honest fallbacks."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from finetune.dataset.tokens import load_tokenizer
from finetune.train.template import encode
from recorder.ingest.token_rows import pack_ids
from tests.support.cli import export, tm


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    return load_tokenizer(str(tiny_model))


@pytest.fixture(scope="module")
def exported(token_store, tiny_model, tmp_path_factory):
    """The store exported once by the real command, as JSONL."""
    return export(
        token_store["db"],
        tmp_path_factory.mktemp("exp") / "t.jsonl",
        "--format",
        "tokens",
        "--tokenizer",
        str(tiny_model),
    )


def in_process(db, tokenizer, tmp_path, stitched=False):
    from finetune.dataset.tokens import TokenOptions, write

    summary = write(db, tmp_path / "t.jsonl", tokenizer, TokenOptions(stitched=stitched))
    rows = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    return rows, "\n".join(summary.lines())


def test_input_ids_are_the_upstreams_ids_exactly_streamed_and_not(token_store, exported):
    rows = exported
    assert len(rows) == len(token_store["truth"]) == 6
    for row in rows:
        prompt, completion = token_store["truth"][row["exchange"]]
        assert row["input_ids"] == prompt + completion
        assert row["loss_mask"] == [0] * len(prompt) + [1] * len(completion)
        assert row["exact"] is True and len(row["logprobs"]) == len(completion)
    streamed = {token_store["sessions"][r["exchange"]] for r in rows}
    assert streamed == {"tools", "compact", "think"}  # tools streamed, the others whole bodies
    assert [(r["episode"], r["turn"]) for r in rows] == [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2)]


def test_parquet_holds_the_same_rows(token_store, tiny_model, tmp_path, exported):
    import pyarrow.parquet as pq

    jsonl = exported
    result = tm(
        "export",
        str(tmp_path / "t.parquet"),
        "--db",
        str(token_store["db"]),
        "--format",
        "tokens",
        "--tokenizer",
        str(tiny_model),
    )
    assert result.returncode == 0, result.stderr
    table = pq.read_table(tmp_path / "t.parquet").to_pylist()
    assert [r["input_ids"] for r in table] == [r["input_ids"] for r in jsonl]
    assert [r["loss_mask"] for r in table] == [r["loss_mask"] for r in jsonl]
    assert table[0]["logprobs"] == pytest.approx(jsonl[0]["logprobs"], abs=1e-6)


def test_ids_that_decode_to_the_answer_are_exact_where_re_encoding_it_differs(token_store, tokenizer, exported):
    rows = exported
    compact = next(r for r in rows if token_store["sessions"][r["exchange"]] == "compact" and r["turn"] == 1)
    db = sqlite3.connect(token_store["db"])
    request, response = db.execute(
        "SELECT request_json, response_json FROM exchanges WHERE id = ?", (compact["exchange"],)
    ).fetchone()
    db.close()
    answer = json.loads(response)["choices"][0]["message"]
    assert answer["tool_calls"][0]["function"]["arguments"] == '{"city": "Paris"}'  # the parser's spacing...
    assert '{"city":"Paris"}' in tokenizer.decode(compact["input_ids"])  # ...not what the model wrote
    messages = [*json.loads(request)["messages"], {**answer, "reasoning_content": answer.pop("reasoning_content")}]
    rendered = encode(tokenizer, messages, json.loads(request)["tools"], 1 << 30)
    assert rendered["input_ids"] != compact["input_ids"] and compact["exact"] is True


def test_calls_without_ids_are_re_rendered_and_counted(recorded, tiny_model, tmp_path):
    result = tm(
        "export", str(tmp_path / "t.jsonl"), "--db", str(recorded), "--format", "tokens", "--tokenizer", str(tiny_model)
    )
    assert result.returncode == 0, result.stderr
    assert "8 calls: 0 exact, 8 re-rendered through the chat template (exact = false), 0 skipped" in result.stdout
    assert "8 x no ids recorded (capture_tokens was off)" in result.stdout
    rows = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert {r["exact"] for r in rows} == {False} and all(r["logprobs"] is None for r in rows)
    assert all(
        len(r["input_ids"]) == len(r["loss_mask"]) and 0 < sum(r["loss_mask"]) < len(r["input_ids"]) for r in rows
    )


def test_ids_that_do_not_match_the_answer_fall_back_to_the_template(token_store, tiny_model, tmp_path, tokenizer):
    db = tmp_path / "tampered.db"
    shutil.copy(token_store["db"], db)
    conn = sqlite3.connect(db)
    uid = conn.execute("SELECT uid FROM exchanges WHERE session = 'think' ORDER BY id DESC LIMIT 1").fetchone()[0]
    conn.execute(
        "UPDATE exchange_tokens SET completion_ids = ? WHERE exchange_uid = ?",
        (pack_ids(tokenizer.encode("Something else.<|im_end|>")), uid),
    )
    conn.commit()
    conn.close()
    _, summary = in_process(db, tokenizer, tmp_path)
    assert "6 calls: 5 exact, 1 re-rendered" in summary and "1 x the reasoning is not in the decoded ids" in summary


def test_stitch_joins_calls_whose_prompts_extend_and_reports_where_they_break(token_store, tokenizer, tmp_path):
    rows, summary = in_process(token_store["db"], tokenizer, tmp_path, stitched=True)
    assert [(r["episode"], r["turns"]) for r in rows] == [(1, [1, 2]), (2, [1]), (2, [2]), (3, [1]), (3, [2])]
    truth = token_store["truth"]
    (p1, c1), (p2, c2) = truth[1], truth[2]
    assert p2[: len(p1) + len(c1)] == p1 + c1  # the second prompt extends the first call
    whole = rows[0]
    assert whole["input_ids"] == p2 + c2
    mask = [0] * len(p1) + [1] * len(c1) + [0] * (len(p2) - len(p1) - len(c1)) + [1] * len(c2)
    assert whole["loss_mask"] == mask and len(whole["logprobs"]) == len(c1) + len(c2)
    assert "2 stitch break(s)" in summary
    assert "episode 2 turn 2: its prompt does not extend turns [1]" in summary  # the spacing of the call
    assert "episode 3 turn 2: its prompt does not extend turns [1]" in summary and "'<think>" in summary


def test_token_options_refuse_what_does_not_apply(token_store, tiny_model, tmp_path):
    out = str(tmp_path / "x.jsonl")
    assert (
        "do not apply"
        in tm(
            "export",
            out,
            "--db",
            str(token_store["db"]),
            "--format",
            "tokens",
            "--tokenizer",
            str(tiny_model),
            "--unroll",
        ).stderr
    )
    missing = tm(
        "export", out, "--db", str(token_store["db"]), "--format", "tokens", "--tokenizer", str(tmp_path / "nope")
    )
    assert (
        missing.returncode == 1 and "cannot load the tokenizer" in missing.stderr and "Traceback" not in missing.stderr
    )
