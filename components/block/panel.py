"""Block panel: the model's architecture, one block step by step, the residual stream.

Render functions live in diagram (the map), memory (parameters, memory, the
config), steps (one block for one token) and stream (the residual stream across
layers); this module wires them to widgets and serves /architecture and /block.
Changing the layer, token or view re-slices the cached Analysis and re-runs one
block for one token.
"""

from __future__ import annotations

import json

import gradio as gr
import numpy as np

from components.block import diagram
from components.block import memory as memory_view
from components.block import steps as step_view
from components.block import stream as stream_view
from components.page import live
from components.page.context import (
    PanelContext,
    analysis_for,
    analysis_key,
    analysis_of,
    asked,
    escape,
    user_error,
    whole_number,
)
from components.page.i18n import t
from components.page.live import answer, live_view, request_value, wire_controls
from models.analysis import Analysis
from models.errors import AnatomyError
from models.lenses.architecture import architecture_of, attention_weight_bytes, kv_bytes
from models.lenses.block import DECODER, ENCODER, residual_stream, steps_for
from models.loading.catalog import ENCODER_DECODER
from models.loading.load import load_model

PRIVATE = {"api_visibility": "private"}


def _loaded(model: str, lang: str = "en"):
    try:
        return load_model((model or "").strip())
    except AnatomyError as exc:
        raise user_error(exc, lang) from exc


def _record(model: str, lang: str = "en") -> dict:
    try:
        return architecture_of(_loaded(model, lang))
    except AnatomyError as exc:
        raise user_error(exc, lang) from exc


def architecture(model: str) -> dict:
    """API: the model as built, from its config and module tree (no text needed)."""
    return _record(model)


def block(model: str, text: str, layer: int, token: int, part: str = ENCODER) -> dict:
    """API: one block re-run for one token (token = position, -1 = the last), every step's
    vector and statistics, and the largest difference from the model's own output.
    `part` is "decoder" for an encoder-decoder's decoder blocks."""
    layer, token = whole_number(layer, "layer"), whole_number(token, "token")
    analysis = analysis_of(model, text)
    try:
        steps = steps_for(analysis, layer, token, str(part or ENCODER))
    except AnatomyError as exc:
        raise user_error(exc) from exc
    tokens = [tok.text for tok in _tokens(analysis, steps.part)]
    return {"model": analysis.model_id, **step_view.as_json(steps, tokens)}


def _tokens(analysis: Analysis, part: str):
    if part == DECODER and analysis.family == ENCODER_DECODER:
        return analysis.decoder_tokens
    return analysis.tokens


def token_labels(analysis: Analysis, part: str = ENCODER) -> list[str]:
    """'i: text' per token (the piece for specials and blanks), unescaped."""
    return [
        f"{i}: {tok.text if tok.text.strip() and not tok.special else tok.piece}"
        for i, tok in enumerate(_tokens(analysis, part))
    ]


def _part(analysis: Analysis, part: str | None) -> str:
    return part if part == DECODER and analysis.family == ENCODER_DECODER else ENCODER


def _n_layers(analysis: Analysis, part: str) -> int:
    if part == DECODER:
        return int(analysis.decoder_attentions.shape[0])
    return analysis.n_layers


def _whole(value, default: int) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return default


def _position(token, n_tokens: int) -> int:
    """A picker value as a token position; anything out of range (or -1) is the last."""
    token = _whole(token, -1)
    return token if 0 <= token < n_tokens else n_tokens - 1


def controls_for(key: list, part: str, layer, token, lang: str) -> tuple:
    """(part, layer, token) updates for a new analysis: ranges follow the model, values in
    range are kept (a shared link's layer and token survive), others are clamped."""
    if not key:
        return gr.update(), gr.update(), gr.update()
    analysis = analysis_for(key, lang)
    part = _part(analysis, part)
    labels = token_labels(analysis, part)
    last = _n_layers(analysis, part) - 1
    layer = min(max(_whole(layer, 0), 0), last)
    token = _position(token, len(labels))
    parts = [(t("block.part_encoder", lang), ENCODER), (t("block.part_decoder", lang), DECODER)]
    return (
        gr.update(choices=parts, value=part, visible=analysis.family == ENCODER_DECODER),
        gr.update(maximum=max(last, 1), value=layer, interactive=last > 0),
        gr.update(choices=[(label, i) for i, label in enumerate(labels)], value=token),
    )


