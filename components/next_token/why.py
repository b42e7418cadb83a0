""" "Why this token?" in the Next-token tab: logit attribution and input saliency.

The layer / head split re-slices the vectors the main forward pass kept
(`Analysis.logit_parts`): choosing another token or layer runs no model. Input
saliency needs backward passes, so it runs only when asked (a button, or the
/attribution API), under the model's lock, cached per (model, text, target, method).
"""

from __future__ import annotations

import gradio as gr

from components.next_token import why_views as views
from components.page.context import (
    PanelContext,
    analysis_for,
    analysis_of,
    asked,
    user_error,
    wanted_values,
)
from components.page.i18n import t
from models.analysis import Analysis
from models.errors import AnatomyError
from models.lenses import attribution as lens
from models.lenses import saliency as grads
from models.lenses.generation import readable_token
from models.loading.catalog import ENCODER
from models.loading.load import load_model

CHOICES = 20
NO_LAYER = -1  # "the layer whose attention pushed hardest"


def _position(analysis: Analysis) -> int:
    mask_id = load_model(analysis.model_id).tokenizer.mask_token_id
    return lens.explained_position(analysis, mask_id)


def _ids(analysis: Analysis, target, other) -> tuple[int, int | None, int]:
    """(target id, other id or None, explained position) for the user's choices."""
    loaded = load_model(analysis.model_id)
    position = _position(analysis)
    target_id = lens.resolve_target(loaded, analysis, target or "", position)
    other_id = None
    if other not in (None, ""):
        other_id = lens.resolve_target(loaded, analysis, other, position)
    return target_id, other_id, position


def attribution(
    model: str,
    text: str,
    target: str = "",
    method: str = grads.GRADIENT_X_INPUT,
    compare: str = "",
) -> dict:
    """API: the chosen token's logit split over embeddings, layers (attention, FFN) and
    heads, and the input tokens' saliency for it. `target` "" = the top prediction, or
    a token's text or id; `compare` (optional) splits target minus compare instead."""
    analysis = analysis_of(model, text)
    try:
        target_id, other_id, position = _ids(analysis, target, compare)
        answer = {"model": analysis.model_id, "family": analysis.family, "position": position}
        reason = lens.unavailable_reason(analysis)
        if reason is None:
            answer |= lens.split_json(lens.split_logit(analysis, target_id, other_id))
        else:
            answer |= _no_split(analysis, target_id, other_id, reason)
        answer |= _saliency_json(analysis, method, target_id, other_id, position)
    except AnatomyError as exc:
        exc.params = {"model": analysis.model_id, **exc.params}
        raise user_error(exc, "en") from exc
    if reason is not None and answer["saliency"] and other_id is None:
        answer["target"]["logit"] = answer["saliency_check"]["f_input"]
    return answer


def _no_split(analysis: Analysis, target_id: int, other_id, reason: str) -> dict:
    tokenizer = load_model(analysis.model_id).tokenizer

    def target(token_id):
        if token_id is None:
            return None
        return {"id": token_id, "token": readable_token(tokenizer, token_id), "logit": None}

    return {
        "target": target(target_id),
        "compare": target(other_id),
        "parts": [],
        "total": None,
        "note": t(reason, "en"),
    }


def _saliency_json(analysis: Analysis, method: str, target_id, other_id, position) -> dict:
    answer = {"saliency_method": method, "saliency": [], "saliency_note": ""}
    try:
        result = grads.compute(analysis, method, target_id, other_id, position)
    except AnatomyError as exc:
        if exc.key not in ("why.error.saliency_cap", "why.error.ig_cap"):
            raise
        return answer | {"saliency_note": str(exc)}
    answer["saliency"] = [
        {"token": token.text, "id": token.id, "score": float(score)}
        for token, score in zip(analysis.tokens, result.scores, strict=True)
    ]
    answer["saliency_check"] = {
        "sum": float(result.scores.sum()),
        "f_input": result.f_input,
        "f_baseline": result.f_baseline,
        "gap": result.completeness_gap,
    }
    return answer


# ---------------------------------------------------------------- the panel


def method_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"why.method_{name}", lang, steps=grads.STEP_RANGE), name) for name in grads.METHODS]


