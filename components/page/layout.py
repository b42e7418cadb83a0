"""Page-wide wiring: the top bar (title, language, lesson and presentation modes,
copy link), the shared URL, and what happens when the page opens (show the view
the URL asks for at once, then analyse it; the panels apply the URL's settings).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.page import input_row as shell
from components.page import lesson
from components.page.context import PanelContext, cancel_each_other, wanted_values
from components.page.i18n import LANGUAGES, t
from components.page.share import language_from_header, tab_id, truthy, wire_url_writer
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
COPY_LINK_JS = """() => {
  if (navigator.clipboard) navigator.clipboard.writeText(location.href).catch(() => {});
  const note = document.querySelector("#link-copied");
  if (note) {
    note.classList.add("shown");
    setTimeout(() => note.classList.remove("shown"), 2500);
  }
  return [];
}"""


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
class TopBar:
    """The page-level controls above the input row."""

    lang: gr.Radio
    lesson_on: gr.Checkbox
    presentation: gr.Checkbox
    copy_link: gr.Button
    copied: gr.Markdown


@dataclass
class Page:
    """The page-level controls around the panels."""

    top: TopBar
    lesson_bar: lesson.LessonBar
    tabs: gr.Tabs | None = None
    current_tab: gr.Textbox | None = None

    @property
    def presentation(self) -> gr.Checkbox:
        return self.top.presentation

    @property
    def lesson_on(self) -> gr.Checkbox:
        return self.top.lesson_on


def build_top() -> TopBar:
    """One compact line: the title, the language, the two modes and Copy link."""
    with gr.Row(elem_id="top-bar", equal_height=True):
        gr.HTML(f"<h1 id='app-title'>{t('app.title')}</h1>", elem_id="title-box", scale=0)
        lang = gr.Radio(
            [("English", "en"), ("한국어", "ko")],
            value="en",
            show_label=False,
            container=False,
            scale=0,
            min_width=230,
            elem_id="lang",
        )
        lesson_on = gr.Checkbox(
            label=t("app.lesson_mode"),
            container=False,
            scale=0,
            min_width=150,
            elem_id="lesson-mode",
        )
        presentation = gr.Checkbox(
            label=t("app.presentation_mode"),
            container=False,
            scale=0,
            min_width=170,
            elem_id="presentation-mode",
        )
        copy_link = gr.Button(
            t("app.copy_link"), size="sm", scale=0, min_width=150, elem_id="copy-link"
        )
        copied = gr.Markdown(t("app.link_copied"), elem_id="link-copied", container=False)
    return TopBar(lang, lesson_on, presentation, copy_link, copied)


def build_header(ctx: PanelContext, top: TopBar) -> Page:
    """Register the top bar's strings and behaviour, and build the lesson bar."""
    ctx.tr(top.lesson_on, "app.lesson_mode", "label")
    ctx.tr(top.presentation, "app.presentation_mode", "label")
    ctx.tr(top.copy_link, "app.copy_link")
    ctx.tr(top.copied, "app.link_copied")
    top.presentation.change(None, top.presentation, None, js=PRESENTATION_JS, queue=False)
    top.copy_link.click(None, None, None, js=COPY_LINK_JS, queue=False)
    return Page(top, lesson.build(ctx, top.lesson_on))


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


def view_from_url(params: dict, accept_language: str | None, shared: list[str]) -> dict:
    """What a link asks for: model, text, pair, lang, tab, modes, step, panel settings.

    The panel settings (`shared` names present in the URL) go into the session key,
    so the panels apply them once their controls fit the new analysis.
    """
    lang = params.get("lang") if params.get("lang") in LANGUAGES else None
    lang = lang or language_from_header(accept_language)
    model, text = params.get("model"), params.get("text")
    if lang == "ko" and not model and not text:  # a Korean visitor starts on Korean text
        model, text = KOREAN_DEFAULT_MODEL, KOREAN_DEFAULT_TEXT
    step = params.get("step", "")
    return {
        "model": model or shell.DEFAULT_MODEL,
        "text": shell.DEFAULT_TEXT if text is None else text,
        "pair": params.get("pair", ""),
        "lang": lang,
        "tab": params.get("tab") if tab_id(params.get("tab")) else None,
        "present": truthy(params.get("present")),
        "lesson": truthy(params.get("lesson")),
        "step": lesson.steps().index(lesson.step_at(step)) if step.isdigit() else None,
        "wanted": {name: params[name] for name in shared if name in params},
    }


def show_view(ctx: PanelContext, request: gr.Request) -> tuple:
    """The page load, first half (instant): inputs, language, tab and modes from the URL,
    and the link's panel settings, kept for the second half (by then the URL writer has
    already put the controls' current values into the address bar)."""
    view = view_from_url(
        dict(request.query_params), request.headers.get("accept-language"), list(ctx.shared)
    )
    tab, step = view["tab"], view["step"]
    return (
        view["model"],
        view["text"],
        view["pair"],
        view["lang"],
        gr.Tabs(selected=tab_id(tab)) if tab else gr.update(),
        tab if tab else gr.update(),
        view["present"],
        view["lesson"],
        gr.update() if step is None else gr.update(value=step),
        view["wanted"],
    )


def analyse_view(model, text, pair, lang, wanted: dict, progress=None) -> tuple:
    """The page load, second half: analyse what is now in the inputs; the link's panel
    settings (`wanted`, read by the first half) ride in the new key, so each panel
    applies its own."""
    return shell.analyse(model, text, pair, lang, [], wanted or {}, progress)


def wire_sections(ctx: PanelContext) -> None:
    """A new key may ask for accordions to open (a lesson step's "open" list)."""
    if not ctx.sections:
        return
    names = list(ctx.sections)

    def open_asked(key):
        asked = wanted_values(key).get("open") or []
        return [gr.update(open=True) if name in asked else gr.update() for name in names]

    ctx.key.change(
        open_asked, ctx.key, list(ctx.sections.values()), queue=False, api_visibility="private"
    )


def wire(demo: gr.Blocks, ctx: PanelContext, page: Page) -> None:
    """Page load, the URL writer, lesson navigation, copy-link note, accordions."""
    inputs = [ctx.model, ctx.text, ctx.text_pair, ctx.lang]
    view = inputs + [page.tabs, page.current_tab, page.presentation, page.lesson_on]
    link_settings = gr.State({})
    view += [page.lesson_bar.step, link_settings]

    def show_loaded(request: gr.Request):
        return show_view(ctx, request)

    def analyse_loaded(model, text, pair, lang, wanted, progress=gr.Progress()):
        return analyse_view(model, text, pair, lang, wanted, progress)

    demo.load(show_loaded, None, view, queue=False, api_visibility="private").then(
        analyse_loaded, [*inputs, link_settings], [ctx.key, ctx.status], api_visibility="private"
    )
    wire_url_writer(url_controls(ctx, page))
    lesson.wire_steps(ctx, page.lesson_bar, page.tabs, page.current_tab)
    wire_sections(ctx)
    cancel_each_other(ctx)