def render_architecture(key: list, lang: str):
    """(map, parameter rows, memory rows, memory plot, config keys, config JSON)."""
    if not key:
        return (gr.skip(),) * 6
    analysis = analysis_for(key, lang)
    try:
        record = _record(analysis.model_id, lang)
    except gr.Error as exc:
        message = f"**{escape(str(exc.message))}**"
        return None, None, None, None, message, ""
    n = analysis.n_tokens if analysis.family != ENCODER_DECODER else len(analysis.decoder_tokens)
    lengths = memory_view.context_lengths(record, n)
    kv = np.array([kv_bytes(record, int(x)) for x in lengths], dtype=float)
    attention = np.array([attention_weight_bytes(record, int(x)) for x in lengths], dtype=float)
    rows = memory_view.memory_rows(
        record, n, kv_bytes(record, n), attention_weight_bytes(record, n), lang
    )
    headers = [t("block.col_part", lang), t("block.col_params", lang), t("block.col_share", lang)]
    return (
        diagram.architecture_figure(record, lang),
        gr.update(value=memory_view.parameter_rows(record, lang), headers=headers),
        gr.update(value=rows, headers=[t("block.col_what", lang), t("block.col_size", lang)]),
        memory_view.memory_figure(record, lengths, kv, attention, n, lang),
        memory_view.config_markdown(record["config"], lang),
        json.dumps(record["config"], indent=2, ensure_ascii=False),
    )


def render_steps(key: list, part: str, layer, token, lang: str):
    """(summary, step figure, norm histogram, FFN neurons) for one layer and token."""
    if not key:
        return (gr.skip(),) * 4
    analysis = analysis_for(key, lang)
    part = _part(analysis, part)
    labels = token_labels(analysis, part)
    # a picker can still hold the previous analysis's value for a moment: clamp, don't fail
    layer = min(max(_whole(layer, 0), 0), _n_layers(analysis, part) - 1)
    token = _position(token, len(labels))
    try:
        steps = steps_for(analysis, layer, token, part)
    except AnatomyError as exc:
        return f"**{escape(str(user_error(exc, lang).message))}**", None, None, None
    return (
        step_view.summary(steps, labels[token], lang),
        step_view.steps_figure(steps, lang),
        step_view.norm_figure(steps, lang),
        step_view.neurons_figure(steps, lang),
    )


def steps_request(key: list, part: str, layer, token, lang: str) -> str:
    """The live step view's request: the analysis, the stack, layer and token."""
    if not key:
        return gr.skip()
    return request_value(
        key=list(analysis_key(key)), part=part, layer=layer, token=token, lang=lang
    )


def draw_steps(request: dict) -> dict:
    """The live step view's answer to a request (see steps_request)."""
    text, steps, histogram, neurons = render_steps(
        request.get("key"),
        request.get("part"),
        request.get("layer"),
        request.get("token"),
        request.get("lang", "en"),
    )
    figures = {"steps": steps, "norm": histogram, "neurons": neurons}
    return answer(figures, {"summary": text})


def render_stream(key: list, part: str, measure: str, lang: str):
    """(figure, note) of the residual stream across layers."""
    if not key:
        return gr.skip(), gr.skip()
    analysis = analysis_for(key, lang)
    part = _part(analysis, part)
    view = residual_stream(analysis, part)
    if view is None:
        return None, t("block.stream_unknown", lang, model=escape(analysis.model_id))
    measure = measure if measure in stream_view.VIEWS else "attention"
    figure = stream_view.stream_figure(view, measure, token_labels(analysis, part), lang)
    return figure, t(f"block.stream_note_{measure}", lang)


def view_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"block.view_{v}", lang), v) for v in stream_view.VIEWS]


def on_new_key(key: list, part: str, layer, token, measure: str, lang: str) -> tuple:
    """Everything the tab shows for a new key, in one answer: its controls (with the
    values a shared link or a lesson step asks for), the map, the step view's request
    and the stream drawn with them. This handler is the one writer of the controls'
    values, so nothing races it."""
    part = asked(key, "block_part", part, str)
    layer = asked(key, "block_layer", layer, int)
    token = asked(key, "block_token", token, int)
    measure = asked(key, "block_view", measure, choices=stream_view.VIEWS)
    controls = controls_for(key, part, layer, token, lang)
    view = gr.update(choices=view_choices(lang), value=measure)
    if not key:
        return (*controls, view, *render_architecture(key, lang), *(gr.skip(),) * 3)
    part, layer, token = (update["value"] for update in controls)
    return (
        *controls,
        view,
        *render_architecture(key, lang),
        steps_request(key, part, layer, token, lang),
        *render_stream(key, part, measure, lang),
    )


def relabel_controls(key: list, lang: str) -> tuple:
    """(part, measure) choices in `lang`; values are left to their one writer."""
    parts = [(t("block.part_encoder", lang), ENCODER), (t("block.part_decoder", lang), DECODER)]
    return gr.update(choices=parts), gr.update(choices=view_choices(lang))


