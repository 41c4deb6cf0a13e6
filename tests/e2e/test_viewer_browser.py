"""The viewer in a real browser (Debian's Chromium through Playwright) on traffic recorded through
`tracemill serve`: filter and open, unfold, curate and undo (the CLI sees the same log), export
and load the file, and a new episode appearing while an agent records. Screenshots of every page
land in tests/artifacts/screenshots/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.browser import browser_page, need_chromium, screenshot
from tests.support.cli import tm
from tests.support.viewer_data import agent, record_runs, serving


def cli_history(db: Path, episode: str) -> list[tuple[str, str, bool]]:
    result = tm("traces", "history", episode, "--db", str(db))
    assert result.returncode == 0, result.stderr
    return [(m[0], m[1], bool(m[2])) for m in re.findall(r"^#(\d+) \S+ (\w+) .*?( \(undone\))?$", result.stdout, re.M)]


async def panel_history(page) -> list[tuple[str, str, bool]]:
    items = page.locator("ol.history li[data-step]")
    out = []
    for k in range(await items.count()):
        item = items.nth(k)
        out.append(
            (
                await item.get_attribute("data-step"),
                await item.get_attribute("data-action"),
                "undone" in (await item.get_attribute("class") or ""),
            )
        )
    return sorted(out, key=lambda step: int(step[0]))


@pytest.mark.slow
async def test_review_curate_export_and_watch_live_in_a_browser(tmp_path):
    need_chromium()
    from playwright.async_api import expect

    async with serving(tmp_path) as (url, db), browser_page() as page:
        await record_runs(url)
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))

        # The list, filtered by the first user message; then open the episode.
        await page.goto(url + "/ui/episodes")
        rows = page.locator("#episode-rows tr[data-episode]")
        await expect(rows).to_have_count(2)
        await screenshot(page, "episodes")
        await page.get_by_label("search").fill("the page")
        await page.get_by_role("button", name="filter").click()
        await expect(rows).to_have_count(1)
        episode = await rows.first.get_attribute("data-episode")
        await rows.first.locator("td.first a").click()
        await expect(page.get_by_role("heading", name=f"Episode {episode}")).to_be_visible()

        # Folded reasoning and a folded tool result open with one click; the tool result loads lazily.
        reasoning = page.locator("#m2 details.reasoning")
        await expect(reasoning.locator("pre")).not_to_be_visible()
        await reasoning.get_by_text("reasoning").click()
        await expect(reasoning.locator("pre")).to_contain_text("I should call echo")
        tool = page.locator("#m3")
        await expect(tool.locator("pre.preview")).to_contain_text("row 2:")
        assert "row 39" not in await page.content()
        await tool.locator("details.more summary").click()
        await expect(tool.locator("details.more .fold-body")).to_contain_text("row 39")
        # Hostile markup in the tool result is text: visible as written, never an element, never run.
        await expect(tool.locator("details.more .fold-body")).to_contain_text(
            "<script>alert('xss')</script><img src=x onerror="
        )
        assert await page.locator("img[src='x']").count() == 0 and dialogs == []
        await expect(tool.locator(".mcp-link")).to_contain_text("MCP py")
        await tool.locator(".mcp-link summary").click()
        await expect(tool.locator(".mcp-link .fold-body")).to_contain_text("Echo: message-0")
        await screenshot(page, "episode")

        # Curation in place: tag, exclude, drop two turns, rate, edit the answer, rate again, undo.
        state = page.locator("aside.curation div.state")
        await page.get_by_label("tags to add").fill("good reviewed")
        await page.get_by_role("button", name="tag", exact=True).click()
        await expect(state).to_contain_text("reviewed")
        await page.get_by_role("button", name="exclude").click()
        await expect(state).to_contain_text("excluded")
        await page.get_by_label("select message 2", exact=True).check()
        await page.get_by_label("select message 3", exact=True).check()
        await page.get_by_role("button", name="drop selected turns").click()
        await expect(page.locator("#m2 .tag.dropped")).to_be_visible()
        await expect(page.locator("#m3 .tag.dropped")).to_be_visible()
        await expect(page.locator("#m4 .tag.dropped")).to_have_count(0)
        await page.get_by_role("button", name="rate good").click()
        await expect(state).to_contain_text("rated good")
        edit = page.locator("#m4 details.edit")
        await edit.locator("summary").click()
        await edit.get_by_label("content of message 4").fill("The page says hello.")
        await edit.get_by_role("button", name="save edit").click()
        await expect(page.locator("#m4 pre.content")).to_have_text("The page says hello.")
        await expect(page.locator("#m4 details.original pre")).to_contain_text("Here is what I found")
        await page.get_by_label("numeric reward", exact=True).fill("0.3")
        await page.get_by_role("button", name="rate with reward").click()
        await expect(state).to_contain_text("rated 0.3")
        await page.get_by_role("button", name="undo the latest step").click()
        await expect(state).to_contain_text("rated good")
        panel = await panel_history(page)
        assert [(action, undone) for _, action, undone in panel] == [
            ("tag", False),
            ("exclude", False),
            ("drop_turns", False),
            ("rate", False),
            ("edit", False),
            ("rate", True),
            ("undo", False),
        ]
        assert cli_history(db, episode) == panel  # the CLI reads the very same log
        await screenshot(page, "episode-curated")

        await page.get_by_role("link", name="raw").click()
        await page.locator("details.fold summary").first.click()
        await expect(page.locator(".exchange-body").first).to_contain_text('"messages"')
        await screenshot(page, "episode-raw")

        # Export with the list's filters; wait for the job; download and load the file.
        await page.goto(url + "/ui/export?tag=reviewed&excluded=show")
        await page.get_by_label("file name").fill("reviewed.jsonl")
        await page.get_by_role("button", name="start export").click()
        await expect(page.locator("#job")).to_have_attribute("data-state", "done", timeout=60_000)
        async with page.expect_download() as download:
            await page.get_by_role("link", name="download reviewed.jsonl").click()
        rows_out = [json.loads(line) for line in Path(await (await download.value).path()).read_text().splitlines()]
        assert len(rows_out) == 1 and rows_out[0]["id"] == episode
        assert [m["role"] for m in rows_out[0]["messages"]] == ["system", "user", "assistant"]
        assert rows_out[0]["messages"][-1]["content"] == "The page says hello."
        await screenshot(page, "export")

        for name, path, text in (
            ("exchanges", "/ui/exchanges", "/v1/chat/completions"),
            ("mcp", "/ui/mcp", "echo"),
            ("overview", "/ui/overview", "tokens per model"),
        ):
            await page.goto(url + path)
            await expect(page.locator("main")).to_contain_text(text)
            await screenshot(page, name, full_page=True)
        assert await page.locator("svg.chart").count() == 5

        # Live: the list shows a new episode while an agent records, without a reload.
        await page.goto(url + "/ui/episodes?excluded=show")
        rows = page.locator("#episode-rows tr[data-episode]")
        await expect(rows).to_have_count(2)
        await page.evaluate("window.__same_page = true")
        await agent(f"{url}/s/live", "Echo a live one for me.")
        await expect(rows).to_have_count(3, timeout=15_000)
        await expect(rows.first).to_contain_text("Echo a live one")
        assert await page.evaluate("window.__same_page") is True  # updated in place, not reloaded
        await screenshot(page, "episodes-live")
        assert dialogs == []
