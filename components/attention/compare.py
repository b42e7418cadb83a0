"""Encoder vs decoder on the same sentence: two models' attention maps side by side."""

from __future__ import annotations

import gradio as gr

from components.attention.heatmap import heatmap_figure
from components.attention.slicing import SELF, attention_view
from components.page.context import PanelContext, analysis_for, escape
from components.page.i18n import t
from models.analysis import Analysis
from models.loading.catalog import BUNDLED, DECODER, ENCODER, MINILM, SMOLLM2
from models.results import AnalysisKey


def partner_model(family: str) -> str:
    """The bundled model of the other family: an encoder beside a decoder and vice versa."""
    return MINILM if family == DECODER else SMOLLM2


def same_depth(layer: int, n_layers_from: int, n_layers_to: int) -> int:
    """The layer at the same relative depth in a model with another number of layers."""
    if n_layers_from <= 1:
        return n_layers_to - 1 if layer else 0
    return round(layer / (n_layers_from - 1) * (n_layers_to - 1))


def side_title(analysis: Analysis, layer: int, lang: str) -> str:
    family = t(f"attention.family.{analysis.family}", lang)
    mean = t("attention.mean_heads", lang, n=analysis.n_heads)
    where = t("attention.title", lang, layer=layer, which=mean)
    return f"{family}: {escape(analysis.model_id.split('/')[-1])}<br>{where}"


def compare(key: list, other_model: str, layer: int, lang: str):
    """(left figure, right figure, caption): the encoder's map left, the decoder's right."""
    first = analysis_for(key, lang)
    other_id = (other_model or "").strip() or partner_model(first.family)
    second = analysis_for(list(AnalysisKey.of(other_id, first.text, "")), lang)
    second_layer = same_depth(int(layer or 0), first.n_layers, second.n_layers)
    sides = [(first, min(int(layer or 0), first.n_layers - 1)), (second, second_layer)]
    sides.sort(key=lambda side: side[0].family != ENCODER)  # encoder on the left
    figures = []
    for analysis, at_layer in sides:
        view = attention_view(analysis, SELF, at_layer, -1, False, lang)
        figures.append(
            heatmap_figure(
                view, side_title(analysis, at_layer, lang), lang, height=560, narrow=True
            )
        )
    families = {analysis.family for analysis, _ in sides}
    note = t("attention.compare_caption", lang)
    if families != {ENCODER, DECODER}:
        note += "\n\n" + t("attention.compare_same_family", lang)
    return figures[0], figures[1], note


def build(ctx: PanelContext, layer: gr.Slider) -> None:
    choices = [(entry.id, entry.id) for entry in BUNDLED]
    with gr.Row():
        other = gr.Dropdown(
            choices,
            value=None,
            allow_custom_value=True,
            label=t("attention.compare_model"),
            info=t("attention.compare_model_info"),
            elem_id="attention-compare-model",
        )
        run = gr.Button(t("attention.compare_run"), elem_id="attention-compare-run")
    ctx.tr(other, "attention.compare_model", "label")
    ctx.tr(other, "attention.compare_model_info", "info")
    ctx.tr(run, "attention.compare_run")
    with gr.Row():
        left = gr.Plot(show_label=False, elem_id="attention-compare-left")
        right = gr.Plot(show_label=False, elem_id="attention-compare-right")
    note = gr.Markdown()
    run.click(
        compare,
        [ctx.key, other, layer, ctx.lang],
        [left, right, note],
        concurrency_limit=2,
        api_visibility="private",
    )
