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
from components.page import live
from components.page.context import (
    PanelContext,
    analysis_for,
    analysis_key,
    analysis_of,
    asked,
    whole_number,
)
from components.page.i18n import t
from components.page.live import answer, ask_js, live_view, request_value, wire_controls
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


def relabel_controls(key: list, lang: str) -> tuple:
    """(part, head) choices in `lang`. Values are not written: the language switch must
    not race the new-key handler that owns them (a value read a moment earlier is stale)."""
    if not key:
        return gr.update(), gr.update()
    analysis = analysis_for(key, lang)
    return (
        gr.update(choices=part_choices(analysis, lang)),
        gr.update(choices=head_choices(analysis.n_heads, lang)),
    )


def controls_for_new_key(key: list, part: str, layer: int, head: int, hide: bool, lang: str):
    """(part, layer, head, hide) for a new analysis, with the values a shared link or a
    lesson step asks for applied (this handler is the one writer of those controls)."""
    part = asked(key, "part", part, str)
    layer = asked(key, "layer", layer, int)
    head = asked(key, "head", head, int)
    hide = asked(key, "hide", hide, bool)
    return (*controls_for(key, part, layer, head, lang), gr.update(value=bool(hide)))


def head_request(key: list, part: str, layer: int, head: int, hide: bool, lang: str) -> str:
    """The live heatmap's request: the analysis and the head view's controls."""
    if not key:
        return ""
    return request_value(
        key=list(analysis_key(key)), part=part, layer=layer, head=head, hide=hide, lang=lang
    )


def on_new_key(key: list, part: str, layer: int, head: int, hide: bool, metric: str, lang: str):
    """Everything the panel shows for a new key, in one answer: its controls (wanted
    values applied), the heatmap's request made with them and the overview. One event
    per key, so when keys come quickly the last one's answer is the last to land."""
    controls = controls_for_new_key(key, part, layer, head, hide, lang)
    if not key:
        return (*controls, gr.update(), gr.update(), gr.update(), gr.update())
    part, layer, head, hide = (update.get("value") for update in controls)
    live = head_request(key, part, layer, head, hide, lang)
    return (*controls, live, *render_overview(key, part, metric, lang))


def render_head(key: list, part: str, layer: int, head: int, hide_special: bool, lang: str):
    """(heatmap, caption, summary) of one layer/head; re-slices the cached arrays."""
    analysis = analysis_for(key, lang)
    part = part if part in parts_of(analysis) else SELF
    layer = min(max(int(layer or 0), 0), _layers_of(analysis, part) - 1)
    head = -1 if head is None else int(head)
    view = attention_view(analysis, part, layer, head, bool(hide_special), lang)
    with_part = analysis.family == ENCODER_DECODER
    title = view_title(view, analysis.n_heads, lang, with_part=with_part)
    note = caption(view, lang, hide_requested=bool(hide_special))
    return heatmap_figure(view, title, lang), note, head_summary(view, lang)


def draw_head(request: dict) -> dict:
    """The live heatmap's answer to a request (see head_request): figure and notes."""
    figure, note, summary = render_head(
        request.get("key"),
        request.get("part", SELF),
        request.get("layer", 0),
        request.get("head", -1),
        bool(request.get("hide")),
        request.get("lang", "en"),
    )
    return answer(figure, {"summary": summary, "caption": note})


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


SHOW_HEATMAP_JS = """() => {
  const plot = document.querySelector("#attention-heatmap");
  if (plot) plot.scrollIntoView({ block: "center", behavior: "smooth" });
  return [];
}"""


def build(ctx: PanelContext) -> None:
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            part, layer, head, hide, plot = _head_view(ctx)
        with gr.Column(scale=1, min_width=260):
            explain = gr.Markdown(t("attention.explain"), elem_id="attention-explain")
            ctx.tr(explain, "attention.explain")
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
    _wire(ctx, (part, layer, head, hide), metric, plot, (maps, table, overview_note))
    gr.api(attention, api_name="attention")
    with gr.Accordion(t("attention.compare"), open=False) as compare_box:
        attention_compare.build(ctx, layer)
    ctx.tr(compare_box, "attention.compare", "label")
    with gr.Accordion(t("walk.title"), open=False, elem_id="walkthrough") as walk_box:
        qk_walkthrough.build(ctx)
    ctx.tr(walk_box, "walk.title", "label")
    ctx.section(walk_box, "walkthrough")
    with gr.Accordion("bertviz", open=False, elem_id="bertviz"):
        bertviz_view.build(ctx)


def _head_view(ctx: PanelContext) -> tuple:
    """The controls and the one heatmap they choose."""
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
    for component, name in ((part, "part"), (layer, "layer"), (head, "head"), (hide, "hide")):
        ctx.share(component, name)
    for component, name in (
        (part, "part_label"),
        (layer, "layer"),
        (head, "head"),
        (hide, "hide_special"),
    ):
        ctx.tr(component, f"attention.{name}", "label")
    notes = (live.note("summary", "attention-summary"), live.note("caption", "attention-caption"))
    plot = live_view("attention", draw_head, (live.plot(), *notes), elem_id="attention-heatmap")
    return part, layer, head, hide, plot


def _wire(ctx, controls, metric, plot, overview_outputs):
    """Each control has one writer: the user, or the new-key handler (see TRAPS.md).
    Layer, head and special-token changes redraw the live heatmap in the page."""
    part, layer, head, hide = controls
    private = {"api_visibility": "private"}
    request = (head_request, [ctx.key, part, layer, head, hide, ctx.lang], plot)
    draw_overview = (render_overview, [ctx.key, part, metric, ctx.lang], list(overview_outputs))
    fit = (controls_for, [ctx.key, part, layer, head, ctx.lang], [part, layer, head])
    ctx.key.change(
        on_new_key,
        [ctx.key, part, layer, head, hide, metric, ctx.lang],
        [part, layer, head, hide, plot, *overview_outputs],
        **private,
    )
    wire_controls("attention", {"layer": layer, "head": head, "hide": hide})
    part.input(*fit, **private).then(*request, **private).then(*draw_overview, **private)
    metric.input(*draw_overview, **private)
    ctx.lang.change(metric_choices, ctx.lang, metric, **private)
    relabel = (relabel_controls, [ctx.key, ctx.lang], [part, head])
    ctx.lang.change(*relabel, **private).then(*request, **private).then(*draw_overview, **private)
    table = overview_outputs[1]
    picked = table.select(pick_head, None, [layer, head], **private)
    picked.then(None, [layer, head, hide], None, js=ask_js("attention", ["layer", "head", "hide"]))
    table.select(None, None, None, js=SHOW_HEATMAP_JS, queue=False, **private)
