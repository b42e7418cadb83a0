"""Classroom journeys in Chromium: language switch, a lesson step, shared links,
downloads, presentation mode, and a run with every non-local request blocked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import numpy as np
import pytest

from tests.conftest import REPO, screenshot_dir

pytestmark = pytest.mark.e2e

LESSONS = json.loads((REPO / "assets" / "lessons.json").read_text("utf-8"))["steps"]
STRINGS = json.loads((REPO / "assets" / "strings" / "page" / "app.json").read_text("utf-8"))
TAB_NAMES = ("tokenization", "embeddings", "attention", "block", "next_token")
DONE = re.compile("forward pass|순전파")
GEMMA = "google/gemma-3-270m"
SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"


def wait_analysed(page, text: str | None = None, timeout: float = 120_000) -> str:
    """Wait until the status line reports an analysis (of `text`'s model, if given)."""
    status = page.locator("#status")
    status.get_by_text(DONE).wait_for(timeout=timeout)
    if text:
        status.get_by_text(text).wait_for(timeout=timeout)
    return status.inner_text()


def new_page(browser, url: str, locale: str = "en-US"):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale=locale)
    page = context.new_page()
    page.goto(url)
    return page


def selected_tab(page) -> str:
    return page.locator("#panels [role=tab][aria-selected=true]").get_attribute("data-tab-id")


def query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def test_language_switch_shows_korean_labels(page):
    wait_analysed(page)
    page.get_by_label("한국어").check()
    ko = STRINGS["ko"]
    page.get_by_role("tab", name=ko["tab.attention"]).wait_for(timeout=90_000)
    for key, box in (("app.text", "#text"), ("app.model", "#model")):
        assert ko[key] in page.locator(box).inner_text()
    assert page.get_by_role("button", name=ko["app.analyze"], exact=True).is_visible()
    assert page.get_by_text(ko["app.presentation_mode"]).is_visible()
    assert page.get_by_role("tab", name=STRINGS["en"]["tab.attention"]).count() == 0
    page.wait_for_function("() => location.search.includes('lang=ko')", timeout=60_000)
    page.screenshot(path=str(screenshot_dir() / "classroom-korean.png"), full_page=True)


def test_korean_browser_starts_in_korean_on_a_korean_sentence(browser, app_url):
    page = new_page(browser, app_url, locale="ko-KR")
    try:
        status = wait_analysed(page, GEMMA)
        assert "순전파" in status
        assert re.search("[가-힣]", page.locator("#text textarea").input_value())
        assert page.get_by_role("tab", name=STRINGS["ko"]["tab.tokenization"]).is_visible()
    finally:
        page.context.close()


def test_one_lesson_step_end_to_end(page):
    wait_analysed(page)
    page.get_by_label("Lesson mode").check()
    step = next(s for s in LESSONS if s["id"] == "self_attention")
    index = LESSONS.index(step)
    page.locator("#lesson-step").get_by_text(step["title"]["en"]).click()
    body = page.locator("#lesson-body")
    body.get_by_text(step["title"]["en"]).wait_for(timeout=10_000)
    assert step["body"]["en"][:40] in body.inner_text()
    example = step["example"]["en"]
    page.locator("#lesson-try").click()
    page.wait_for_function(
        "t => document.querySelector('#text textarea').value === t", arg=example["text"]
    )
    words = len(example["text"].split())  # the new analysis has at least one token a word
    page.wait_for_function(
        """n => {
          const found = document.querySelector('#status').innerText.match(/read (\\d+) tokens/);
          return found && +found[1] >= n;
        }""",
        arg=words,
        timeout=120_000,
    )
    assert example["model"] in wait_analysed(page)
    assert selected_tab(page) == f"tab.{step['tab']}"
    page.locator("#attention-heatmap .js-plotly-plot").wait_for(timeout=60_000)
    state = query(page)
    assert (state["tab"], state["step"], state["lesson"]) == (step["tab"], str(index), "1")
    assert state["text"] == example["text"]


def test_shared_url_reopens_the_same_view(browser, app_url):
    text = "배가 고파서 배를 먹고 배를 타러 갔다."
    params = {"model": GEMMA, "text": text, "lang": "ko", "tab": "attention"}
    params |= {"present": "1", "layer": "3", "head": "1"}
    page = new_page(browser, f"{app_url}?{urlencode(params)}")
    try:
        wait_analysed(page, GEMMA)
        assert page.locator("#text textarea").input_value() == text
        assert selected_tab(page) == "tab.attention"
        assert page.evaluate("document.documentElement.classList.contains('presentation')")
        assert page.get_by_role(
            "button", name=STRINGS["ko"]["app.analyze"], exact=True
        ).is_visible()
        layer = page.locator("#attention-layer input[type=number]")
        page.wait_for_function(
            "() => document.querySelector('#attention-layer input[type=number]').value === '3'",
            timeout=30_000,
        )
        assert layer.input_value() == "3"
        page.get_by_role("tab", name=STRINGS["ko"]["tab.next_token"]).click()
        page.wait_for_function("() => location.search.includes('tab=next_token')")
        link = page.url
    finally:
        page.context.close()

    again = new_page(browser, link, locale="en-US")  # the link wins over the browser language
    try:
        wait_analysed(again, GEMMA)
        assert selected_tab(again) == "tab.next_token"
        assert again.locator("#text textarea").input_value() == text
        assert again.get_by_label("한국어").is_checked()
        again.wait_for_function(  # the attention panel applies the link's layer, off screen too
            "() => new URLSearchParams(location.search).get('layer') === '3'", timeout=60_000
        )
        assert query(again)["layer"] == "3"
    finally:
        again.context.close()


