"""`tracemill eval`: replay held-out episodes turn by turn and score the model's answers.

For each assistant turn the model gets the conversation so far, with the tools, and must produce
that turn. Scores: right tool names, arguments equal as parsed JSON (exact and per key), text
answers where no tool should be called, valid tool-call syntax, and mean reasoning length.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_THINK = re.compile(r"<think>(.*?)</think>", re.S)
_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.S)
_SPECIAL = re.compile(r"<\|[^|]*\|>")


@dataclass
class Prediction:
    content: str = ""
    reasoning: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {name, arguments: dict | None}
    attempted_calls: int = 0
    valid_calls: int = 0


def parse_generation(text: str) -> Prediction:
    """A raw Qwen3/hermes-style generation: <think>…</think>, then text and <tool_call>{json}</tool_call>."""
    text = text.split("<|im_end|>")[0]
    reasoning = " ".join(m.strip() for m in _THINK.findall(text))
    body = _THINK.sub("", text)
    if "<think>" in body:  # never closed: all of it was reasoning
        reasoning, body = (reasoning + " " + body.split("<think>", 1)[1]).strip(), body.split("<think>", 1)[0]
    prediction = Prediction(reasoning=reasoning)
    for raw in _CALL.findall(body):
        prediction.attempted_calls += 1
        try:
            call = json.loads(raw)
            name, arguments = call["name"], call.get("arguments", {})
            if isinstance(arguments, str):
                arguments = json.loads(arguments)
            if not isinstance(name, str) or not isinstance(arguments, dict):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            prediction.tool_calls.append({"name": None, "arguments": None})
            continue
        prediction.valid_calls += 1
        prediction.tool_calls.append({"name": name, "arguments": arguments})
    if "<tool_call>" in _CALL.sub("", body):  # an unterminated call
        prediction.attempted_calls += 1
    prediction.content = _SPECIAL.sub("", _CALL.sub("", body).split("<tool_call>")[0]).strip()
    return prediction


def from_message(message: dict[str, Any]) -> Prediction:
    """An endpoint's answer, already parsed by the server (vLLM's tool and reasoning parsers)."""
    prediction = Prediction(
        content=message.get("content") or "",
        reasoning=message.get("reasoning_content") or message.get("reasoning") or "",
    )
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        prediction.attempted_calls += 1
        try:
            arguments = json.loads(fn.get("arguments") or "{}")
            if not isinstance(arguments, dict):
                raise ValueError
            prediction.valid_calls += 1
        except ValueError:
            arguments = None
        prediction.tool_calls.append({"name": fn.get("name"), "arguments": arguments})
    return prediction


def target_calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        arguments = fn.get("arguments")
        try:
            arguments = json.loads(arguments) if isinstance(arguments, str) else arguments
        except ValueError:
            arguments = None
        out.append({"name": fn.get("name"), "arguments": arguments})
    return out


def score(target: dict[str, Any], prediction: Prediction) -> dict[str, Any]:
    wanted = target_calls(target)
    got = prediction.tool_calls
    out: dict[str, Any] = {
        "tool_turn": bool(wanted),
        "reasoning_chars": len(prediction.reasoning),
        "attempted_calls": prediction.attempted_calls,
        "valid_calls": prediction.valid_calls,
    }
    if not wanted:
        out["answered_in_text"] = not got and bool(prediction.content.strip())
        return out
    out["names_right"] = sorted(str(c["name"]) for c in got) == sorted(str(c["name"]) for c in wanted)
    exact, keys_total, keys_right = 0, 0, 0
    for i, want in enumerate(wanted):
        have = got[i] if i < len(got) else {"name": None, "arguments": None}
        same_name = have["name"] == want["name"]
        exact += int(same_name and have["arguments"] == want["arguments"])
        for key, value in (want["arguments"] or {}).items():
            keys_total += 1
            keys_right += int(same_name and isinstance(have["arguments"], dict) and have["arguments"].get(key) == value)
    out.update(
        args_exact=exact == len(wanted) and len(got) == len(wanted), keys_total=keys_total, keys_right=keys_right
    )
    return out


def aggregate(scores: list[dict[str, Any]], targets: list[dict[str, Any]]) -> dict[str, Any]:
    def rate(values: list[bool]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    tool = [s for s in scores if s["tool_turn"]]
    text = [s for s in scores if not s["tool_turn"]]
    attempted = sum(s["attempted_calls"] for s in scores)
    return {
        "turns": len(scores),
        "tool_turns": len(tool),
        "text_turns": len(text),
        "tool_name_accuracy": rate([s["names_right"] for s in tool]),
        "tool_args_exact": rate([s["args_exact"] for s in tool]),
        "tool_args_key_accuracy": round(
            sum(s["keys_right"] for s in tool) / max(sum(s["keys_total"] for s in tool), 1), 4
        )
        if tool
        else None,
        "text_answer_rate": rate([s["answered_in_text"] for s in text]),
        "tool_call_syntax_valid": round(sum(s["valid_calls"] for s in scores) / attempted, 4) if attempted else None,
        "mean_reasoning_chars": round(sum(s["reasoning_chars"] for s in scores) / max(len(scores), 1), 1),
        "reference_mean_reasoning_chars": round(
            sum(len(t.get("reasoning_content") or "") for t in targets) / max(len(targets), 1), 1
        ),
    }


class LocalModel:
    """transformers generate, batched with left padding; greedy, so runs are repeatable."""

    def __init__(self, model: str, adapter: str | None = None, max_new_tokens: int = 512, batch_size: int = 8) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(adapter or model)
        self.tokenizer.padding_side = "left"
        dtype = torch.float32 if not torch.cuda.is_available() else torch.bfloat16
        self.model: Any = AutoModelForCausalLM.from_pretrained(model, dtype=dtype)
        if adapter:
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, adapter)
        self.model.eval()
        if torch.cuda.is_available():
            self.model.to("cuda")
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size

    def predict(self, contexts: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]) -> list[Prediction]:
        import torch

        out: list[Prediction] = []
        for start in range(0, len(contexts), self.batch_size):
            batch = contexts[start : start + self.batch_size]
            tokenizer: Any = self.tokenizer
            prompts = [
                tokenizer.apply_chat_template(m, tools=t or None, add_generation_prompt=True, tokenize=False)
                for m, t in batch
            ]
            encoded = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(
                self.model.device
            )
            with torch.no_grad():
                generated = self.model.generate(
                    **encoded,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    pad_token_id=self.tokenizer.pad_token_id,
                    eos_token_id=self.tokenizer.convert_tokens_to_ids("<|im_end|>"),
                )
            for row in generated[:, encoded["input_ids"].shape[1] :]:
                out.append(parse_generation(str(self.tokenizer.decode(row, skip_special_tokens=False))))
        return out


class EndpointModel:
    """Any OpenAI-compatible server (vLLM with the fine-tuned model, and through tracemill too)."""

    def __init__(self, url: str, model: str, max_new_tokens: int = 512, api_key: str | None = None) -> None:
        from openai import OpenAI

        self.client = OpenAI(base_url=url, api_key=api_key or "not-needed")
        self.model, self.max_new_tokens = model, max_new_tokens

    def predict(self, contexts: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]) -> list[Prediction]:
        out = []
        for messages, tools in contexts:
            answer = self.client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                tools=tools or None,  # type: ignore[arg-type]
                max_tokens=self.max_new_tokens,
                temperature=0,
            )
            out.append(from_message(answer.choices[0].message.model_dump()))
        return out


def evaluate(rows: list[dict[str, Any]], model: Any, limit: int | None = None) -> dict[str, Any]:
    """Rows are unrolled: each ends with the assistant turn to reproduce."""
    rows = [r for r in rows if r["messages"] and r["messages"][-1]["role"] == "assistant"][: limit or None]
    contexts = [([_context(m) for m in r["messages"][:-1]], r.get("tools") or []) for r in rows]
    targets = [r["messages"][-1] for r in rows]
    predictions = model.predict(contexts)
    scores = [score(t, p) for t, p in zip(targets, predictions, strict=True)]
    metrics = aggregate(scores, targets)
    metrics["examples"] = [
        {"id": r["id"], "target": t, "prediction": p.__dict__}
        for r, t, p in list(zip(rows, targets, predictions, strict=True))[:20]
    ]
    return metrics


def _context(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if v is not None}


COMPARED = (
    "tool_name_accuracy",
    "tool_args_exact",
    "tool_args_key_accuracy",
    "text_answer_rate",
    "tool_call_syntax_valid",
    "mean_reasoning_chars",
)


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, Any, Any, str]]:
    rows = []
    for key in COMPARED:
        a, b = before.get(key), after.get(key)
        delta = f"{b - a:+.4g}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) else ""
        rows.append((key, a, b, delta))
    return rows
