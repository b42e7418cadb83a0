"""Page-wide wiring: the intro line, lesson and presentation modes, the shared URL,
and what happens when the page opens (restore the view, then analyse it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.page import input_row as shell
from components.page import lesson
from components.page.context import PanelContext
from components.page.i18n import LANGUAGES, t
from components.page.share import (
    language_from_header,
    restore_controls,
    tab_id,
    truthy,
    wire_url_writer,
)
from models.loading.catalog import KOREAN_DEFAULT_MODEL

ASSETS = Path(__file__).resolve().parents[2] / "assets"
KOREAN_DEFAULT_TEXT = "나는 최근 파리 여행을 다녀왔다"
SYSTEM_FONTS = (
    "Noto Sans",
    "Noto Sans CJK KR",
    "Apple SD Gothic Neo",
    "Malgun Gothic",
    "system-ui",
    "sans-serif",
)
MONO_FONTS = ("ui-monospace", "Menlo", "Consolas", "Noto Sans Mono CJK KR", "monospace")
PRESENTATION_JS = """(on) => {
  document.documentElement.classList.toggle("presentation", !!on);
  window.dispatchEvent(new Event("resize"));
  return [];
}"""
COPY_LINK_JS = "() => { navigator.clipboard && navigator.clipboard.writeText(location.href); }"


def launch_kwargs() -> dict:
    """theme / css / head for `launch()` (Gradio 6 takes them there, not in Blocks).

    The theme names installed fonts only: Gradio's default fetches web fonts, and
    the page must make no request beyond its own server.
    """
    theme = gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)
    return {
        "theme": theme,
        "css": (ASSETS / "style.css").read_text(encoding="utf-8"),
        "js": (ASSETS / "presentation.js").read_text(encoding="utf-8"),
    }


@dataclass
class Page:
    """The page-level controls around the panels."""

    lesson_on: gr.Checkbox
    presentation: gr.Checkbox
    lesson_bar: lesson.LessonBar | None = None
    tabs: gr.Tabs | None = None
    current_tab: gr.Textbox | None = None


def build_header(ctx: PanelContext) -> Page:
    """The first-visit sentence, the mode switches and the lesson bar."""
    with gr.Row(elem_id="modes"):
        lesson_on = gr.Checkbox(
            label=t("app.lesson_mode"), elem_id="lesson-mode", scale=0, min_width=260
        )
        presentation = gr.Checkbox(
            label=t("app.presentation_mode"), elem_id="presentation-mode", scale=0, min_width=300
        )
        copy_link = gr.Button(
            t("app.copy_link"), size="sm", elem_id="copy-link", scale=0, min_width=240
        )
    ctx.tr(lesson_on, "app.lesson_mode", "label")
    ctx.tr(presentation, "app.presentation_mode", "label")
    ctx.tr(copy_link, "app.copy_link")
    presentation.change(None, presentation, None, js=PRESENTATION_JS, queue=False)
    copy_link.click(None, None, None, js=COPY_LINK_JS, queue=False)
    page = Page(lesson_on, presentation)
    page.lesson_bar = lesson.build(ctx, lesson_on)
    return page


def track_tabs(page: Page, tabs: gr.Tabs, tab_items: dict[str, gr.Tab]) -> None:
    """Remember which tab is open (a hidden textbox the URL writer can read).

    `tab_items` maps the URL name of each tab ("attention") to its gr.Tab.
    """
    page.tabs = tabs
    page.current_tab = gr.Textbox(next(iter(tab_items)), visible="hidden", elem_id="current-tab")
    for name, tab in tab_items.items():
        tab.select(None, None, page.current_tab, js=f"() => {json.dumps(name)}", queue=False)


def url_controls(ctx: PanelContext, page: Page) -> dict:
    """URL parameter name -> component, the page's own first, then the panels'."""
    own = {
        "model": ctx.model,
        "text": ctx.text,
        "pair": ctx.text_pair,
        "lang": ctx.lang,
        "tab": page.current_tab,
        "present": page.presentation,
        "lesson": page.lesson_on,
        "step": page.lesson_bar.step,
    }
    return own | {name: c for name, c in ctx.shared.items() if name not in own}


def restore_view(params: dict, accept_language: str | None) -> tuple:
    """Page-level values from the URL (and the browser's language when none is given)."""
    lang = params.get("lang") if params.get("lang") in LANGUAGES else None
    lang = lang or language_from_header(accept_language)
    model, text = params.get("model"), params.get("text")
    if lang == "ko" and not model and not text:  # a Korean visitor starts on Korean text
        model, text = KOREAN_DEFAULT_MODEL, KOREAN_DEFAULT_TEXT
    tab = tab_id(params.get("tab"))
    step = params.get("step", "")
    step = gr.update(value=lesson.steps().index(lesson.step_at(step))) if step.isdigit() else None
    return (
        gr.update(value=model) if model else gr.update(),
        gr.update(value=text) if text else gr.update(),
        gr.update(value=params["pair"]) if "pair" in params else gr.update(),
        lang,
        gr.Tabs(selected=tab) if tab else gr.update(),
        gr.update(value=params["tab"]) if tab else gr.update(),
        truthy(params.get("present")),
        truthy(params.get("lesson")),
        step or gr.update(),
    )


def wire(demo: gr.Blocks, ctx: PanelContext, page: Page) -> None:
    """Page load (restore, analyse, re-apply panel settings), the URL writer, lessons."""
    shared = dict(ctx.shared)
    shared_outputs = list(shared.values())

    def restore(request: gr.Request):
        params = dict(request.query_params)
        view = restore_view(params, request.headers.get("accept-language"))
        return (*view, *restore_controls(params, shared))

    def reapply(request: gr.Request):
        return restore_controls(dict(request.query_params), shared)

    view_outputs = [ctx.model, ctx.text, ctx.text_pair, ctx.lang, page.tabs, page.current_tab]
    view_outputs += [page.presentation, page.lesson_on, page.lesson_bar.step]
    analysis_io = ([ctx.model, ctx.text, ctx.text_pair, ctx.lang], [ctx.key, ctx.status])
    loading = demo.load(restore, None, view_outputs + shared_outputs, api_visibility="private")
    loading = loading.then(shell.run_analysis, *analysis_io, api_visibility="private")
    if shared_outputs:  # panels may reset their controls for a new analysis: set them again
        loading.then(reapply, None, shared_outputs, api_visibility="private")

    wire_url_writer(url_controls(ctx, page))
    bar = page.lesson_bar
    example = bar.run.click(
        lesson.example_updates,
        [bar.step, ctx.lang],
        [ctx.model, ctx.text, ctx.text_pair, page.tabs, page.current_tab],
        queue=False,
        api_visibility="private",
    ).then(shell.run_analysis, *analysis_io, concurrency_limit=4, api_visibility="private")
    if shared_outputs:
        example.then(
            lambda index: lesson.control_updates(index, list(shared), shared),
            bar.step,
            shared_outputs,
            api_visibility="private",
        )
