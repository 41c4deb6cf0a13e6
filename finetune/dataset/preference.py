"""Preference pairs from edited turns, in the conversational format TRL's DPOTrainer loads.

An edit of an assistant turn keeps the recorded original, so every edited turn is a pair: the
conversation before it is the `prompt`, the edited turn is `chosen` and the recorded one is
`rejected`. Earlier edits are applied to the prompt, and curation's drops and system stripping
hold as in any export. `tools` is a JSON string, so schemas survive Arrow unchanged and
DPOTrainer passes them to the chat template.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from finetune.dataset.row import clean_message, iso, kept
from recorder.episodes.chain import Episode
from recorder.episodes.curation import Curation


def preference_rows(episode: Episode, curation: Curation, strip_system: bool = False) -> Iterator[dict[str, Any]]:
    prompt: list[dict[str, Any]] = []
    for index, message in kept(episode, curation, strip_system):
        original, chosen = clean_message(message), clean_message(curation.edited(index, message))
        if message.get("role") == "assistant" and chosen != original:
            yield {
                "id": f"{episode.id}#{index}",
                "episode": str(episode.id),
                "index": index,
                "timestamp": iso(episode.started_at),
                "model": episode.model or "",
                "prompt": list(prompt),
                "chosen": [chosen],
                "rejected": [original],
                "tools": json.dumps(episode.tools, ensure_ascii=False),
            }
        prompt.append(chosen)
