"""Push an export to the Hugging Face Hub, with a dataset card.

The dataset is first written to a local folder (parquet shards under data/ and README.md),
a real dataset that `datasets.load_dataset(folder)` reads; then the folder is uploaded with
huggingface_hub in one commit. Tests swap the Hub for a stand-in at the HTTP boundary.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from finetune.dataset.export import ExportOptions, iter_rows, write


class HubError(RuntimeError):
    """A push that cannot go through, phrased for the user."""


def token() -> str:
    from huggingface_hub import get_token

    found = get_token()  # HF_TOKEN, then the saved login
    if not found:
        raise HubError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with write access)")
    return found


def stats(db_path: str | Path, options: ExportOptions) -> dict[str, Any]:
    models: Counter[str] = Counter()
    tools: Counter[str] = Counter()
    rows = turns = calls = 0
    for row in iter_rows(db_path, options):
        rows += 1
        models[row["model"] or "unknown"] += 1
        for tool in row["tools"] or []:
            tools[(tool.get("function") or tool).get("name", "?")] += 1
        turns += sum(1 for m in row["messages"] if m["role"] == "assistant")
        calls += sum(len(m.get("tool_calls") or []) for m in row["messages"])
    return {"rows": rows, "models": dict(models), "tools": sorted(tools), "assistant_turns": turns, "tool_calls": calls}


def card(repo_id: str, counts: dict[str, int], info: dict[str, Any], options: ExportOptions) -> str:
    splits = "\n".join(f"    - split: {name}\n      path: data/{name}-*.parquet" for name in counts)
    unroll = {
        None: "one row per episode (a whole agent run)",
        "assistant": "unrolled: one row per assistant turn",
        "user-turns": "unrolled at the first reply after each user message",
    }[options.unroll]
    tools = ", ".join(f"`{t}`" for t in info["tools"][:40]) or "none"
    return f"""---
configs:
  - config_name: default
    data_files:
{splits}
tags:
  - agent-traces
  - tool-calling
  - tracemill
task_categories:
  - text-generation
---

# {repo_id}

Agent traces recorded by [tracemill](https://pypi.org/project/tracemill/): every LLM call and MCP tool
call an agent made, assembled into conversations with each turn's reasoning, the tool calls, the
tool results, and the exact tool list the agent offered.

- Rows: {", ".join(f"{n} {s}" for s, n in counts.items())} ({unroll})
- Assistant turns: {info["assistant_turns"]}, tool calls: {info["tool_calls"]}
- Models: {", ".join(f"{m} ({n})" for m, n in info["models"].items())}
- Tools: {tools}
- System prompts: {"stripped" if options.strip_system else "kept"}

Each row: `id`, `timestamp` (ISO 8601, UTC), `model`, `session`, `source`, `messages` (OpenAI chat
format: assistant turns carry `content`, `reasoning_content` and `tool_calls` with JSON-string
`arguments`; tool turns carry `tool_call_id`) and `tools` (OpenAI tool definitions, as sent).
`messages` and `tools` are Arrow JSON columns, so every schema is kept exactly.

## Load it for SFT

```python
from datasets import load_dataset
ds = load_dataset("{repo_id}", split="train")
text = tokenizer.apply_chat_template(ds[0]["messages"], tools=ds[0]["tools"], tokenize=False)
```

Or fine-tune directly: `tracemill finetune --data {repo_id} --model Qwen/Qwen3-4B --out run/`.
"""


def build(db_path: str | Path, folder: str | Path, repo_id: str, options: ExportOptions) -> dict[str, int]:
    """The local dataset folder that gets pushed: data/<split>-00000-of-00001.parquet and README.md."""
    folder = Path(folder)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    staging = folder / ".staging"
    counts = write(db_path, staging, "parquet", options)
    if counts.get("train", 0) == 0:
        raise HubError("nothing to push: no episodes match these filters")
    sources = {"train": staging} if len(counts) == 1 else {name: staging / f"{name}.parquet" for name in counts}
    for name, path in sources.items():
        path.rename(folder / "data" / f"{name}-00000-of-00001.parquet")
    if staging.exists():
        staging.rmdir()
    (folder / "README.md").write_text(card(repo_id, counts, stats(db_path, options), options))
    return counts


def upload(folder: str | Path, repo_id: str, repo_type: str, private: bool) -> str:
    """Create the repo if needed and upload the folder in one commit; Hub errors become one line."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(token=token())
    try:
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        commit = api.upload_folder(
            folder_path=str(folder), repo_id=repo_id, repo_type=repo_type, commit_message="Upload with tracemill"
        )
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        hint = {
            401: "the token is invalid or expired",
            403: "the token cannot write to this namespace (needs write access)",
            404: "the repository or namespace does not exist",
        }.get(status if isinstance(status, int) else 0, "")
        raise HubError(
            f"the Hub refused the push to {repo_id} (HTTP {status}){': ' + hint if hint else ''}. {json.dumps(str(exc))[:300]}"
        ) from None
    prefix = "datasets/" if repo_type == "dataset" else ""
    return getattr(commit, "commit_url", None) or f"https://huggingface.co/{prefix}{repo_id}"


def push(folder: str | Path, repo_id: str, private: bool = True) -> str:
    return upload(folder, repo_id, "dataset", private)


def push_model(run_dir: str | Path, repo_id: str, dataset: str | None, private: bool = True) -> str:
    """Upload the merged model if there is one, else the adapter, with a model card."""
    run_dir = Path(run_dir)
    report = json.loads((run_dir / "run.json").read_text())
    folder = run_dir / "merged" if (run_dir / "merged").exists() else run_dir / "adapter"
    config = report["config"]
    linked = (
        f"[{dataset}](https://huggingface.co/datasets/{dataset})"
        if dataset and "/" in dataset and not Path(dataset).exists()
        else "local tracemill traces"
    )
    (folder / "README.md").write_text(
        f"---\nbase_model: {config['model']}\ntags:\n  - tracemill\n  - lora\n  - tool-calling\n---\n\n# {repo_id}\n\n"
        f"{'A merged' if folder.name == 'merged' else 'A LoRA adapter for'} `{config['model']}`, fine-tuned with tracemill on {linked}.\n\n"
        f"- Backend: {report['backend']}; LoRA rank {config['rank']}, alpha {config['alpha']}, rsLoRA {config['rslora']}, lr {config['lr']}\n"
        f"- Rows: {report['data']['train_rows']} train, {report['data']['eval_rows']} eval; loss {report['losses']['first']} -> {report['losses']['final']}\n"
    )
    return upload(folder, repo_id, "model", private)