def controls(key, lang):
    """Choices of the target, compare and layer menus for this analysis. Their values
    are never written here (the user, a shared link or a lesson owns them); a value
    that no longer fits (a layer past the end, a token of another model) is checked
    when drawn."""
    if not key:
        return (gr.skip(),) * 4
    analysis = analysis_for(key, lang)
    loaded = load_model(analysis.model_id)
    rows = lens.candidates(analysis, loaded, CHOICES)
    top = rows[0].token if rows else ""
    picks = [
        (f"{n + 1}. {views.visible(r.token)} · {r.prob:.1%}", r.value) for n, r in enumerate(rows)
    ]
    target_choices = [(t("why.top_choice", lang, token=views.visible(top)), "")] + picks
    other_choices = [(t("why.vs_none", lang), "")] + picks
    layers = [(t("why.layer_auto", lang), NO_LAYER)]
    layers += [(t("why.layer_n", lang, n=n), n) for n in range(_split_layers(analysis))]
    return (
        gr.update(choices=target_choices),
        gr.update(choices=other_choices),
        gr.update(choices=layers),
        gr.update(choices=method_choices(lang)),
    )


def controls_for_new_key(key, target, other, layer, method, opened, lang):
    """The menus for a new analysis, with the values a shared link or a lesson step asks
    for applied (this handler is their one writer besides the user), and the section
    opened when the link asks for it."""
    if not key:
        return (gr.skip(),) * 6
    choices = controls(key, lang)
    values = (
        asked(key, "why_target", target or "", str),
        asked(key, "why_vs", other or "", str),
        asked(key, "why_layer", layer, int),
        asked(key, "why_method", method, choices=grads.METHODS),
    )
    updates = [{**update, "value": value} for update, value in zip(choices, values, strict=True)]
    is_open = bool(asked(key, "why", opened, bool)) or "why" in wanted_values(key).get("open", [])
    section = gr.update(open=True) if is_open and not opened else gr.update()
    return (*updates, is_open, section)


def on_new_key(key, target, other, layer, method, opened, lang):
    """The menus (wanted values applied) and the views drawn with them, in one answer:
    one event per key, so when keys come quickly the last one's answer lands last."""
    controls = controls_for_new_key(key, target, other, layer, method, opened, lang)
    if not key:
        return (*controls, *(gr.skip(),) * 6)
    target, other, layer, method = (update["value"] for update in controls[:4])
    return (*controls, *render(key, target, other, layer, method, lang))


def _split_layers(analysis: Analysis) -> int:
    parts = analysis.logit_parts
    return int(parts.attention.shape[0]) if parts is not None and parts.ok else 0


def render(key, target, other, layer, method, lang):
    """(target + check, layers plot, heads plot, table, saliency chips, saliency note)."""
    if not key:
        return (gr.skip(),) * 6
    analysis = analysis_for(key, lang)
    empty = (None, None, None)
    if not analysis.has_lm_head:
        return (t("why.no_head", lang), *empty, "", "")
    try:
        target_id, other_id, position = _ids(analysis, target, other)
    except AnatomyError as exc:
        return (user_error(exc, lang).message, *empty, "", "")
    chips, note = _cached_saliency(analysis, method, target_id, other_id, lang)
    reason = lens.unavailable_reason(analysis)
    if reason is not None:
        mlm = t("why.mlm_note", lang) if analysis.family == ENCODER else ""
        return ("\n\n".join(s for s in (t(reason, lang), mlm) if s), *empty, chips, note)
    split = lens.split_logit(analysis, target_id, other_id)
    chosen = _layer(layer, split)
    table = {"data": views.table_rows(split, lang), "headers": views.table_headers(lang)}
    return (
        views.check_line(split, lang),
        views.layers_figure(split, lang),
        views.heads_figure(split, chosen, lang),
        table,
        chips,
        note,
    )


def _layer(value, split: lens.LogitSplit) -> int:
    """The layer to split per head: the chosen one, or the strongest when none fits."""
    try:
        layer = int(value)
    except (TypeError, ValueError):
        layer = NO_LAYER
    return layer if 0 <= layer < split.n_layers else split.strongest_layer()


def _token(analysis: Analysis, token_id: int) -> str:
    return readable_token(load_model(analysis.model_id).tokenizer, token_id)


def saliency_view(key, target, other, method, lang) -> tuple[str, str]:
    """(chips, note) for another method: the cached result, or the prompt to compute it."""
    if not key:
        return gr.skip(), gr.skip()
    analysis = analysis_for(key, lang)
    try:
        target_id, other_id, _ = _ids(analysis, target, other)
    except AnatomyError:
        return "", ""
    return _cached_saliency(analysis, method, target_id, other_id, lang)


def _cached_saliency(analysis, method, target_id, other_id, lang) -> tuple[str, str]:
    result = grads.peek(analysis, method or grads.GRADIENT_X_INPUT, target_id, other_id)
    if result is None:
        return "", t("why.saliency_prompt", lang)
    return _saliency_views(analysis, result, lang)


def _saliency_views(analysis: Analysis, result, lang: str) -> tuple[str, str]:
    tokens = [_token(analysis, result.target_id)]
    if result.other_id is not None:
        tokens.append(_token(analysis, result.other_id))
    html = views.saliency_html(analysis, result, lang)
    return html, views.saliency_note(result, tokens, result.baseline_token or "", lang)


