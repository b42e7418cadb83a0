"""Attention panel: what every head of every layer looks at.

Render functions live in attention_views (figures, text, tables) and
attention_data (re-slicing the cached Analysis); this module wires them to
widgets, serves the /attention API and composes the sub-panels (Q·K walk-through,
bertviz, encoder-vs-decoder comparison).
"""

from __future__ import annotations

import gradio as gr

from components.attention import bertviz as bertviz_view
from components.attention import compare as attention_compare
from components.attention import walkthrough as qk_walkthrough
from components.attention.heatmap import (
    METRICS,
    SMALL_MAPS_MAX_TOKENS,
    caption,
    head_summary,
    heatmap_figure,
    overview_table,
    small_maps_figure,
    view_title,
)
from components.attention.slicing import (
    CROSS,
    SELF,
    attention_view,
    head_weights,
    is_causal,
    layer_stack,
    parts_of,
    stats_for,
)
from components.page.context import PanelContext, analysis_for, analysis_of, whole_number
from components.page.i18n import t
from models.analysis import Analysis
from models.loading.catalog import ENCODER_DECODER


def attention(model: str, text: str, layer: int, head: int) -> dict:
    """API: one layer's (encoder) self-attention matrix for one head (-1 = mean over heads)."""
    layer, head = whole_number(layer, "layer"), whole_number(head, "head")
    analysis = analysis_of(model, text)
    weights = head_weights(analysis.attentions, layer, head)
    return {
        "tokens": [tok.text for tok in analysis.tokens],
        "n_layers": analysis.n_layers,
        "n_heads": analysis.n_heads,
        "layer": int(layer),
        "head": int(head),
        "weights": weights.round(6).tolist(),
    }


def head_choices(n_heads: int, lang: str) -> list[tuple[str, int]]:
    """Dropdown choices: the mean over heads first, then every head."""
    mean = (t("attention.mean_heads", lang, n=n_heads), -1)
    return [mean] + [(t("attention.head_n", lang, n=h), h) for h in range(n_heads)]


def part_choices(analysis: Analysis, lang: str) -> list[tuple[str, str]]:
    return [(t(f"attention.part.{part}", lang), part) for part in parts_of(analysis)]


def _layers_of(analysis: Analysis, part: str) -> int:
    return int(layer_stack(analysis, part).shape[0])


def controls_for(key: list, part: str, layer: int, head: int, lang: str) -> tuple:
    """Updates of (part, layer, head) for a new analysis: ranges follow the model."""
    if not key:
        return gr.update(), gr.update(), gr.update()
    analysis = analysis_for(key, lang)
    part = part if part in parts_of(analysis) else SELF
    last = _layers_of(analysis, part) - 1
    layer = min(max(int(layer or 0), 0), last)
    head = int(head) if head is not None and -1 <= int(head) < analysis.n_heads else -1
    return (
        gr.update(
            choices=part_choices(analysis, lang),
            value=part,
            visible=analysis.family == ENCODER_DECODER,
        ),
        gr.update(maximum=max(last, 1), value=layer, interactive=last > 0),
        gr.update(choices=head_choices(analysis.n_heads, lang), value=head),
    )


def render_head(key: list, part: str, layer: int, head: int, hide_special: bool, lang: str):
    """(heatmap, caption, summary) of one layer/head; re-slices the cached arrays."""
    if not key:
        return gr.update(), gr.update(), gr.update()
    analysis = analysis_for(key, lang)
    part = part if part in parts_of(analysis) else SELF
    layer = min(int(layer or 0), _layers_of(analysis, part) - 1)
    head = -1 if head is None else int(head)
    view = attention_view(analysis, part, layer, head, bool(hide_special), lang)
    with_part = analysis.family == ENCODER_DECODER
    title = view_title(view, analysis.n_heads, lang, with_part=with_part)
    note = caption(view, lang, hide_requested=bool(hide_special))
    return heatmap_figure(view, title, lang), note, head_summary(view, lang)


def render_overview(key: list, part: str, metric: str, lang: str):
    """(small maps figure, table, note): every head of every layer at once."""
    if not key:
        return gr.update(), gr.update(), gr.update()
    analysis = analysis_for(key, lang)
    part = part if part in parts_of(analysis) else SELF
    stack = layer_stack(analysis, part)
    maps = small_maps_figure(stack, is_causal(analysis, part), lang)
    note = t("attention.overview_note", lang)
    if maps is None:
        note += " " + t("attention.overview_long", lang, max=SMALL_MAPS_MAX_TOKENS)
    if part == CROSS:
        return (
            gr.update(value=maps, visible=maps is not None),
            None,
            t("attention.cross_no_stats", lang),
        )
    table = overview_table(stats_for(analysis, part), metric, lang)
    return gr.update(value=maps, visible=maps is not None), table, note