def test_json_export_matches_the_model(page, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from models.loading.bundled import prepared_path

    wait_analysed(page, "SmolLM2")
    page.get_by_role("tab", name="3 · Attention").click()
    layer = page.locator("#attention-layer input[type=number]")
    layer.fill("2")
    layer.press("Enter")  # the export holds the map on screen: layer 2, mean of heads
    page.wait_for_function(
        "() => { const gd = document.querySelector('#attention-heatmap .js-plotly-plot');"
        " return !!(gd && gd.layout && gd.layout.title.text.startsWith('Layer 2 ')); }",
        timeout=30_000,
    )
    page.locator("#export-json:not([disabled])").wait_for(timeout=30_000)
    with page.expect_download() as download:
        page.locator("#export-json").click()
    data = json.loads(Path(download.value.path()).read_text("utf-8"))
    text = page.locator("#text textarea").input_value()
    assert (data["model"], data["text"]) == (SMOLLM2, text)
    assert (data["attention"]["layer"], data["attention"]["head"]) == (2, -1)

    folder = prepared_path(SMOLLM2)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert [tok["id"] for tok in data["tokens"]] == tokenizer(text)["input_ids"]
    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager")
    import torch

    with torch.inference_mode():
        out = model(**tokenizer(text, return_tensors="pt"), output_attentions=True)
    attention = data["attention"]
    reference = out.attentions[attention["layer"]][0]  # [H, T, T]
    reference = reference.mean(0) if attention["head"] == -1 else reference[attention["head"]]
    np.testing.assert_allclose(np.array(attention["weights"]), reference.numpy(), atol=1e-4)
    probs = torch.softmax(out.logits[0, -1].double(), -1)
    best = data["next_token"]["candidates"][0]
    assert best["id"] == int(probs.argmax())
    assert best["prob"] == pytest.approx(float(probs.max()), abs=1e-4)

    with page.expect_download() as download:
        page.locator("#export-csv").click()
    rows = Path(download.value.path()).read_text("utf-8-sig").splitlines()
    assert len(rows) == len(data["tokens"]) + 1


def test_plot_downloads_as_png(page):
    wait_analysed(page)
    page.get_by_role("tab", name="3 · Attention").click()
    plot = page.locator("#attention-heatmap .js-plotly-plot")
    plot.wait_for(timeout=60_000)
    plot.hover()
    with page.expect_download() as download:
        plot.locator(".modebar-btn[data-title='Download plot as a PNG']").click()
    assert download.value.suggested_filename.endswith(".png")
    assert Path(download.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def panel_content(page, name: str):
    """Something each panel draws once its analysis is in: a plot or a filled table."""
    panel = page.locator(f"#tab-{name}")
    return panel.locator(".js-plotly-plot, table tbody tr").first


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_offline_every_panel_renders_in_presentation_mode(browser, app_url, lang):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    outside: list[str] = []
    local = urlparse(app_url).netloc

    def only_local(route):
        url = urlparse(route.request.url)
        if url.scheme in ("data", "blob") or url.netloc == local:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    try:
        model = SMOLLM2 if lang == "en" else GEMMA
        text = "The teacher taught the student with the book." if lang == "en" else None
        params = {"lang": lang, "present": "1", "model": model}
        params |= {"text": text or "나는 최근 파리 여행을 다녀왔다"}
        page.goto(f"{app_url}?{urlencode(params)}")
        wait_analysed(page, model.split("/")[-1])
        assert page.evaluate("document.documentElement.classList.contains('presentation')")
        size = page.evaluate(
            "parseFloat(getComputedStyle(document.querySelector('#status p')).fontSize)"
        )
        assert size >= 20, "presentation mode should enlarge the text"
        for name in TAB_NAMES:
            page.locator(f"#tab-{name}-button").click()
            panel_content(page, name).wait_for(timeout=90_000)
            page.wait_for_timeout(1500)  # let plotly finish laying out
            assert page.locator(".toast-body.error").count() == 0
            fonts = page.evaluate(
                "n => [...document.querySelectorAll(`#tab-${n} .js-plotly-plot`)]"
                ".filter(p => p.offsetParent && p._fullLayout).map(p => p._fullLayout.font.size)",
                name,
            )
            assert all(size >= 20 for size in fonts), f"plot fonts not enlarged: {fonts}"
            shot = screenshot_dir() / f"presentation-{lang}-{name}.png"
            page.screenshot(path=str(shot), full_page=True)
        assert outside == [], f"the page asked for {outside}"
    finally:
        context.close()
