"""Next-token panel: logits -> softmax -> the choice, then one token more.

Every view re-slices cached results: the Analysis of the text (one forward
pass) and the logits of each generation step (one pass per appended token,
kept in the server caches). Moving a knob never runs the model.
"""

from __future__ import annotations

import gradio as gr
import plotly.graph_objects as go

from components.next_token import bars as view
from components.next_token import generation as gen
from components.next_token import inside, why
from components.page import live
from components.page.context import (
    PanelContext,
    analysis_for,
    analysis_key,
    analysis_of,
    asked,
    user_error,
)
from components.page.i18n import t
from components.page.live import answer, live_view, request_value, wire_controls
from models.analysis import Analysis
from models.errors import AnatomyError
from models.lenses.generation import MAX_NEW_TOKENS, readable_token
from models.lenses.logit_lens import logit_lens
from models.loading.catalog import DECODER, ENCODER
from models.loading.load import load_model

API_SHOWN = 20
SHOWN_DEFAULT = 10
DEFAULT_SEED = 42


def _decoder(model_id: str):
    tokenizer = load_model(model_id).tokenizer
    return lambda token_id: readable_token(tokenizer, token_id)


def _error(exc: AnatomyError, lang: str, model: str) -> gr.Error:
    exc.params = {"model": model, **exc.params}
    return user_error(exc, lang)


def next_token(model: str, text: str, temperature: float, top_k: int, top_p: float) -> dict:
    """API: the next-token candidates after `text`, with temperature -> top-k -> top-p
    as in `generate`; `prob` is renormalised after the cuts, candidates sorted by it."""
    analysis = analysis_of(model, text)
    try:
        if analysis.family == ENCODER:
            key = "error.mlm_api" if analysis.has_lm_head else "error.no_head"
            raise AnatomyError(f"'{analysis.model_id}' predicts no next token.", key=key)
        decode = _decoder(analysis.model_id)
        candidates = view.from_logits(
            analysis.logits_last, temperature, top_k, top_p, API_SHOWN, decode
        )
    except AnatomyError as exc:
        raise _error(exc, "en", analysis.model_id) from exc
    return view.as_json(candidates)


def _title(analysis: Analysis, position: int, step: int | None, lang: str) -> str:
    if step is None:
        token = inside.output_tokens(analysis)[position].text
        return t("nt.title_position", lang, position=position, token=view.visible(token))
    if step == 0:
        return t("nt.title_next", lang)
    return t("nt.title_step", lang, step=step + 1)


def _picks(analysis: Analysis, dist, step: int, sample: bool, seed, lang: str) -> str:
    """Greedy pick vs the seeded draw from the same distribution (as `generate` would)."""
    decode = _decoder(analysis.model_id)
    greedy = view.markdown_token(decode(dist.greedy_id))
    drawn = view.markdown_token(decode(dist.sample_id(seed, step)))
    mode = t("nt.mode_sample" if sample else "nt.mode_greedy", lang)
    return t("nt.picks", lang, greedy=greedy, seed=int(seed), sampled=drawn, mode=mode)


def distribution_view(key, state, position, temperature, top_k, top_p, shown, sample, seed, lang):
    """The bar chart and its Markdown summary at the chosen position."""
    if not key:  # nothing analysed yet (e.g. the language switched first)
        return gr.skip(), gr.skip()
    generated = gen.generated_ids(state, key)
    knobs = (temperature, top_k, top_p, shown, sample, seed)
    return distribution_for(key, generated, position, *knobs, lang)


def distribution_for(
    key, generated, position, temperature, top_k, top_p, shown, sample, seed, lang
):
    """(bar chart, Markdown summary) after `text` + the `generated` ids, at `position`."""
    analysis = analysis_for(key, lang)
    if not analysis.has_lm_head:  # the notice above the chart says why, once
        return go.Figure(), ""
    knobs = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
    try:
        candidates, step, dist = gen.candidates_at(
            analysis, generated, int(position or 0), knobs, int(shown)
        )
        picks = "" if dist is None else _picks(analysis, dist, step, sample, seed, lang)
    except AnatomyError as exc:
        raise _error(exc, lang, analysis.model_id) from exc
    figure = view.bar_figure(candidates, lang, _title(analysis, int(position or 0), step, lang))
    text = view.summary(candidates, lang)
    return figure, f"{text}\n- {picks}" if picks else text


