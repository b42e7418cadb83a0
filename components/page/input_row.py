"""The shared input row: model picker, text boxes, examples and Analyze, in one line,
with the status line under it saying which analysis is on screen."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gradio as gr

from components.page.context import (
    PanelContext,
    analysis_for,
    reserve_language_switch,
    session_key,
)
from components.page.i18n import t
from models.loading.catalog import BUNDLED, DEFAULT_MODEL, SUGGESTED, source_kind

EXAMPLES_FILE = Path(__file__).resolve().parents[2] / "assets" / "examples.json"
DEFAULT_TEXT = "The capital of France is"


def examples() -> list[list[str]]:
    """[model, text] rows: English on SmolLM2, Korean on Gemma-3 (which reads Korean)."""
    return [[e["model"], e["text"]] for e in json.loads(EXAMPLES_FILE.read_text("utf-8"))]


def example_choices() -> list[tuple[str, int]]:
    """Dropdown choices: "text · model name", valued by the example's index."""
    return [(f"{text}  · {model.split('/')[-1]}", i) for i, (model, text) in enumerate(examples())]


def model_choices(lang: str = "en") -> list[tuple[str, str]]:
    """Dropdown choices: bundled first (marked), then suggested Hub ids, in `lang`."""

    def label(entry) -> str:
        family = t(f"family.{entry.family}", lang)
        source = source_kind(entry)  # where it loads from on this server, in English
        return f"{entry.id}  · {family} · {t(f'source.{source}', lang) if lang != 'en' else source}"

    return [(label(e), e.id) for e in BUNDLED + SUGGESTED]


MARKDOWN_SIGNS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>])")


def plain(text: str) -> str:
    """`text` with Markdown's signs escaped: a model id or an error message in the
    status line shows as typed (``![x](https://...)`` must not load an image)."""
    return MARKDOWN_SIGNS.sub(r"\\\1", text)


def status_line(key: list, lang: str) -> str:
    """One sentence saying which analysis the panels show."""
    if not key:
        return t("app.status_idle", lang)
    analysis = analysis_for(key, lang)
    return t(
        "app.status_ready",
        lang,
        model=plain(analysis.model_id),
        family=t(f"family.{analysis.family}", lang),
        layers=analysis.n_layers,
        heads=analysis.n_heads,
        tokens=analysis.n_tokens,
        n=analysis.n_tokens,
    )


def analyse(
    model: str, text: str, text_pair: str, lang: str, shown: list, wanted=None, progress=None
):
    """(key, status) for a new analysis; on failure the shown key stays and the status
    says what failed and which analysis is still on screen."""
    key = session_key(model, text, text_pair, wanted)

    def report(step: str) -> None:
        if progress is not None:
            progress(None, desc=t("progress.loading", lang, step=step))

    try:
        analysis_for(key, lang, progress=report)
    except gr.Error as error:
        still = status_line(shown, lang) if shown else ""
        return gr.update(), t("app.status_failed", lang, error=plain(error.message), shown=still)
    return key, status_line(key, lang)


def run_analysis(model, text, text_pair, lang, shown, progress=gr.Progress()):
    """The Analyze action (button or Enter): one forward pass (cached)."""
    return analyse(model, text, text_pair, lang, shown, progress=progress)


def run_example(index, lang, shown, progress=gr.Progress()):
    """An Examples pick: fill the inputs and analyse at once."""
    if index is None:
        return gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
    model, text = examples()[int(index)]
    key, status = analyse(model, text, "", lang, shown, progress=progress)
    return model, text, "", key, status, gr.update(value=None)


def relabel(lang: str, key: list):
    """The language switch: model labels, and the status line in the new language."""
    return gr.update(choices=model_choices(lang)), status_line(key, lang)


def build(lang: gr.Radio) -> PanelContext:
    """Create the input row; returns the components the panels read."""
    with gr.Row(equal_height=True, elem_id="input-row"):
        model = gr.Dropdown(
            model_choices(),
            value=DEFAULT_MODEL,
            label=t("app.model"),
            allow_custom_value=True,
            scale=3,
            min_width=260,
            elem_id="model",
        )
        text = gr.Textbox(
            DEFAULT_TEXT,
            label=t("app.text"),
            info=t("app.text_info"),
            lines=1,
            max_lines=4,
            scale=5,
            min_width=280,
            elem_id="text",
        )
        text_pair = gr.Textbox(
            "",
            label=t("app.text_pair"),
            placeholder=t("app.text_pair_info"),
            lines=1,
            max_lines=4,
            scale=2,
            min_width=180,
            elem_id="text-pair",
        )
        picker = gr.Dropdown(
            example_choices(),
            value=None,
            label=t("app.examples"),
            scale=2,
            min_width=200,
            elem_id="examples",
        )
        analyze = gr.Button(
            t("app.analyze"), variant="primary", scale=0, min_width=110, elem_id="analyze"
        )
    status = gr.Markdown(t("app.status_idle"), elem_id="status")
    key = gr.State([])
    ctx = PanelContext(model, text, text_pair, lang, key, analyze, status)
    inputs = [model, text, text_pair, lang, key]
    for trigger in (analyze.click, text.submit, text_pair.submit):
        ctx.request(trigger(run_analysis, inputs, [key, status], **_analysis_event()), trigger)
    example_event = picker.input(
        run_example,
        [picker, lang, key],
        [model, text, text_pair, key, status, picker],
        **_analysis_event(),
    )
    ctx.request(example_event, picker.input)
    reserve_language_switch(ctx)
    lang.change(relabel, [lang, key], [model, status], queue=False, api_visibility="private")
    for component, name, attr in (
        (model, "model", "label"),
        (text, "text", "label"),
        (text, "text_info", "info"),
        (text_pair, "text_pair", "label"),
        (text_pair, "text_pair_info", "placeholder"),
        (picker, "examples", "label"),
        (analyze, "analyze", "value"),
    ):
        ctx.tr(component, f"app.{name}", attr)
    return ctx


def _analysis_event() -> dict:
    """Options of every event that starts an analysis: queued (it may load a model),
    the last click wins, private to the page."""
    return {"concurrency_limit": 4, "trigger_mode": "always_last", "api_visibility": "private"}
