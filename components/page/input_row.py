"""The shared input row: model picker, text boxes, examples, language and Analyze."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from components.page.context import PanelContext, analysis_for, reserve_language_switch
from components.page.i18n import t
from models.loading import catalog
from models.loading.catalog import DEFAULT_MODEL
from models.results import AnalysisKey

EXAMPLES_FILE = Path(__file__).resolve().parents[2] / "assets" / "examples.json"
DEFAULT_TEXT = "The capital of France is"


def examples() -> list[list[str]]:
    """[model, text] rows: English on SmolLM2, Korean on Gemma-3 (which reads Korean)."""
    return [[e["model"], e["text"]] for e in json.loads(EXAMPLES_FILE.read_text("utf-8"))]


def model_choices() -> list[tuple[str, str]]:
    """Dropdown choices: bundled first, then suggested Hub ids; labels name the source."""
    return catalog.model_choices()


def status_line(key: list, lang: str) -> str:
    """One sentence saying what was analysed."""
    if not key:
        return t("app.status_idle", lang)
    analysis = analysis_for(key, lang)
    return t(
        "app.status_ready",
        lang,
        model=analysis.model_id,
        family=analysis.family,
        layers=analysis.n_layers,
        heads=analysis.n_heads,
        tokens=analysis.n_tokens,
    )


def run_analysis(model: str, text: str, text_pair: str, lang: str, progress=gr.Progress()):
    """The Analyze action: one forward pass (cached), returns the key and a status."""
    key = list(AnalysisKey.of(model, text, text_pair))

    def report(step: str) -> None:
        progress(None, desc=t("progress.loading", lang, step=step))

    analysis_for(key, lang, progress=report)
    return key, status_line(key, lang)


def build() -> PanelContext:
    """Create the input row; returns the components the panels read."""
    with gr.Row(equal_height=False):
        model = gr.Dropdown(
            model_choices(),
            value=DEFAULT_MODEL,
            label=t("app.model"),
            info=t("app.model_info"),
            allow_custom_value=True,
            scale=2,
        )
        lang = gr.Radio(
            [("English", "en"), ("한국어", "ko")],
            value="en",
            label=t("app.language"),
            scale=1,
            elem_id="lang",
        )
    with gr.Row(equal_height=False):
        text = gr.Textbox(DEFAULT_TEXT, label=t("app.text"), lines=2, scale=3, elem_id="text")
        text_pair = gr.Textbox(
            "",
            label=t("app.text_pair"),
            info=t("app.text_pair_info"),
            lines=2,
            scale=2,
            elem_id="text-pair",
        )
    analyze = gr.Button(t("app.analyze"), variant="primary", elem_id="analyze")
    gr.Examples(examples(), inputs=[model, text], label=t("app.examples"))
    status = gr.Markdown(t("app.status_idle"), elem_id="status")
    key = gr.State([])
    analyze.click(
        run_analysis,
        [model, text, text_pair, lang],
        [key, status],
        concurrency_limit=4,
        api_visibility="private",
    )
    text.submit(
        run_analysis,
        [model, text, text_pair, lang],
        [key, status],
        concurrency_limit=4,
        api_visibility="private",
    )
    ctx = PanelContext(model, text, text_pair, lang, key, analyze, status)
    reserve_language_switch(ctx)
    ctx.tr(model, "app.model", "label")
    ctx.tr(model, "app.model_info", "info")
    ctx.tr(lang, "app.language", "label")
    ctx.tr(text, "app.text", "label")
    ctx.tr(text_pair, "app.text_pair", "label")
    ctx.tr(text_pair, "app.text_pair_info", "info")
    ctx.tr(analyze, "app.analyze")
    return ctx