# The live chart's request fields, in the order of the controls that set them.
BAR_FIELDS = ("position", "temperature", "top_k", "top_p", "shown", "sample", "seed")


def bars_request(key, state, *values_and_lang) -> str:
    """The live chart's request: the analysis, the ids generated so far, the knobs
    (BAR_FIELDS order) and the language."""
    *values, lang = values_and_lang
    if not key:
        return gr.skip()
    ids = gen.generated_ids(state, key)
    fields = dict(zip(BAR_FIELDS, values, strict=True))
    return request_value(key=list(analysis_key(key)), ids=ids, lang=lang, **fields)


def draw_bars(request: dict) -> dict:
    """The live chart's answer to a request (see bars_request): the bars and summary."""
    values = [request.get(field) for field in BAR_FIELDS]
    ids = [int(i) for i in request.get("ids") or []]
    figure, summary = distribution_for(request.get("key"), ids, *values, request.get("lang"))
    return answer(figure, {"summary": summary})


# What `prediction_controls` returns an update for, in this order.
PREDICTION_CONTROLS = (
    "plot",
    "temperature",
    "top_k",
    "top_p",
    "position",
    "shown",
    "sample",
    "seed",
    "n_tokens",
    "step_button",
    "generate_button",
    "reset_button",
)


def prediction_controls(key, lang) -> tuple:
    """gr.update()s for PREDICTION_CONTROLS: what this analysis can predict is usable.

    A decoder or an encoder-decoder gets everything. An encoder with a masked-LM head
    keeps the chart, the position and the number shown (its fill-mask predictions) but
    no sampling knobs or generation; an encoder without a head predicts nothing, so
    the chart is hidden and every control is off (the notice says why).
    """
    if not key:
        return tuple(gr.skip() for _ in PREDICTION_CONTROLS)
    analysis = analysis_for(key, lang)
    generates = analysis.has_lm_head and analysis.family != ENCODER
    usable = dict.fromkeys(PREDICTION_CONTROLS, generates)
    usable.update(position=analysis.has_lm_head, shown=analysis.has_lm_head)
    return tuple(
        gr.update(visible=analysis.has_lm_head)
        if name == "plot"
        else gr.update(interactive=usable[name])
        for name in PREDICTION_CONTROLS
    )


def inside_views(key, state, lang):
    """Notice, surprise HTML, logit lens and fill-mask list (they depend on the text only)."""
    if not key:
        return (gr.skip(),) * 4
    analysis = analysis_for(key, lang)
    decode = _decoder(analysis.model_id) if analysis.has_lm_head else None
    surprise = inside.surprise_html(analysis, lang) if analysis.has_lm_head else ""
    lens = None
    if analysis.family == DECODER and analysis.has_lm_head:
        try:
            lens = inside.lens_figure(logit_lens(analysis), decode, lang)
        except AnatomyError as exc:
            raise _error(exc, lang, analysis.model_id) from exc
    masks = ""
    if analysis.family == ENCODER and analysis.has_lm_head:
        mask_id = load_model(analysis.model_id).tokenizer.mask_token_id
        masks = inside.fill_mask_markdown(analysis, mask_id, decode, lang)
    return inside.family_notice(analysis, lang), surprise, lens, masks


def continuation_view(key, state, lang):
    """The text so far with its generated pieces (re-rendered on a language switch)."""
    if not key:
        return gr.skip()
    return gen.continuation_html(analysis_for(key, lang), gen.generated_ids(state, key), lang)


def reset(key, lang):
    """A new analysis: no generated tokens, the position slider at the end (or a [MASK])."""
    analysis = analysis_for(key, lang)
    end = gen.last_position(analysis, 0)
    value = end
    if analysis.family == ENCODER and analysis.has_lm_head:
        masks = inside.mask_positions(
            analysis, load_model(analysis.model_id).tokenizer.mask_token_id
        )
        value = masks[0] if masks else 0
    slider = gr.update(maximum=max(end, 1), value=value)
    return {"key": list(key), "ids": []}, slider, gen.continuation_html(analysis, [], lang)


KNOB_RANGES = {
    "temperature": (0.0, 3.0, float),
    "top_k": (0, 100, int),
    "top_p": (0.01, 1.0, float),
}


