"""`tracemill traces drift`: the planted divergences are found at the right turn, shown decoded."""

from __future__ import annotations

import json

import pytest

from finetune.dataset.drift import SAME, SPLIT, TEXT, compare, drift_of, summarise
from finetune.dataset.tokens import load_tokenizer
from recorder import Filters
from recorder.store.token_queries import TokenCall
from tests.support.cli import tm


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    return load_tokenizer(str(tiny_model))


def test_tool_arguments_spaced_otherwise_than_the_model_wrote_them(token_store, tokenizer):
    first, second = drift_of(token_store["db"], tokenizer, 2)  # the `compact` episode
    assert (first.turn, first.status, second.status) == (1, TEXT, SAME)
    assert first.context.endswith('arguments": {"city":') and first.recorded.startswith('"Paris"}}')
    assert first.rendered.startswith(' "Paris"}}')  # the template renders the parser's spacing


def test_a_think_block_the_template_drops(token_store, tokenizer):
    first, second = drift_of(token_store["db"], tokenizer, 3)  # the `think` episode: two user turns
    assert (first.status, first.at, second.status) == (TEXT, 0, SAME)
    assert first.recorded.startswith("<think>\nI have what I need") and first.rendered.startswith("You said: hello")
    unrolled = drift_of(token_store["db"], tokenizer, 3, unrolled=True)  # each turn last in its own row: kept
    assert [t.status for t in unrolled] == [SAME, SAME]


def test_an_episode_the_template_renders_as_generated_has_no_drift(token_store, tokenizer):
    turns = drift_of(token_store["db"], tokenizer, 1)
    assert [(t.turn, t.status, t.exchange) for t in turns] == [(1, SAME, 1), (2, SAME, 2)]


def test_the_same_text_split_into_other_tokens(tokenizer):
    text = '{"city": "Paris"}<|im_end|>'
    sampled = tokenizer.encode('{"ci', add_special_tokens=False) + tokenizer.encode(
        'ty": "Paris"}<|im_end|>', add_special_tokens=False
    )
    canonical = tokenizer.encode(text, add_special_tokens=False)
    assert sampled != canonical and tokenizer.decode(sampled) == tokenizer.decode(canonical) == text
    call = TokenCall(
        exchange_id=9,
        answer_index=2,
        model="m",
        messages=[],
        tools=[],
        answer={},
        finished=True,
        status="captured",
        prompt_ids=[1],
        completion_ids=sampled,
        logprobs=None,
        detail=None,
    )
    turn = compare(tokenizer, 4, 1, call, canonical)
    assert turn.status == SPLIT and turn.drifts and "".join(turn.recorded_tokens) == "".join(turn.rendered_tokens)
    assert turn.recorded_tokens[0] != turn.rendered_tokens[0]


def test_the_store_summary_counts_turns_that_would_train_on_tokens_never_produced(token_store, tokenizer, recorded):
    summary = summarise(token_store["db"], tokenizer, Filters())
    assert (summary.episodes, summary.turns, summary.drifting, summary.counts[SAME]) == (3, 6, 2, 4)
    assert sorted(e for _, e in summary.worst) == [2, 3]
    without = summarise(recorded, tokenizer, Filters())  # recorded with capture off: nothing to compare
    assert without.turns == without.counts["no ids"] == 8 and without.drifting == 0


def test_the_command(token_store, tiny_model):
    one = tm("traces", "drift", "2", "--tokenizer", str(tiny_model), "--db", str(token_store["db"]))
    assert one.returncode == 0, one.stderr
    assert one.stdout.splitlines()[:3] == [
        'turn 1 (exchange 3): drifts at token 52 (other text), after \'arguments": {"city":\'',
        "    recorded: '\"Paris\"}}\\n</tool_call><|im_end|>'",
        "    template: ' \"Paris\"}}\\n</tool_call><|im_end|>'",
    ]
    every = tm("traces", "drift", "--all", "--json", "--tokenizer", str(tiny_model), "--db", str(token_store["db"]))
    assert json.loads(every.stdout) == {"episodes": 3, "turns": 6, "drifting": 2, "same": 4, "text": 2}
    missing = tm("traces", "drift", "99", "--tokenizer", str(tiny_model), "--db", str(token_store["db"]))
    assert missing.returncode == 1 and "no episode 99" in missing.stderr and "Traceback" not in missing.stderr
