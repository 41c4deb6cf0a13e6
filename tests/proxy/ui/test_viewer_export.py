"""Export and push from the viewer's page: the same code as the CLI, in a background job."""

from __future__ import annotations

import asyncio
import json
import time

import httpx2
import pytest

from recorder import open_reader
from tests.support.fake_hub import FakeHub
from tests.support.viewer_data import page_token, viewer


@pytest.fixture
def hub(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no saved login leaks in
    fake = FakeHub()
    fake.install()
    yield fake
    import huggingface_hub

    huggingface_hub.set_client_factory(huggingface_hub.utils._http.default_client_factory)


async def run_job(client: httpx2.AsyncClient, url: str, **form: str) -> tuple[str, str]:
    token = page_token((await client.get("/ui/export")).text)
    started = await client.post("/ui/export", data={"token": token, **form}, headers={"origin": url})
    assert started.status_code == 303, started.text
    job = started.headers["location"]
    deadline = time.monotonic() + 120
    while (
        'data-state="running"' in (page := (await client.get(job + "/progress")).text) and time.monotonic() < deadline
    ):
        await asyncio.sleep(0.2)
    return job, page


async def test_push_from_the_page_uploads_and_links_the_dataset(store, hub, monkeypatch):
    async with viewer(store) as (url, client):
        monkeypatch.delenv("HF_TOKEN", raising=False)
        _, page = await run_job(client, url, kind="push", repo_id="me/traces", private="on")
        assert 'data-state="failed"' in page and "no Hugging Face token" in page
        monkeypatch.setenv("HF_TOKEN", "hf_fake_token")
        _, page = await run_job(client, url, kind="push", repo_id="me/traces", private="on", tag="")
        assert 'data-state="done"' in page and "https://huggingface.co/datasets/me/traces/commit/1" in page
        assert hub.created["visibility"] == "private" and "data/train-00000-of-00001.parquet" in hub.files


async def test_dpo_pairs_from_the_page(store):
    with open_reader(str(store)) as reader:
        (multi,) = [r["id"] for r in reader.episodes(limit=10) if r["session"] == "s1"]
        reader.curate(multi, "edit", index=4, content="The sum is 5.")
    async with viewer(store) as (url, client):
        job, page = await run_job(client, url, kind="export", format="dpo", name="pairs.jsonl")
        assert 'data-state="done"' in page and "1 train pairs" in page
        (pair,) = [json.loads(line) for line in (await client.get(job + "/file/0")).text.splitlines()]
        assert pair["chosen"][0]["content"] == "The sum is 5." and pair["rejected"][0]["content"] == "5"
        token = page_token((await client.get("/ui/export")).text)
        form = {"token": token, "kind": "export", "format": "dpo", "unroll": "assistant", "name": "x.jsonl"}
        refused = await client.post("/ui/export", data=form, headers={"origin": url})
        assert refused.status_code == 400 and "leave unroll empty" in refused.text