def knobs_for_new_key(key, temperature, top_k, top_p) -> tuple:
    """(temperature, top_k, top_p) with the values a shared link or a lesson step asks
    for applied, clamped to the sliders' ranges (this handler is their one writer)."""
    values = []
    for name, current in zip(KNOB_RANGES, (temperature, top_k, top_p), strict=True):
        low, high, kind = KNOB_RANGES[name]
        value = asked(key, name, current, kind)
        values.append(min(max(kind(value), low), high) if value is not None else current)
    return tuple(values)


# What on_new_key returns an update for, in this order.
NEW_KEY_OUTPUTS = (
    "temperature",
    "top_k",
    "top_p",
    "state",
    "position",
    "continuation",
    "plot",
    "notice",
    "surprise",
    "lens",
    "masks",
    "shown",
    "sample",
    "seed",
    "n_tokens",
    "step_button",
    "generate_button",
    "reset_button",
)


def on_new_key(key, temperature, top_k, top_p, shown, sample, seed, lang):
    """Everything the tab shows for a new key, in one answer (NEW_KEY_OUTPUTS order): the
    knobs (wanted values applied, usable only where this model can predict), no generated
    tokens, the chart's request and the views that read the text. With keys coming
    quickly, the last key's answer lands last."""
    if not key:
        return (gr.skip(),) * len(NEW_KEY_OUTPUTS)
    temperature, top_k, top_p = knobs_for_new_key(key, temperature, top_k, top_p)
    state, slider, continuation = reset(key, lang)
    position = slider.get("value")
    usable = dict(zip(PREDICTION_CONTROLS, prediction_controls(key, lang), strict=True))
    knobs = (temperature, top_k, top_p, shown, sample, seed)
    request = bars_request(key, state, position, *knobs, lang)
    return (
        {**usable["temperature"], "value": temperature},
        {**usable["top_k"], "value": top_k},
        {**usable["top_p"], "value": top_p},
        state,
        {**slider, **usable["position"]},
        continuation,
        {**usable["plot"], "value": request},
        *inside_views(key, state, lang),
        *(usable[name] for name in PREDICTION_CONTROLS[5:]),
    )


def extend(key, state, n_tokens, temperature, top_k, top_p, sample, seed, lang):
    """The generate buttons: append tokens, move the position slider to the new end."""
    analysis = analysis_for(key, lang)
    knobs = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
    try:
        state = gen.extend(analysis, state, key, n_tokens, knobs, sample, seed)
    except AnatomyError as exc:
        raise _error(exc, lang, analysis.model_id) from exc
    end = gen.last_position(analysis, len(state["ids"]))
    html = gen.continuation_html(analysis, state["ids"], lang)
    return state, gr.update(maximum=max(end, 1), value=end), html


def extend_one(key, state, temperature, top_k, top_p, sample, seed, lang):
    """The "next token" button: append exactly one token."""
    return extend(key, state, 1, temperature, top_k, top_p, sample, seed, lang)


def _slider(ctx: PanelContext, name: str, low, high, value, step, elem_id: str) -> gr.Slider:
    slider = gr.Slider(
        low,
        high,
        value=value,
        step=step,
        label=t(f"nt.{name}"),
        info=t(f"nt.{name}_info"),
        elem_id=elem_id,
    )
    ctx.tr(slider, f"nt.{name}", "label")
    return ctx.tr(slider, f"nt.{name}_info", "info")


def _heading(ctx: PanelContext, key: str) -> gr.Markdown:
    return ctx.tr(gr.Markdown(t(key)), key, "value")


