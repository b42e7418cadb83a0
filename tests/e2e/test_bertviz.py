"""In Chromium, with every non-local request aborted: bertviz draws its SVG inside the
sandboxed iframe, and the Q·K walk-through shows the model's numbers, in English and Korean."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from models.loading.catalog import GEMMA3
from tests.conftest import screenshot_dir

pytestmark = pytest.mark.e2e
LOCAL = re.compile(r"^(https?://(127\.0\.0\.1|localhost)(:\d+)?/|data:|blob:|about:)")
KOREAN = "고양이가 매트 위에 앉았다. 피곤했기 때문이다."


def _block_network(page) -> list[str]:
    """Abort every request that is not to the app itself; return the list of aborted URLs."""
    aborted: list[str] = []

    def route(r):
        if LOCAL.match(r.request.url):
            r.continue_()
        else:
            aborted.append(r.request.url)
            r.abort()

    page.context.route("**/*", route)
    return aborted


def _show(page, text: str) -> None:
    page.get_by_text(text, exact=False).first.evaluate("e => e.scrollIntoView({block: 'start'})")


def _open_panels(page) -> None:
    page.locator("#status").get_by_text("forward pass").wait_for(timeout=120_000)
    page.get_by_role("tab", name=re.compile("Attention")).click()
    page.get_by_text("Q·K step by step").click()


def _open_bertviz(page) -> None:
    page.get_by_text("bertviz", exact=True).click(timeout=90_000)


def _draw_bertviz(page, button: str):
    page.get_by_role("button", name=button).click()
    frame = page.frame_locator("iframe.bertviz-frame")
    frame.locator("svg line, svg path").first.wait_for(state="attached", timeout=60_000)
    return frame


ROWS_JS = """e => {
  const rows = {};
  e.querySelectorAll('[role=gridcell]').forEach(c => {
    (rows[c.dataset.row] ??= [])[Number(c.dataset.col)] = c.innerText.trim();
  });
  return Object.values(rows);
}"""


def _walkthrough_rows(page, first_key: str) -> list[list[str]]:
    """The rendered cells of the walk-through table, once it shows `first_key`."""
    table = page.locator("#qk-steps")
    table.locator("[role=gridcell]").filter(has_text=first_key).first.wait_for(timeout=60_000)
    table.evaluate("e => e.scrollIntoView({block: 'center'})")
    return table.evaluate(ROWS_JS)


def test_bertviz_draws_offline_and_walkthrough_matches(page):
    aborted = _block_network(page)
    page.reload()
    _open_panels(page)

    rows = _walkthrough_rows(page, "0: ")
    assert rows and all(row[-1] == row[-2] for row in rows)  # softmax == model's row
    assert sum(float(row[-2]) for row in rows) == pytest.approx(1.0, abs=2e-3)
    head_box = page.locator("#qk-head input[type=number]")
    head_box.fill("3")
    head_box.press("Enter")
    page.locator("#qk-steps-text").get_by_text("head 3").wait_for(timeout=60_000)
    changed = _walkthrough_rows(page, "0: ")
    assert changed != rows and all(row[-1] == row[-2] for row in changed)
    page.locator("#qk-figure .js-plotly-plot").wait_for(timeout=60_000)
    _show(page, "Query, key, value.")
    page.screenshot(path=str(screenshot_dir() / "qk-walkthrough-en.png"))

    _open_bertviz(page)
    frame = _draw_bertviz(page, "Draw bertviz")
    assert frame.locator("svg").count() >= 1
    assert frame.locator("svg line, svg path").count() > 10
    assert frame.locator("#layer option").count() >= 1
    page.locator("iframe.bertviz-frame").evaluate("e => e.scrollIntoView({block: 'end'})")
    page.screenshot(path=str(screenshot_dir() / "bertviz-head-en.png"))

    page.get_by_label("Model view").check()
    frame.locator("svg rect").nth(5).wait_for(state="attached", timeout=60_000)
    page.locator("iframe.bertviz-frame").evaluate("e => e.scrollIntoView({block: 'end'})")
    page.screenshot(path=str(screenshot_dir() / "bertviz-model-en.png"))
    assert not [url for url in aborted if "cdnjs" in url or "d3" in url or "jquery" in url]
    sandbox = page.locator("iframe.bertviz-frame").get_attribute("sandbox")
    assert sandbox == "allow-scripts"


def test_korean_walkthrough_and_bertviz(page):
    _block_network(page)
    base = page.url.split("?")[0]
    params = {"model": GEMMA3, "text": KOREAN, "lang": "ko", "tab": "attention"}
    page.goto(f"{base}?{urlencode(params)}")
    page.locator("#status").get_by_text("gemma", exact=False).wait_for(timeout=120_000)
    page.get_by_role("tab", name=re.compile("어텐션|Attention")).click()
    page.get_by_text("Q·K 단계별 계산").click()  # the accordion title follows the language
    rows = _walkthrough_rows(page, "1: 고")
    assert any(re.search("[가-힣]", row[0]) for row in rows)
    assert all(row[-1] == row[-2] for row in rows)
    page.locator("#qk-figure .js-plotly-plot").wait_for(timeout=60_000)
    _show(page, "쿼리, 키, 밸류.")
    page.screenshot(path=str(screenshot_dir() / "qk-walkthrough-ko.png"))
    _open_bertviz(page)
    frame = _draw_bertviz(page, "bertviz 그리기")
    assert frame.get_by_text(re.compile("[가-힣]")).count() >= 1
    page.locator("iframe.bertviz-frame").evaluate("e => e.scrollIntoView({block: 'end'})")
    page.screenshot(path=str(screenshot_dir() / "bertviz-head-ko.png"))
