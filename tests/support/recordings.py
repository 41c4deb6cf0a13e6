"""Traffic recorded through a real proxy, for the fine-tune and eval tests."""

from __future__ import annotations

import pytest

from proxy.fakes.demo import conversation
from proxy.fakes.scripted import ScriptedUpstream
from proxy.server import running
from tests.support.serving import proxy_for


@pytest.fixture
async def recorded(tmp_path):
    db = tmp_path / "rec.db"
    async with running(ScriptedUpstream()) as upstream, proxy_for(upstream, db) as (proxy, app):
        for run in range(4):
            await conversation(f"{proxy}/s/run-{run}/v1", say=lambda *_: None)
        await app.recorder.flush()
    return db
