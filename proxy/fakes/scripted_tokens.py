"""Token ids for the scripted upstream, the way vLLM returns them with `return_token_ids` and
`logprobs`, from a real tokenizer (tests use the tiny one in tests/support/tiny_model.py).

The prompt ids are the chat template's rendering, tokenized. The answer is generated as Qwen3 with
the reasoning and hermes tool parsers would: `<think>`, the reasoning, `</think>`, the content,
`<tool_call>` blocks, `<|im_end|>`. A stream sends one chunk per token with the text it adds; the
tokens a parser swallows come in empty-delta chunks that only carry ids, and only when ids were
asked for.

Loaded only when `Script.tokenizer` is set, so the scripted upstream needs no transformers otherwise.
Knobs, as request headers: `x-script-raw-args: compact` makes the model write tool arguments without
spaces while the answer shows them re-serialised with spaces (as vLLM's hermes parser does);
`x-script-tokens: parts` samples each part's tokens on its own, so the ids decode to exactly the
text while re-encoding it splits some words otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from recorder.dialects.chat_completions import REASONING_FIELDS

Group = tuple[str, list[int]]  # text shown, the ids that produced it
Part = tuple[str, str, int]  # kind (markup, reasoning, content, head, args, end), text, tool index
Span = tuple[str, int, int, int]  # kind, tool index, start and end in the generated text
Token = tuple[int, int, int]  # id, start and end in the generated text


@dataclass
class Style:
    """How the scripted model writes: tool arguments without spaces; tokens sampled part by part."""

    compact: bool = False
    parts: bool = False


def sse(payload: Any) -> bytes:
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n".encode()


class TokenModel:
    def __init__(self, tokenizer: str) -> None:
        from transformers import AutoTokenizer

        tok: Any = AutoTokenizer.from_pretrained(tokenizer)
        self.tok = tok
        self.eos: int = tok.convert_tokens_to_ids("<|im_end|>")

    # -- tokens ---------------------------------------------------------------------------------

    def prompt_ids(self, request: dict[str, Any]) -> list[int]:
        if "messages" in request:
            text = self.tok.apply_chat_template(
                request["messages"], tools=request.get("tools") or None, tokenize=False, add_generation_prompt=True
            )
        else:
            prompt = request.get("prompt")
            if isinstance(prompt, list) and all(isinstance(i, int) for i in prompt):
                return list(prompt)
            text = prompt if isinstance(prompt, str) else ""
        return list(self.tok.encode(text, add_special_tokens=False))

    def groups(self, text: str) -> list[Group]:
        """A part's tokens, grouped so that every group shows whole characters."""
        ids = self.tok.encode(text, add_special_tokens=False)
        out: list[Group] = []
        start, shown = 0, ""
        for k in range(1, len(ids) + 1):
            decoded = self.tok.decode(ids[:k], skip_special_tokens=False)
            if decoded.endswith("\ufffd") and k < len(ids):
                continue
            out.append((decoded[len(shown) :], ids[start:k]))
            start, shown = k, decoded
        return out

    def logprob(self, token: int, position: int) -> float:
        return -round(((token * 2654435761 + position * 40503) % 9973) / 9973 * 2.5, 4)

    def chat_logprobs(self, ids: list[int], offset: int) -> dict[str, Any]:
        content = []
        for p, token in enumerate(ids, start=offset):
            piece = self.tok.decode([token], skip_special_tokens=False)
            content.append(
                {"token": piece, "logprob": self.logprob(token, p), "bytes": list(piece.encode()), "top_logprobs": []}
            )
        return {"content": content}

    # -- chat -----------------------------------------------------------------------------------

    def parts(self, message: dict[str, Any], style: Style) -> list[Part]:
        """What the model generated for `message`, as (kind, text, tool index) parts."""
        reasoning = next((message[f] for f in REASONING_FIELDS if isinstance(message.get(f), str)), "") or ""
        content = message.get("content") or ""
        parts = [("markup", "<think>\n", 0), ("reasoning", reasoning.strip("\n"), 0), ("markup", "\n</think>\n\n", 0)]
        if content:
            parts.append(("content", content, 0))
        for t, call in enumerate(message.get("tool_calls") or []):
            fn = call["function"]
            args = json.dumps(json.loads(fn["arguments"]), separators=(",", ":")) if style.compact else fn["arguments"]
            parts += [
                ("markup", ("\n" if t or content else "") + "<tool_call>\n", t),
                ("head", '{"name": "' + fn["name"] + '", "arguments": ', t),
                ("args", args, t),
                ("markup", "}\n</tool_call>", t),
            ]
        parts.append(("end", "<|im_end|>", 0))
        return [p for p in parts if p[1]]

    def generation(self, message: dict[str, Any], style: Style) -> tuple[str, list[Span], list[Token]]:
        """The generated text, where each part sits in it, and its tokens with their character spans.

        Tokens are the whole text's own encoding, or with `style.parts` each part's encoding (as a
        model may sample: the text is the same, re-encoding it splits some words otherwise)."""
        spans: list[Span] = []
        tokens: list[Token] = []
        text = ""
        for kind, piece, t in self.parts(message, style):
            spans.append((kind, t, len(text), len(text) + len(piece)))
            if style.parts:
                tokens += [(i, len(text) + a, len(text) + b) for i, a, b in self.encode(piece)]
            text += piece
        return text, spans, tokens if style.parts else self.encode(text)

    def encode(self, text: str) -> list[Token]:
        encoded = self.tok(text, add_special_tokens=False, return_offsets_mapping=True)
        return [(i, a, b) for i, (a, b) in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True)]

    def chat(self, request: dict[str, Any], completion: dict[str, Any], style: Style) -> dict[str, Any]:
        """A whole chat.completion with the fields vLLM adds: ids and logprobs when asked, else null."""
        want_ids, want_lp = request.get("return_token_ids") is True, bool(request.get("logprobs"))
        prompt = self.prompt_ids(request)
        choices, generated = [], 0
        for choice in completion["choices"]:
            ids = [i for i, _, _ in self.generation(choice["message"], style)[2]]
            generated += len(ids)
            choices.append(
                {
                    "index": choice["index"],
                    "message": choice["message"],
                    "logprobs": self.chat_logprobs(ids, 0) if want_lp else None,
                    "finish_reason": choice["finish_reason"],
                    "token_ids": ids if want_ids else None,
                }
            )
        out = {k: v for k, v in completion.items() if k not in ("choices", "usage")}
        out["choices"] = choices
        out["usage"] = {
            "prompt_tokens": len(prompt),
            "total_tokens": len(prompt) + generated,
            "completion_tokens": generated,
        }
        out["prompt_token_ids"] = prompt if want_ids else None
        return out

    def chat_frames(self, request: dict[str, Any], completion: dict[str, Any], style: Style) -> Iterator[bytes]:
        """The stream of `completion`, one chunk per token, as vLLM's reasoning and hermes parsers
        send it: the text a token adds to the reasoning, the content or a call's arguments; a call's
        id and name once its head is complete; tokens that add nothing visible in id-only chunks."""
        whole = self.chat(request, completion, style)
        want_ids, want_lp = request.get("return_token_ids") is True, bool(request.get("logprobs"))
        head = {k: completion[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
        for choice in completion["choices"]:
            k, message = choice["index"], choice["message"]
            fields = [f for f in REASONING_FIELDS if f in message] or [REASONING_FIELDS[0]]
            calls = message.get("tool_calls") or []
            first = {"index": k, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
            yield sse({**head, "choices": [first], "prompt_token_ids": whole["prompt_token_ids"]})
            text, spans, tokens = self.generation(message, style)
            shown, announced = 0, set()
            for at, (token, a, b) in enumerate(tokens):
                delta: dict[str, Any] = {}
                tool_deltas = []
                for kind, t, start, end in spans:
                    piece = text[max(a, shown, start) : min(b, end)]
                    if kind == "reasoning" and piece:
                        delta.update({f: delta.get(f, "") + piece for f in fields})
                    elif kind == "content" and piece:
                        delta["content"] = delta.get("content", "") + piece
                    elif kind == "head" and t not in announced and start < b and b >= end:
                        announced.add(t)
                        fn = {"name": calls[t]["function"]["name"], "arguments": ""}
                        tool_deltas.append({"index": t, "id": calls[t]["id"], "type": "function", "function": fn})
                    elif kind == "args" and piece:
                        if tool_deltas and tool_deltas[-1]["index"] == t:
                            tool_deltas[-1]["function"]["arguments"] += piece
                        else:
                            tool_deltas.append({"index": t, "function": {"arguments": piece}})
                shown = max(shown, b)
                if tool_deltas:
                    delta["tool_calls"] = tool_deltas
                finish = choice["finish_reason"] if at == len(tokens) - 1 else None
                if finish and not calls:
                    delta.setdefault("content", "")
                if delta or finish or want_ids:
                    lp = self.chat_logprobs([token], at) if want_lp else None
                    out = {"index": k, "delta": delta, "logprobs": lp, "finish_reason": finish}
                    yield sse({**head, "choices": [{**out, "token_ids": [token] if want_ids else None}]})
        if (request.get("stream_options") or {}).get("include_usage"):
            yield sse({**head, "choices": [], "usage": whole["usage"]})
        yield sse("[DONE]")