def metric_choices(lang: str):
    return gr.update(choices=[(t(f"attention.metric.{m}", lang), m) for m in METRICS])


def pick_head(evt: gr.SelectData) -> tuple:
    """A click on the overview table: row = layer, column h+1 = head h (column 0 = layer)."""
    row, column = evt.index
    if column == 0:
        return gr.update(value=int(row)), gr.update()
    return gr.update(value=int(row)), gr.update(value=int(column) - 1)


def build(ctx: PanelContext) -> None:
    explain = gr.Markdown(t("attention.explain"), elem_id="attention-explain")
    ctx.tr(explain, "attention.explain")
    with gr.Row():
        part = gr.Radio(
            [(t("attention.part.self"), SELF)],
            value=SELF,
            visible=False,
            label=t("attention.part_label"),
            elem_id="attention-part",
        )
        layer = gr.Slider(
            0, 29, value=0, step=1, label=t("attention.layer"), elem_id="attention-layer"
        )
        head = gr.Dropdown(
            head_choices(9, "en"), value=-1, label=t("attention.head"), elem_id="attention-head"
        )
        hide = gr.Checkbox(False, label=t("attention.hide_special"), elem_id="attention-hide")
    ctx.share(layer, "layer")
    ctx.share(head, "head")
    for component, name in (
        (part, "part_label"),
        (layer, "layer"),
        (head, "head"),
        (hide, "hide_special"),
    ):
        ctx.tr(component, f"attention.{name}", "label")
    plot = gr.Plot(elem_id="attention-heatmap", show_label=False)
    summary = gr.Markdown(elem_id="attention-summary")
    note = gr.Markdown(elem_id="attention-caption")
    with gr.Accordion(t("attention.overview"), open=True) as overview_box:
        metric = gr.Radio(
            [(t(f"attention.metric.{m}"), m) for m in METRICS],
            value="label",
            label=t("attention.metric_label"),
            elem_id="attention-metric",
        )
        overview_note = gr.Markdown()
        maps = gr.Plot(show_label=False, visible=False, elem_id="attention-maps")
        table = gr.Dataframe(
            interactive=False, elem_id="attention-overview", wrap=False, max_height=1000
        )
    ctx.tr(overview_box, "attention.overview", "label")
    ctx.tr(metric, "attention.metric_label", "label")
    _wire(ctx, part, layer, head, hide, metric, plot, note, summary, maps, table, overview_note)
    gr.api(attention, api_name="attention")
    with gr.Accordion(t("attention.compare"), open=False) as compare_box:
        attention_compare.build(ctx, layer)
    ctx.tr(compare_box, "attention.compare", "label")
    with gr.Accordion("Q·K step by step", open=False):
        qk_walkthrough.build(ctx)
    with gr.Accordion("bertviz", open=False):
        bertviz_view.build(ctx)


def _wire(ctx, part, layer, head, hide, metric, plot, note, summary, maps, table, overview_note):
    private = {"api_visibility": "private"}
    head_inputs = [ctx.key, part, layer, head, hide, ctx.lang]
    head_outputs = [plot, note, summary]
    overview_inputs = [ctx.key, part, metric, ctx.lang]
    overview_outputs = [maps, table, overview_note]
    ctx.key.change(
        controls_for, [ctx.key, part, layer, head, ctx.lang], [part, layer, head], **private
    ).then(render_head, head_inputs, head_outputs, **private).then(
        render_overview, overview_inputs, overview_outputs, **private
    )
    for control in (layer, head, hide):
        control.change(render_head, head_inputs, head_outputs, **private)
    part.change(
        controls_for, [ctx.key, part, layer, head, ctx.lang], [part, layer, head], **private
    ).then(render_head, head_inputs, head_outputs, **private).then(
        render_overview, overview_inputs, overview_outputs, **private
    )
    metric.change(render_overview, overview_inputs, overview_outputs, **private)
    ctx.lang.change(metric_choices, ctx.lang, metric, **private)
    ctx.lang.change(
        controls_for, [ctx.key, part, layer, head, ctx.lang], [part, layer, head], **private
    ).then(render_head, head_inputs, head_outputs, **private).then(
        render_overview, overview_inputs, overview_outputs, **private
    )
    table.select(pick_head, None, [layer, head], **private)
