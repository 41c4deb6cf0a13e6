"""`tracemill push`, against a stand-in Hub at the HTTP boundary."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from proxy.cli import main
from tests.support.cli import export
from tests.support.fake_hub import FakeHub


@pytest.fixture
def hub(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no saved login leaks in
    fake = FakeHub()
    fake.install()
    yield fake
    import huggingface_hub

    huggingface_hub.set_client_factory(huggingface_hub.utils._http.default_client_factory)


def push(*args: str):
    return CliRunner().invoke(main, ["push", *args], obj={}, catch_exceptions=False)


def test_push_uploads_a_loadable_dataset_with_a_card(store, hub, monkeypatch, tmp_path):
    from datasets import load_dataset

    monkeypatch.setenv("HF_TOKEN", "hf_fake_token")
    result = push("me/traces", "--db", str(store), "--unroll", "--test-split", "0.5", "--keep", str(tmp_path / "local"))
    assert result.exit_code == 0, result.output
    assert "to https://huggingface.co/datasets/me/traces/commit/1 (private)" in result.output
    assert hub.created["visibility"] == "private" and hub.created["type"] == "dataset"
    assert set(hub.files) == {"README.md", "data/train-00000-of-00001.parquet", "data/test-00000-of-00001.parquet"}
    card = hub.files["README.md"].decode()
    assert (
        "Models: " in card
        and "`get_sum`" in card
        and "`browser_navigate`" in card
        and 'load_dataset("me/traces"' in card
    )
    pushed = load_dataset(str(hub.materialise(tmp_path / "clone")))
    local = load_dataset(str(tmp_path / "local"))
    want = sorted(export(store, tmp_path / "ref.jsonl", "--unroll"), key=lambda r: r["id"])
    for ds in (pushed, local):
        got = sorted([dict(r) for split in ds.values() for r in split], key=lambda r: r["id"])
        assert got == want


def test_missing_token_and_refused_write_are_clear(store, hub, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    result = push("me/traces", "--db", str(store))
    assert result.exit_code == 1 and "no Hugging Face token: set HF_TOKEN" in result.output
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token")
    hub.refuse = 403
    result = push("someone-else/traces", "--db", str(store), "--public")
    assert result.exit_code == 1 and "refused the push to someone-else/traces (HTTP 403)" in result.output
    assert "write access" in result.output
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    result = push("me/traces", "--db", str(store))
    assert result.exit_code == 1 and "(HTTP 401)" in result.output and "invalid or expired" in result.output
