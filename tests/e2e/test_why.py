""" "Why this token?" in Chromium: the drawn bars add up to the model's logit, a second
token can be compared, saliency chips appear on request; a shared Korean link
reopens the section on Gemma with the chosen token."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from models.loading.catalog import GEMMA3
from tests.conftest import screenshot_dir

pytestmark = pytest.mark.e2e
SLOW = 180_000
DRAWN_SUM = """() => {
  const plot = document.querySelector('#why-layers .js-plotly-plot');
  if (!plot || !plot.data) return null;
  return plot.data.reduce((sum, trace) => sum + trace.y.reduce((a, b) => a + b, 0), 0);
}"""
HEAD_BARS = "() => document.querySelector('#why-heads .js-plotly-plot').data[0].y.length"


def open_tab(page) -> None:
    page.locator("#status").get_by_text(re.compile("forward pass|순전파")).wait_for(timeout=SLOW)
    tab = page.get_by_role("tab", name=re.compile("Next token|다음 토큰"))
    if tab.get_attribute("aria-selected") != "true":  # a shared link may open it already
        tab.click()
    page.locator("#nt-bars .js-plotly-plot").wait_for(timeout=SLOW)


def check_numbers(page) -> tuple[float, float]:
    text = page.locator("#why-check").inner_text()
    numbers = re.findall(r"-?\d+\.\d\d", text.split("Check:")[-1].split("검산:")[-1])
    return float(numbers[0]), float(numbers[-1])


def wait_for_check(page, words: str) -> None:
    page.locator("#why-check").get_by_text(re.compile(words)).wait_for(timeout=SLOW)


def test_the_bars_add_up_and_a_second_token_can_be_compared(page):
    open_tab(page)
    page.locator("#why").get_by_text("Why this token?").click()
    page.locator("#why-layers .js-plotly-plot").wait_for(timeout=SLOW)
    wait_for_check(page, "Paris")
    page.wait_for_function(f"() => ({DRAWN_SUM})() !== null", timeout=SLOW)
    total, logit = check_numbers(page)
    drawn = page.evaluate(DRAWN_SUM)
    assert drawn == pytest.approx(total, abs=0.01)
    assert total == pytest.approx(logit, abs=0.01) and logit > 10
    assert page.evaluate(HEAD_BARS) == 9  # SmolLM2's 9 query heads
    assert "why=1" in page.evaluate("location.search")  # the open section is in the link

    page.locator("#why-vs input").click()
    page.get_by_role("option", name=re.compile(r"^2\. ␣the")).click()
    wait_for_check(page, "differ by")
    page.wait_for_function(f"(before) => ({DRAWN_SUM})() !== before", arg=drawn, timeout=SLOW)
    total, difference = check_numbers(page)
    assert page.evaluate(DRAWN_SUM) == pytest.approx(total, abs=0.01)
    assert total == pytest.approx(difference, abs=0.01) and 0 < difference < logit
    assert "why_vs=" in page.evaluate("location.search")

    page.locator("#why-run").click()
    chips = page.locator("#why-chips .why-chip")
    chips.first.wait_for(timeout=SLOW)
    assert chips.count() == 5
    assert "Gradient × input" in page.locator("#why-saliency-note").inner_text()
    page.wait_for_timeout(500)
    page.locator("#why").screenshot(path=str(screenshot_dir() / "why-en.png"))


def test_a_shared_korean_link_reopens_the_section_on_gemma(page, app_url):
    query = {
        "model": GEMMA3,
        "text": "대한민국의 수도는",
        "lang": "ko",
        "tab": "next_token",
        "why": "1",
        "why_target": " 서울",
    }
    page.goto(f"{app_url}?{urlencode(query)}")
    open_tab(page)
    page.locator("#why-layers .js-plotly-plot").wait_for(timeout=SLOW)
    wait_for_check(page, "서울")
    page.wait_for_function(f"() => ({DRAWN_SUM})() !== null", timeout=SLOW)
    total, logit = check_numbers(page)
    assert page.evaluate(DRAWN_SUM) == pytest.approx(total, abs=0.01)
    assert total == pytest.approx(logit, abs=0.01)
    assert page.evaluate(HEAD_BARS) == 4  # Gemma-3-270m's 4 query heads
    assert "Gemma" in page.locator("#why-check").inner_text()
    assert "\ufffd" not in page.locator("#why").inner_text()
    page.locator("#why-explain").get_by_text("로짓에 대한 기여").wait_for(timeout=SLOW)
    page.locator("#why").screenshot(path=str(screenshot_dir() / "why-ko.png"))


def test_the_lesson_step_opens_the_section(page):
    open_tab(page)
    page.get_by_label("Lesson mode").check()
    page.locator("#lesson-step").get_by_text("Why this token?").click()
    page.locator("#lesson-body").get_by_text("Why this token?").first.wait_for(timeout=10_000)
    page.locator("#lesson-try").click()
    page.wait_for_function("() => location.search.includes('why=1')", timeout=SLOW)
    wait_for_check(page, "Paris")
    page.locator("#why-layers .js-plotly-plot").wait_for(timeout=SLOW)
    assert page.locator("#why-explain").is_visible()
