"""The Attention tab in Chromium: switching heads redraws the map; Korean renders on Gemma."""

from __future__ import annotations

import pytest

from models.loading.catalog import GEMMA3
from tests.conftest import screenshot_dir

pytestmark = pytest.mark.e2e
SLOW = 120_000  # ms; the machine may be busy, and Gemma loads once

# What the browser's plotly holds for the big heatmap: its title, a position-weighted
# sum of its visible cells (changes when any weight moves), its size and masked cells.
HEATMAP_STATE = """() => {
  const gd = document.querySelector('#attention-heatmap .js-plotly-plot');
  if (!gd || !gd.calcdata || !gd.calcdata.length) return null;
  const z = gd.calcdata[0][0].z;  // the decoded [rows][columns] weights plotly drew
  let sum = 0, masked = 0;
  for (let i = 0; i < z.length; i++) {
    for (let j = 0; j < z[i].length; j++) {
      const v = z[i][j];
      if (!Number.isFinite(v)) masked++; else sum += v * (i + 1) * (j + 2);
    }
  }
  return {title: gd.layout.title.text, sum, rows: z.length, masked,
          labels: Array.from(gd.data[0].y), shapes: (gd.layout.shapes || []).length};
}"""


def title_contains(text: str) -> str:
    return (
        "() => { const gd = document.querySelector('#attention-heatmap .js-plotly-plot');"
        f" return !!(gd && gd.layout && gd.layout.title.text.includes({text!r})); }}"
    )


def open_attention_tab(page, tab_name: str = "Attention") -> None:
    page.get_by_role("tab", name=tab_name).click()
    page.wait_for_function(title_contains("mean of"), timeout=SLOW)


def test_switching_heads_redraws_the_heatmap(page):
    page.locator("#status").get_by_text("forward pass").wait_for(timeout=SLOW)
    open_attention_tab(page)
    before = page.evaluate(HEATMAP_STATE)
    rows = before["rows"]
    assert before["masked"] == rows * (rows - 1) // 2  # SmolLM2 is a decoder: future masked
    assert before["shapes"] == 1  # the grey causal-mask region
    page.locator("#attention-head input").click()
    page.get_by_role("option", name="head 3", exact=True).click()
    page.wait_for_function(title_contains("head 3"), timeout=SLOW)
    after = page.evaluate(HEATMAP_STATE)
    assert after["rows"] == rows and after["sum"] != pytest.approx(before["sum"], rel=1e-6)
    page.locator("#attention-heatmap").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir() / "attention-en.png"), full_page=True)


def test_clicking_an_overview_cell_opens_that_layer_and_head(page):
    page.locator("#status").get_by_text("forward pass").wait_for(timeout=SLOW)
    open_attention_tab(page)
    cell = page.locator('#attention-overview [data-testid="cell-2-5"]')  # layer 2, head 4
    cell.click(timeout=SLOW)
    page.wait_for_function(title_contains("Layer 2 · head 4"), timeout=SLOW)
    assert page.locator("#attention-layer input[type=number]").input_value() == "2"


def test_korean_sentence_on_gemma_in_the_korean_interface(page):
    page.locator("#status").get_by_text("forward pass").wait_for(timeout=SLOW)
    sentence = "나는 최근 파리 여행을 다녀왔다"
    model_box = page.get_by_label("Model")
    model_box.fill(GEMMA3)
    model_box.press("Enter")
    page.locator("#text textarea").fill(sentence)
    page.locator("#lang").get_by_text("한국어").click()
    page.locator("#analyze").click()
    page.locator("#status").get_by_text("gemma-3-270m").wait_for(timeout=SLOW)
    page.get_by_role("tab", name="어텐션").click()
    page.wait_for_function(title_contains("헤드"), timeout=SLOW)
    state = page.evaluate(HEATMAP_STATE)
    shown = "".join(state["labels"])
    assert all(syllable in shown for syllable in sentence.replace(" ", ""))
    assert state["labels"][0] == "0 &lt;bos&gt;"  # sent escaped ...
    ticks = page.evaluate(
        "() => Array.from(document.querySelectorAll('#attention-heatmap .ytick text'),"
        " (e) => e.textContent)"
    )
    assert "0 <bos>" in ticks  # ... and drawn as text, not as markup
    page.locator("#attention-heatmap").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir() / "attention-ko.png"), full_page=True)
