"""The Block tab in Chromium: the drawn map and step view carry the model's own data."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from models.loading.catalog import MINILM
from tests.conftest import screenshot_dir

pytestmark = pytest.mark.e2e
SLOW = 120_000

# What the browser's plotly holds: the map's drawn boxes, the step figure's rows, the text.
STATE = """() => {
  const map = document.querySelector('#block-map .js-plotly-plot');
  const steps = document.querySelector('#block-steps .js-plotly-plot');
  const text = document.querySelector('#block-steps-text');
  if (!map || !map.layout || !map.layout.meta || !text) return null;
  if (!steps || !steps.layout || !steps.layout.meta || !steps.calcdata) return null;
  const z = steps.calcdata[0][0].z;  // the strips plotly drew: [steps][D]
  return {boxes: map.layout.meta.boxes, block: map.layout.meta.block,
          steps: steps.layout.meta.steps, rows: z.length, width: z[0].length,
          sum: z.reduce((a, row) => a + row.reduce((b, v, i) => b + v * (i + 1), 0), 0),
          text: text.innerText, title: map.layout.title.text};
}"""


def wait_for_text(page, words: str) -> dict:
    page.wait_for_function(
        f"() => {{ const s = ({STATE})(); return s && s.text.includes({words!r}); }}",
        timeout=SLOW,
    )
    return page.evaluate(STATE)


def test_pre_norm_block_of_smollm2_and_a_layer_change(page):
    page.locator("#status").get_by_text("forward pass").wait_for(timeout=SLOW)
    page.get_by_role("tab", name="Block").click()
    state = wait_for_text(page, "largest difference")
    assert state["block"] == ["norm", "attention", "add", "norm", "ffn", "add"]
    assert state["boxes"][0] == "embedding" and state["boxes"][-1] == "head"
    assert state["steps"][0] == "input" and state["steps"][-1] == "output"
    assert state["rows"] == len(state["steps"]) and state["width"] == 576  # SmolLM2's d_model
    assert "SmolLM2" in state["title"]
    number = page.locator("#block-layer input[type=number]")
    number.fill("7")
    number.press("Enter")
    after = wait_for_text(page, "Layer 7,")
    assert after["sum"] != pytest.approx(state["sum"]) and "largest difference" in after["text"]
    assert "block_layer=7" in page.url
    page.locator("#block-map").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir() / "block-en.png"), full_page=True)


def test_post_norm_minilm_in_korean_from_a_shared_link(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    params = {"model": MINILM, "text": "the cat sat on the mat", "lang": "ko", "tab": "block"}
    params |= {"block_layer": "2", "block_token": "3"}
    try:
        page.goto(f"{app_url}?{urlencode(params)}")
        state = wait_for_text(page, "2층")
        assert state["block"] == ["attention", "add", "norm", "ffn", "add", "norm"]
        assert "head" not in state["boxes"] or "LM" not in state["text"]
        assert "사후 정규화" in state["text"] and state["width"] == 384
        assert "<code>" not in state["text"] and "토큰 3: sat." in state["text"]
        page.screenshot(path=str(screenshot_dir() / "block-ko.png"), full_page=True)
    finally:
        context.close()