def build(ctx: PanelContext) -> None:
    """The panel: knobs, bar chart, generation, surprise, logit lens, explanation."""
    state = gr.State({"key": [], "ids": []})
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            notice = gr.Markdown(elem_id="nt-notice")
            with gr.Row():
                temperature = _slider(ctx, "temperature", 0, 3, 1.0, 0.05, "nt-temperature")
                top_k = _slider(ctx, "top_k", 0, 100, 0, 1, "nt-top-k")
                top_p = _slider(ctx, "top_p", 0.01, 1, 1.0, 0.01, "nt-top-p")
            with gr.Row():
                position = _slider(ctx, "position", 0, 1, 0, 1, "nt-position")
                shown = _slider(ctx, "shown", 3, 30, SHOWN_DEFAULT, 1, "nt-shown")
            slots = (live.plot(), live.note("summary", "nt-summary"))
            plot = live_view("next_token", draw_bars, slots, elem_id="nt-bars")
            _heading(ctx, "nt.gen_heading")
            with gr.Row():
                sample = ctx.tr(gr.Checkbox(False, label=t("nt.sample")), "nt.sample", "label")
                seed = gr.Number(DEFAULT_SEED, label=t("nt.seed"), precision=0, minimum=0)
                ctx.tr(seed, "nt.seed", "label")
                n_tokens = _slider(ctx, "n_tokens", 1, MAX_NEW_TOKENS, 10, 1, "nt-n-tokens")
            with gr.Row():
                one = gr.Button(t("nt.step_button"), elem_id="nt-step")
                many = gr.Button(t("nt.generate_button"), variant="primary", elem_id="nt-generate")
                clear = gr.Button(t("nt.reset_button"), elem_id="nt-reset")
            continuation = gr.HTML(elem_id="nt-continuation-box")
            masks = gr.Markdown(elem_id="nt-masks")
            _heading(ctx, "nt.surprise_heading")
            surprise = gr.HTML(elem_id="nt-surprise-box")
            _heading(ctx, "nt.lens_heading")
            lens = gr.Plot(elem_id="nt-lens", show_label=False)
        with gr.Column(scale=1, min_width=280):
            ctx.tr(gr.Markdown(t("nt.explain"), elem_id="nt-explain"), "nt.explain", "value")
    why.build(ctx)
    ctx.tr(one, "nt.step_button")
    ctx.tr(many, "nt.generate_button")
    ctx.tr(clear, "nt.reset_button")
    ctx.share(temperature, "temperature")
    ctx.share(top_k, "top_k")
    ctx.share(top_p, "top_p")
    _wire(
        ctx,
        state,
        position,
        plot,
        notice,
        surprise,
        lens,
        masks,
        continuation,
        knobs=(temperature, top_k, top_p, shown, sample, seed),
        n_tokens=n_tokens,
        buttons=(one, many, clear),
    )
    gr.api(next_token, api_name="next_token")


def _wire(
    ctx,
    state,
    position,
    plot,
    notice,
    surprise,
    lens,
    masks,
    continuation,
    knobs,
    n_tokens,
    buttons,
) -> None:
    """Each control has one writer: the user, or the new-key handler (see TRAPS.md).
    The knobs and the position redraw the live chart in the page."""
    temperature, top_k, top_p, shown, sample, seed = knobs
    one, many, clear = buttons
    private = {"api_visibility": "private"}
    request_in = [ctx.key, state, position, temperature, top_k, top_p, shown, sample, seed]
    request = (bars_request, [*request_in, ctx.lang], plot)
    views = (inside_views, [ctx.key, state, ctx.lang], [notice, surprise, lens, masks])
    outputs = {
        "temperature": temperature,
        "top_k": top_k,
        "top_p": top_p,
        "state": state,
        "position": position,
        "continuation": continuation,
        "plot": plot,
        "notice": notice,
        "surprise": surprise,
        "lens": lens,
        "masks": masks,
        "shown": shown,
        "sample": sample,
        "seed": seed,
        "n_tokens": n_tokens,
        "step_button": one,
        "generate_button": many,
        "reset_button": clear,
    }
    ctx.key.change(
        on_new_key,
        [ctx.key, temperature, top_k, top_p, shown, sample, seed, ctx.lang],
        [outputs[name] for name in NEW_KEY_OUTPUTS],
        **private,
    )
    cleared = clear.click(reset, [ctx.key, ctx.lang], [state, position, continuation], **private)
    cleared.then(*request, **private).then(*views, **private)
    ctx.lang.change(
        continuation_view, [ctx.key, state, ctx.lang], continuation, queue=False, **private
    )
    ctx.lang.change(*request, **private).then(*views, **private)
    wire_controls("next_token", dict(zip(BAR_FIELDS, request_in[2:], strict=True)))
    gen_in = [ctx.key, state, temperature, top_k, top_p, sample, seed, ctx.lang]
    generated = [state, position, continuation]
    one.click(extend_one, gen_in, generated, concurrency_limit=2, **private).then(
        *request, **private
    )
    many.click(
        extend, gen_in[:2] + [n_tokens] + gen_in[2:], generated, concurrency_limit=2, **private
    ).then(*request, **private)