def run_saliency(key, target, other, method, lang, progress=gr.Progress()):
    """The button: compute (or fetch) the saliency, with a progress bar."""
    if not key:
        return gr.skip(), gr.skip()
    analysis = analysis_for(key, lang)
    label = t(f"why.method_{method}", lang, steps=grads.STEP_RANGE)
    progress(0, desc=label)
    try:
        target_id, other_id, position = _ids(analysis, target, other)
        result = grads.compute(
            analysis,
            method or grads.GRADIENT_X_INPUT,
            target_id,
            other_id,
            position,
            progress=lambda done: progress(done, desc=label),
        )
    except AnatomyError as exc:
        return "", user_error(exc, lang).message
    return _saliency_views(analysis, result, lang)


def build(ctx: PanelContext) -> None:
    """The accordion: menus, check line, layer and head charts, table, saliency."""
    accordion = gr.Accordion(t("why.accordion"), open=False, elem_id="why")
    with accordion, gr.Row(equal_height=False):
        with gr.Column(scale=3):
            with gr.Row():
                target = _menu(ctx, "target", [("", "")], "", "why-target", custom=True)
                other = _menu(ctx, "vs", [("", "")], "", "why-vs", custom=True)
                layer = _menu(ctx, "layer", [("", NO_LAYER)], NO_LAYER, "why-layer", custom=True)
            check = gr.Markdown(elem_id="why-check")
            layers_plot = gr.Plot(elem_id="why-layers", show_label=False)
            heads_plot = gr.Plot(elem_id="why-heads", show_label=False)
            table = gr.Dataframe(
                headers=views.table_headers("en"), interactive=False, elem_id="why-table"
            )
            ctx.tr(gr.Markdown(t("why.saliency_heading")), "why.saliency_heading")
            with gr.Row():
                method = gr.Radio(
                    method_choices("en"),
                    value=grads.GRADIENT_X_INPUT,
                    label=t("why.method"),
                    elem_id="why-method",
                )
                run = gr.Button(t("why.saliency_button"), elem_id="why-run", scale=0)
            chips = gr.HTML(elem_id="why-saliency")
            note = gr.Markdown(t("why.saliency_prompt"), elem_id="why-saliency-note")
        with gr.Column(scale=1, min_width=260):
            ctx.tr(gr.Markdown(t("why.explain"), elem_id="why-explain"), "why.explain")
    opened = gr.Checkbox(False, visible="hidden", elem_id="why-open")
    ctx.tr(accordion, "why.accordion", "label")
    ctx.tr(method, "why.method", "label")
    ctx.tr(run, "why.saliency_button")
    for component, name in ((target, "why_target"), (other, "why_vs"), (layer, "why_layer")):
        ctx.share(component, name)
    ctx.share(method, "why_method")
    ctx.share(opened, "why")
    ctx.section(accordion, "why")
    private = {"api_visibility": "private"}
    # the user opens and closes the section; the hidden box carries that into the link
    accordion.expand(lambda: True, None, opened, queue=False, **private)
    accordion.collapse(lambda: False, None, opened, queue=False, **private)
    drawn = (render, [ctx.key, target, other, layer, method, ctx.lang])
    outputs = [check, layers_plot, heads_plot, table, chips, note]
    menus = [target, other, layer, method]
    ctx.key.change(
        on_new_key,
        [ctx.key, target, other, layer, method, opened, ctx.lang],
        [*menus, opened, accordion, *outputs],
        **private,
    )
    ctx.lang.change(controls, [ctx.key, ctx.lang], menus, **private).then(
        *drawn, outputs, **private
    )
    for control in (target, other, layer):  # the user's; the new-key handler writes them too
        control.input(*drawn, outputs, trigger_mode="always_last", **private)
    method.input(  # another method: only the saliency below changes
        saliency_view, [ctx.key, target, other, method, ctx.lang], [chips, note], **private
    )
    run.click(
        run_saliency,
        [ctx.key, target, other, method, ctx.lang],
        [chips, note],
        concurrency_limit=1,
        **private,
    )
    gr.api(attribution, api_name="attribution", concurrency_limit=1)


def _menu(ctx: PanelContext, name: str, choices, value, elem_id: str, custom: bool = False):
    menu = gr.Dropdown(
        choices,
        value=value,
        label=t(f"why.{name}"),
        info=t(f"why.{name}_info"),
        allow_custom_value=custom,
        filterable=True,
        elem_id=elem_id,
    )
    ctx.tr(menu, f"why.{name}", "label")
    return ctx.tr(menu, f"why.{name}_info", "info")
