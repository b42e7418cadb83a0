"""The first screen shows the model at work, presentation mode grows what a room must
read, and a phone still gets every tab: measured in Chromium."""

from __future__ import annotations

import pytest

from tests.conftest import screenshot_dir
from tests.e2e.test_journeys import SMOLLM2, open_page, plot_title, status_of

pytestmark = pytest.mark.e2e

TAB_IDS = ("tokenization", "embeddings", "attention", "next_token")


def box(page, selector: str) -> dict:
    found = page.locator(selector).first.bounding_box()
    assert found, f"{selector} is not drawn"
    return found


@pytest.mark.parametrize("size", [(1400, 1000), (1920, 1080)])
def test_the_main_figure_is_on_the_first_screen(browser, app_url, size):
    page = open_page(browser, f"{app_url}?tab=attention", size=size)
    try:
        status_of(page, SMOLLM2)
        plot_title(page, "#attention-heatmap", "")
        heatmap = box(page, "#attention-heatmap .js-plotly-plot")
        assert heatmap["y"] + heatmap["height"] / 2 < size[1], heatmap  # its middle is in view
        page.screenshot(path=str(screenshot_dir() / f"first-screen-{size[0]}.png"))
        page.mouse.wheel(0, 1500)
        page.wait_for_function("() => window.scrollY > 500")
        tabs = box(page, "#panels [role=tablist]")
        assert -1 <= tabs["y"] <= 10, tabs  # the tab names stay at the top while scrolling
    finally:
        page.context.close()


def test_opening_a_head_from_the_overview_brings_its_heatmap_into_view(browser, app_url):
    page = open_page(browser, f"{app_url}?tab=attention")
    try:
        status_of(page, SMOLLM2)
        cell = page.locator("#attention-overview [role=gridcell][data-row='2'][data-col='4']")
        cell.scroll_into_view_if_needed()
        cell.click()
        title = plot_title(page, "#attention-heatmap", "head 3")
        assert "2" in title
        page.wait_for_function(
            """() => {
              const r = document.querySelector('#attention-heatmap').getBoundingClientRect();
              return r.top >= 0 && r.top < window.innerHeight * 0.8;
            }""",
            timeout=10_000,
        )
    finally:
        page.context.close()


# The live heatmap as drawn: how many answers it has drawn, its font size and title.
DRAWN_FONT = """() => {
  const view = document.querySelector('.live-view[data-live="attention"]');
  const gd = document.querySelector('#attention-heatmap .js-plotly-plot');
  return {drawn: Number(view.dataset.drawn || 0), font: gd._fullLayout.font.size,
          title: gd._fullLayout.title.text};
}"""


def test_presentation_mode_grows_chips_controls_and_plots(browser, app_url):
    page = open_page(browser, f"{app_url}?tab=attention", size=(1920, 1080))
    try:
        status_of(page, SMOLLM2)
        plot_title(page, "#attention-heatmap", "")
        height = box(page, "#attention-heatmap .js-plotly-plot")["height"]
        page.get_by_label("Presentation mode").check()
        page.wait_for_function(
            "h => document.querySelector('#attention-heatmap .js-plotly-plot')"
            ".getBoundingClientRect().height > h * 1.3",
            arg=height,
            timeout=20_000,
        )
        checkbox = box(page, "#attention-hide input")
        assert checkbox["width"] >= 24
        # a redraw while presenting is drawn large at once, never small first
        drawn = page.evaluate(DRAWN_FONT)["drawn"]
        number = page.locator("#attention-layer input[type=number]")
        number.fill("4")
        number.press("Enter")
        page.wait_for_function(
            f"d => {{ const s = ({DRAWN_FONT})();"
            " return s.drawn > d && s.title.includes('Layer 4'); }",
            arg=drawn,
            timeout=60_000,
        )
        assert page.evaluate(DRAWN_FONT)["font"] >= 20
        page.get_by_label("Presentation mode").uncheck()
        page.wait_for_function(f"() => ({DRAWN_FONT})().font < 20", timeout=20_000)
        page.get_by_label("Presentation mode").check()
        page.wait_for_function(f"() => ({DRAWN_FONT})().font >= 20", timeout=20_000)
        page.locator("#tab-tokenization-button").click()
        page.locator("#tok-chips .tok-chip").first.wait_for()
        sizes = page.evaluate(
            """() => ['.tok-text', '.tok-id'].map(s => parseFloat(
                 getComputedStyle(document.querySelector('#tok-chips ' + s)).fontSize))"""
        )
        assert sizes[0] >= 28 and sizes[1] >= 16, sizes
        page.screenshot(path=str(screenshot_dir() / "presentation-1920-tokenization.png"))
    finally:
        page.context.close()


def test_a_phone_stacks_the_input_row_and_shows_every_tab(browser, app_url):
    page = open_page(browser, app_url, size=(390, 844))
    try:
        status_of(page, SMOLLM2)
        model, text = box(page, "#model"), box(page, "#text")
        assert text["y"] >= model["y"] + model["height"] - 1  # stacked, not side by side
        for name in TAB_IDS:
            button = box(page, f"#tab-{name}-button")
            assert button["width"] > 20 and button["x"] + button["width"] <= 391, (name, button)
        page.screenshot(path=str(screenshot_dir() / "phone.png"), full_page=True)
    finally:
        page.context.close()
