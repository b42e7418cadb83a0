"""The Embeddings tab in Chromium: the 3D plot renders (a WebGL canvas) for an English
sentence on SmolLM2 and a Korean one on Gemma-3, with the Korean UI; a layer change
draws that layer's points, as the API gives them."""

from __future__ import annotations

import pytest

from models.loading.catalog import GEMMA3, SMOLLM2
from tests.conftest import screenshot_dir, submit

pytestmark = pytest.mark.e2e
ENGLISH = "I sat on the river bank and counted my money."
KOREAN = "배를 타고 강을 건넜다"


def _analyse(page, model: str, text: str) -> None:
    submit(page, model, text)
    page.locator("#status").get_by_text(model.split("/")[-1]).wait_for(timeout=180_000)


def _open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def _plot_has_canvas(page, plot_id: str, title_pattern: str = "") -> None:
    """Wait, in one check in the page, for the plot (with a title matching
    `title_pattern`) and its WebGL canvas drawn at a usable size: Gradio may re-render
    the plot after a language switch, so an element found a moment earlier can be gone."""
    page.wait_for_function(
        """([id, pattern]) => {
          const plot = document.querySelector(`#${id} .js-plotly-plot`);
          const canvas = plot && plot.querySelector('canvas');
          const title = plot && plot._fullLayout && plot._fullLayout.title;
          if (!canvas || !title || !new RegExp(pattern).test(title.text || '')) return false;
          const box = canvas.getBoundingClientRect();
          return box.width > 200 && box.height > 200;
        }""",
        arg=[plot_id, title_pattern],
        timeout=180_000,
    )


def test_english_sentence_on_smollm2_renders_the_3d_space(page):
    _analyse(page, SMOLLM2, ENGLISH)
    _open_tab(page, "2 · Embeddings")
    # The default model is SmolLM2 already: wait for this sentence, not the status line.
    heatmap = page.locator("#emb-similarity")
    heatmap.get_by_text("money").first.wait_for(timeout=180_000)
    _plot_has_canvas(page, "emb-plot")
    neighbours = page.locator("#emb-neighbours").inner_text()
    assert "nearest by input embedding" in neighbours
    page.screenshot(path=str(screenshot_dir() / "embeddings-smollm2-en.png"), full_page=True)


def test_korean_sentence_on_gemma_renders_with_korean_labels(page):
    _analyse(page, GEMMA3, KOREAN)
    page.get_by_label("한국어").check()
    _open_tab(page, "2 · 임베딩")
    _plot_has_canvas(page, "emb-plot", "[가-힣]")  # the Korean view, not the English one
    ticks = page.locator("#emb-similarity")
    ticks.get_by_text("1:배").first.wait_for(timeout=60_000)
    assert "\ufffd" not in ticks.inner_text()
    page.get_by_text("입력 임베딩 기준 가장 가까운 토큰").first.wait_for(timeout=60_000)
    page.locator("#emb-caveat").get_by_text("같은 단어는 언제나 같은 자리").wait_for(timeout=30_000)
    page.screenshot(path=str(screenshot_dir() / "embeddings-gemma-ko.png"), full_page=True)


# The sentence's points as the browser's plotly drew them (the last 3D trace), the
# neighbours table, and the request the live view last drew.
SPACE_STATE = """() => {
  const view = document.querySelector('.live-view[data-live="embeddings"]');
  const gd = document.querySelector('#emb-plot .js-plotly-plot');
  if (!view || !view.dataset.request || view.dataset.busy === '1') return null;
  if (!gd || !gd._fullData || !gd._fullData.length) return null;
  const tokens = gd._fullData[gd._fullData.length - 1];  // decoded arrays, as drawn
  const points = Array.from(tokens.x, (x, i) => [x, tokens.y[i], tokens.z[i]]);
  return {asked: JSON.parse(view.dataset.request), points, title: gd.layout.title.text,
          neighbours: document.querySelector('#emb-neighbours').innerText};
}"""


def test_a_layer_and_token_change_draw_that_layers_points_and_neighbours(page, app_url):
    from gradio_client import Client

    page.locator("#status").get_by_text("forward pass").wait_for(timeout=180_000)
    _open_tab(page, "2 · Embeddings")
    page.wait_for_function(
        f"() => {{ const s = ({SPACE_STATE})(); return s && s.points.length; }}", timeout=180_000
    )
    before = page.evaluate(SPACE_STATE)
    page.locator("#emb-rep input").click()
    page.get_by_role("option", name="after block 3", exact=True).click()
    page.wait_for_function(
        f"() => {{ const s = ({SPACE_STATE})(); return s && s.asked.representation === '3'; }}",
        timeout=180_000,
    )
    after = page.evaluate(SPACE_STATE)
    text = page.locator("#text textarea").input_value()
    model = page.get_by_label("Model").input_value().split(" ")[0]
    expected = Client(app_url, verbose=False).predict(model, text, 3, "pca", api_name="/embeddings")
    assert len(after["points"]) == len(expected["points"])
    for drawn, served in zip(after["points"], expected["points"], strict=True):
        assert drawn == pytest.approx(served, abs=1e-4)
    assert after["points"] != before["points"] and "3" in after["title"]
    page.locator("#emb-token input").click()
    page.get_by_role("option").nth(2).click()
    page.wait_for_function(
        f"() => {{ const s = ({SPACE_STATE})(); return s && s.asked.token === 2; }}",
        timeout=60_000,
    )
    assert page.evaluate(SPACE_STATE)["neighbours"] != after["neighbours"]
