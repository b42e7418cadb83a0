"""A teacher's journeys in Chromium, each checked on what the page shows: the whole
lesson in both languages (also clicked through quickly), a shared link per tab with
non-default settings, the Examples list, Enter, a failed model id, and the Korean UI."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest

from tests.conftest import REPO, screenshot_dir

pytestmark = pytest.mark.e2e

LESSONS = json.loads((REPO / "assets" / "lessons.json").read_text("utf-8"))["steps"]
STRINGS = json.loads((REPO / "assets" / "strings" / "page" / "app.json").read_text("utf-8"))
EXAMPLES = json.loads((REPO / "assets" / "examples.json").read_text("utf-8"))
GEMMA = "google/gemma-3-270m"
SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TOKENS_READ = r"(?:read \*?\*?(\d+)\*?\*? tokens?|(\d+)개 토큰을 읽었습니다)"


def open_page(browser, url: str, locale: str = "en-US", size=(1400, 1000)):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale=locale)
    page = context.new_page()
    page.goto(url)
    return page


def status_of(page, model: str, text: str | None = None, timeout: float = 150_000) -> str:
    """Wait until the status line reports an analysis of `model` (and, given `text`,
    until the text box holds it), with no progress showing; returns the status."""
    page.wait_for_function(
        """([model, text]) => {
          const status = document.querySelector('#status');
          const box = document.querySelector('#text textarea');
          if (!status || !box || status.querySelector('.eta-bar, .progress-text')) return false;
          const said = status.innerText;
          return said.includes(model) && /forward pass|순전파/.test(said)
            && (text === null || box.value === text);
        }""",
        arg=[model, text],
        timeout=timeout,
    )
    return page.locator("#status").inner_text()


def plot_title(page, selector: str, needle: str, timeout: float = 90_000) -> str:
    """Wait until the plot in `selector` is drawn with a title containing `needle`."""
    page.wait_for_function(
        """([selector, needle]) => {
          const plot = document.querySelector(selector + ' .js-plotly-plot');
          const layout = plot && plot._fullLayout;
          const title = layout && layout.title && layout.title.text;
          return !!title && title.includes(needle) && plot.getBoundingClientRect().height > 50;
        }""",
        arg=[selector, needle],
        timeout=timeout,
    )
    return page.evaluate(
        "s => document.querySelector(s + ' .js-plotly-plot')._fullLayout.title.text", selector
    )


def selected_tab(page) -> str:
    return page.locator("#panels [role=tab][aria-selected=true]").get_attribute("data-tab-id")


def value_of(page, selector: str) -> str:
    return page.locator(selector).first.input_value()


def no_error_badges(page) -> None:
    toasts = page.locator(".toast-body.error")
    assert toasts.count() == 0, toasts.all_inner_texts()
    badges = page.locator("span.error:visible, .error-badge:visible")
    assert badges.count() == 0, badges.all_inner_texts()


def check_step(page, step: dict, lang: str) -> None:
    """Everything a step promises is on screen: example, tab, settings, view."""
    example = step["example"].get(lang) or step["example"]["en"]
    status_of(page, example["model"], example["text"])
    assert selected_tab(page) == f"tab.{step['tab']}"
    controls = step.get("controls", {})
    if step["tab"] == "attention":
        layer = controls.get("layer", None)
        if layer is not None:
            page.wait_for_function(
                "v => document.querySelector('#attention-layer input[type=number]').value === v",
                arg=str(layer),
                timeout=30_000,
            )
        head = controls.get("head")
        needle = {None: "", -1: "", 0: "0"}.get(head, str(head))
        title = plot_title(page, "#attention-heatmap", needle)
        if layer is not None:  # the slider moves first; the heatmap follows in its chain
            page.wait_for_function(
                """pattern => {
                  const plot = document.querySelector('#attention-heatmap .js-plotly-plot');
                  const title = plot && plot._fullLayout && plot._fullLayout.title.text;
                  return !!title && new RegExp(pattern).test(title);
                }""",
                arg=rf"\b{layer}\b",
                timeout=90_000,
            )
            title = plot_title(page, "#attention-heatmap", needle)
            assert re.search(rf"\b{layer}\b", title), title
    if step["tab"] == "embeddings":
        rep = {"token": ("token", "토큰"), "input": ("position", "위치")}[controls["emb_layer"]]
        title = plot_title(page, "#emb-plot", "")
        assert any(word in title for word in rep), title
        assert any(word in value_of(page, "#emb-rep input") for word in rep)
    if step["tab"] == "next_token":
        plot_title(page, "#nt-bars", "")
        assert float(value_of(page, "#nt-temperature input[type=number]")) == 1.0
    if "emb_positions" in step.get("open", []):
        page.locator("#emb-positions .js-plotly-plot").first.wait_for(timeout=60_000)
    if "walkthrough" in step.get("open", []):
        page.locator("#qk-figure .js-plotly-plot").wait_for(timeout=60_000)
    if "why" in step.get("open", []):
        page.locator("#why-layers .js-plotly-plot").wait_for(timeout=60_000)
    no_error_badges(page)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_whole_lesson_runs_end_to_end(browser, app_url, lang):
    page = open_page(browser, f"{app_url}?lesson=1&lang={lang}")
    try:
        page.locator("#lesson-try").click()
        for number, step in enumerate(LESSONS):
            check_step(page, step, lang)
            page.screenshot(path=str(screenshot_dir() / f"lesson-{lang}-{number + 1}.png"))
            if number < len(LESSONS) - 1:
                page.locator("#lesson-next").click()
    finally:
        page.context.close()


def test_quick_clicks_end_on_the_last_step_with_its_settings(browser, app_url):
    page = open_page(browser, f"{app_url}?lesson=1&lang=en")
    try:
        status_of(page, SMOLLM2)
        # four clicks in one go, before any answer (from step 1 to step 5, "multi-head":
        # layer 3, head 0): each one counts, whatever the server is still doing
        page.evaluate(
            "() => { const next = document.querySelector('#lesson-next');"
            " for (let i = 0; i < 4; i++) next.click(); }"
        )
        multi_head = next(s for s in LESSONS if s["id"] == "multi_head")
        page.wait_for_function(
            "() => document.querySelector('#lesson-body').innerText.includes('5 / ')",
            timeout=120_000,
        )
        check_step(page, multi_head, "en")
        page.locator("#lesson-try").click()  # Load again, twice, quickly
        page.locator("#lesson-try").click()
        check_step(page, multi_head, "en")
    finally:
        page.context.close()


SHARED_LINKS = {
    "tokenization": {"special": "0"},
    "embeddings": {"emb_layer": "5", "emb_token": "3", "emb_paths": "one"},
    "attention": {"layer": "4", "head": "2", "hide": "1"},
    "next_token": {"temperature": "0.5", "top_k": "5"},
}


@pytest.mark.parametrize("tab", list(SHARED_LINKS))
def test_a_shared_link_restores_every_setting_of_its_tab(browser, app_url, tab):
    text = "I sat on the river bank and then went to the bank."
    params = {"model": SMOLLM2, "text": text, "tab": tab} | SHARED_LINKS[tab]
    page = open_page(browser, f"{app_url}?{urlencode(params)}")
    try:
        status_of(page, SMOLLM2, text)
        assert selected_tab(page) == f"tab.{tab}"
        if tab == "tokenization":
            page.wait_for_function(
                "() => !document.querySelector('#tok-show-special input').checked"
            )
            chips = page.locator("#tok-chips .tok-chip")
            chips.first.wait_for(timeout=30_000)
            assert page.locator("#tok-chips .tok-special").count() == 0
        if tab == "embeddings":
            title = plot_title(page, "#emb-plot", "")
            assert "5" in value_of(page, "#emb-rep input") and "3:" in value_of(
                page, "#emb-token input"
            )
            assert "block 30" in title  # a path through every layer
        if tab == "attention":
            title = plot_title(page, "#attention-heatmap", "2")
            assert re.search(r"\b4\b", title), title
            assert page.locator("#attention-hide input").is_checked()
        if tab == "next_token":
            plot_title(page, "#nt-bars", "")
            assert float(value_of(page, "#nt-temperature input[type=number]")) == 0.5
            assert value_of(page, "#nt-top-k input[type=number]") == "5"
            kept = page.evaluate(
                "() => document.querySelector('#nt-bars .js-plotly-plot').data"
                ".filter(t => t.type === 'bar').map(t => t.y.length)"
            )
            assert kept and min(kept) <= 5, kept
        for name, value in SHARED_LINKS[tab].items():  # and the page writes them back
            page.wait_for_function(
                "([n, v]) => new URLSearchParams(location.search).get(n) === v || v === '0'",
                arg=[name, value],
            )
        no_error_badges(page)
    finally:
        page.context.close()


def test_an_example_analyses_at_once_and_enter_analyses(page):
    status_of(page, SMOLLM2)
    korean = next(e for e in EXAMPLES if e["model"] == GEMMA)
    page.locator("#examples input").click()
    page.get_by_role("option", name=re.compile(re.escape(korean["text"]))).click()
    status_of(page, GEMMA, korean["text"])
    box = page.locator("#text textarea")
    box.fill("Paris is the capital of")
    box.press("Shift+Enter")
    assert box.input_value() == "Paris is the capital of\n"  # Shift+Enter: a new line
    box.fill("Paris is the capital of")
    model = page.locator("#model input")
    model.fill(SMOLLM2)
    model.press("Enter")
    box.press("Enter")
    status_of(page, SMOLLM2, "Paris is the capital of")


def test_a_failed_model_id_says_what_is_still_on_screen(page):
    shown = status_of(page, SMOLLM2)
    tokens = re.search(TOKENS_READ, shown).group(1)
    model = page.locator("#model input")
    model.fill("no/such-model-here")
    model.press("Enter")
    page.locator("#analyze").click()
    page.locator("#status").get_by_text("could not be analysed").wait_for(timeout=60_000)
    status = page.locator("#status").inner_text()
    assert "no/such-model-here" in status and SMOLLM2 in status and tokens in status
    no_error_badges(page)


def test_switching_to_korean_translates_the_whole_first_screen(page):
    status_of(page, SMOLLM2)
    page.get_by_label("한국어").check()
    page.wait_for_function(
        "() => document.querySelector('#status').innerText.includes('순전파')", timeout=30_000
    )
    assert "디코더" in page.locator("#status").inner_text()
    ko = STRINGS["ko"]
    assert page.get_by_text(ko["app.examples"], exact=True).is_visible()
    page.locator("#model input").click()
    options = page.get_by_role("option").all_inner_texts()
    assert any("내장" in o for o in options), options
    page.keyboard.press("Escape")
    page.locator("#tab-attention-button").click()
    assert page.get_by_text("Q·K 단계별 계산").is_visible()
    page.screenshot(path=str(screenshot_dir() / "journey-korean-first-screen.png"))