def build(ctx: PanelContext) -> None:
    ctx.tr(gr.Markdown(t("block.explain"), elem_id="block-explain"), "block.explain")
    with gr.Accordion(t("block.map"), open=True) as map_box:
        ctx.tr(gr.Markdown(t("block.map_explain")), "block.map_explain")
        drawing = gr.Plot(elem_id="block-map", show_label=False)
        with gr.Row():
            params = gr.Dataframe(interactive=False, elem_id="block-params", wrap=True)
            memory = gr.Dataframe(interactive=False, elem_id="block-memory", wrap=True)
        kv_plot = gr.Plot(elem_id="block-kv", show_label=False)
        with gr.Accordion("config.json", open=False):
            config_keys = gr.Markdown(elem_id="block-config-keys")
            config = gr.Code(language="json", elem_id="block-config", show_label=False)
    ctx.tr(map_box, "block.map", "label")
    with gr.Accordion(t("block.steps"), open=True) as steps_box:
        ctx.tr(gr.Markdown(t("block.steps_explain")), "block.steps_explain")
        with gr.Row():
            part = gr.Radio(  # both choices from the start: a shared link may name either
                [(t("block.part_encoder"), ENCODER), (t("block.part_decoder"), DECODER)],
                value=ENCODER,
                visible=False,
                label=t("block.part_label"),
                elem_id="block-part",
            )
            layer = gr.Slider(0, 29, value=0, step=1, label=t("block.layer"), elem_id="block-layer")
            token = gr.Dropdown(
                [(t("block.token_last"), -1)],
                value=-1,
                allow_custom_value=True,  # a shared link's position arrives before the choices
                label=t("block.token"),
                info=t("block.token_info"),
                elem_id="block-token",
            )
        slots = (
            live.note("summary", "block-steps-text"),
            live.plot("steps", "block-steps"),
            live.row(live.plot("norm", "block-norm"), live.plot("neurons", "block-neurons")),
        )
        steps = live_view("block", draw_steps, slots, elem_id="block-step-view")
    ctx.tr(steps_box, "block.steps", "label")
    with gr.Accordion(t("block.stream"), open=True) as stream_box:
        ctx.tr(gr.Markdown(t("block.stream_explain")), "block.stream_explain")
        measure = gr.Radio(
            view_choices("en"), value="attention", label=t("block.view"), elem_id="block-view"
        )
        stream_plot = gr.Plot(elem_id="block-stream", show_label=False)
        stream_note = gr.Markdown(elem_id="block-stream-note")
    ctx.tr(stream_box, "block.stream", "label")
    for component, name in (
        (part, "part_label"),
        (layer, "layer"),
        (token, "token"),
        (measure, "view"),
    ):
        ctx.tr(component, f"block.{name}", "label")
    ctx.tr(token, "block.token_info", "info")
    ctx.share(part, "block_part")
    ctx.share(layer, "block_layer")
    ctx.share(token, "block_token")
    ctx.share(measure, "block_view")
    _wire(
        ctx,
        (drawing, params, memory, kv_plot, config_keys, config),
        (part, layer, token),
        steps,
        (measure, stream_plot, stream_note),
    )
    gr.api(architecture, api_name="architecture")
    gr.api(block, api_name="block")


def _wire(ctx, map_outputs, controls, steps, stream_parts) -> None:
    """Each control has one writer: the user, or the new-key handler (see TRAPS.md).
    Layer and token changes redraw the live step view in the page."""
    part, layer, token = controls
    measure, stream_plot, stream_note = stream_parts
    control_io = ([ctx.key, part, layer, token, ctx.lang], [part, layer, token])
    request = (steps_request, [ctx.key, part, layer, token, ctx.lang], steps)
    stream_io = ([ctx.key, part, measure, ctx.lang], [stream_plot, stream_note])
    map_io = ([ctx.key, ctx.lang], list(map_outputs))
    ctx.key.change(
        on_new_key,
        [ctx.key, part, layer, token, measure, ctx.lang],
        [part, layer, token, measure, *map_outputs, steps, stream_plot, stream_note],
        concurrency_limit=4,
        **PRIVATE,
    )
    ctx.lang.change(relabel_controls, [ctx.key, ctx.lang], [part, measure], **PRIVATE).then(
        render_architecture, *map_io, **PRIVATE
    ).then(*request, **PRIVATE).then(render_stream, *stream_io, **PRIVATE)
    wire_controls("block", {"layer": layer, "token": token})
    part.input(controls_for, *control_io, **PRIVATE).then(*request, **PRIVATE).then(
        render_stream, *stream_io, **PRIVATE
    )
    measure.input(render_stream, *stream_io, **PRIVATE)
