"""The next-token tab in Chromium: knobs re-shape the bars, buttons extend the text."""

from __future__ import annotations

import re

import pytest

from models.loading.catalog import GEMMA3
from tests.conftest import screenshot_dir

pytestmark = pytest.mark.e2e
SLOW = 180_000


def open_tab(page) -> None:
    page.locator("#status").get_by_text("forward pass").wait_for(timeout=SLOW)
    page.get_by_role("tab", name=re.compile("Next token|다음 토큰")).click()
    page.locator("#nt-bars .js-plotly-plot").wait_for(timeout=SLOW)


def bar_labels(page) -> list[str]:
    texts = page.locator("#nt-bars .barlayer text")
    return texts.evaluate_all("nodes => nodes.map(node => node.textContent)")


def set_number(page, elem_id: str, value: str) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(value)
    box.press("Enter")


def settle(page) -> None:
    """Wait until no output of the panel is still being computed."""
    page.wait_for_function(
        "() => ['nt-bars', 'nt-summary', 'nt-lens', 'nt-continuation-box'].every(id => {"
        " const node = document.getElementById(id);"
        " return node && !/processing|queue/.test(node.innerText); })",
        timeout=SLOW,
    )
    page.wait_for_timeout(500)


def wait_for_change(page, read, before, timeout_ms: int = SLOW):
    deadline = timeout_ms / 250
    for _ in range(int(deadline)):
        now = read()
        if now and now != before:
            return now
        page.wait_for_timeout(250)
    raise AssertionError(f"nothing changed from {before!r}")


def test_temperature_reshapes_the_bars_and_buttons_extend_the_text(page):
    open_tab(page)
    page.locator("#nt-bars").get_by_text("Paris").first.wait_for(timeout=SLOW)
    before = bar_labels(page)
    assert len(before) == 10
    set_number(page, "nt-temperature", "2.5")
    after = wait_for_change(page, lambda: bar_labels(page), before)
    first_before = float(before[0].rstrip("%"))
    first_after = float(after[0].rstrip("%"))
    assert first_after < first_before  # a hotter softmax flattens the favourite

    set_number(page, "nt-top-k", "3")
    page.locator("#nt-bars").get_by_text("removed by top-k").wait_for(timeout=SLOW)

    set_number(page, "nt-temperature", "0.7")
    page.locator("#nt-step").click()
    continuation = page.locator("#nt-continuation")
    continuation.wait_for(timeout=SLOW)
    assert "The capital of France is Paris" in continuation.inner_text()
    set_number(page, "nt-n-tokens", "3")
    page.locator("#nt-generate").click()
    page.locator("#nt-continuation sup").nth(1).wait_for(timeout=SLOW)
    grown = continuation.inner_text()
    assert grown.startswith("The capital of France is Paris") and len(grown) > 32
    page.locator("#nt-bars").get_by_text("Generation step 5").wait_for(timeout=SLOW)
    settle(page)
    page.screenshot(path=str(screenshot_dir() / "next-token-en.png"), full_page=True)


def test_korean_on_gemma_with_korean_labels(page):
    page.locator("#status").get_by_text("forward pass").wait_for(timeout=SLOW)
    model_box = page.get_by_label("Model")
    model_box.fill(GEMMA3)
    model_box.press("Enter")
    page.locator("#text textarea").fill("대한민국의 수도는")
    page.locator("#analyze").click()
    page.locator("#status").get_by_text("gemma").wait_for(timeout=SLOW)
    page.locator("#lang").get_by_text("한국어").click()
    open_tab(page)
    page.get_by_text("로짓에서 다음 토큰까지").wait_for(timeout=SLOW)
    page.locator("#nt-bars").get_by_text("서울").first.wait_for(timeout=SLOW)
    page.locator("#nt-step").click()
    continuation = page.locator("#nt-continuation")
    continuation.wait_for(timeout=SLOW)
    assert continuation.inner_text().startswith("대한민국의 수도는")
    page.locator("#nt-surprise-box").get_by_text("수도").wait_for(timeout=SLOW)
    assert "\ufffd" not in page.locator("#nt-bars").inner_text()
    page.locator("#nt-bars").get_by_text("생성 2단계").wait_for(timeout=SLOW)
    settle(page)
    assert page.locator("#nt-continuation sup").count() == 1  # still shows the appended token
    page.screenshot(path=str(screenshot_dir() / "next-token-ko.png"), full_page=True)
