"""Tokenization panel: how the text becomes token ids, and how tokenizers differ.

Renders from the same cached Analysis every other tab reads (same token ids),
plus the tokenizer itself for its vocabulary size and the decode round trip.
"""

from __future__ import annotations

import gradio as gr

from components.page.context import PanelContext, analysis_for, asked, explanation, user_error
from components.page.i18n import t
from components.tokenization import compare as tokenization_compare
from components.tokenization.chips import (
    CHIP_CSS,
    chips_html,
    chips_of_tokens,
    special_note,
    split_note,
)
from components.tokenization.tables import (
    category_colours,
    detail_rows,
    highlighted_segments,
    model_inputs_json,
    round_trip_note,
    statistics_markdown,
)
from models.lenses.tokenizer_compare import decode_round_trip, tokenize_text, tokenizer_facts
from models.loading.catalog import ENCODER_DECODER


def tokenize(model: str, text: str) -> dict:
    """API: the model's own tokenization of `text`, with offsets and special flags."""
    try:
        encoded = tokenize_text(model, text)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
        raise user_error(exc) from exc
    return {
        "model": encoded.model_id,
        "family": encoded.family,
        "tokens": [token.as_json() for token in encoded.tokens],
        "count": len(encoded.tokens),
    }


def _texts(analysis) -> tuple[str, ...]:
    """The sentences the tokens index: the text, and the pair when it was encoded as B."""
    if analysis.text_pair and analysis.family != ENCODER_DECODER:
        return (analysis.text, analysis.text_pair)
    return (analysis.text,)


def render_panel(key: list, lang: str, show_special: bool) -> tuple:
    """Every view of the panel from the cached analysis behind `key`.

    Returns (chips HTML, split-character note, highlighted text, statistics,
    details table, model-inputs JSON, decoded, decoded without specials, round-trip note).
    """
    if not key:
        empty = t("tok.empty", lang)
        return (f"<p>{empty}</p>", "", gr.update(value=None), "", None, "", "", "", "")
    analysis = analysis_for(key, lang)
    try:
        facts = tokenizer_facts(analysis.model_id)
        decoded, decoded_plain = decode_round_trip(analysis.model_id, analysis.input_ids.tolist())
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
        raise user_error(exc, lang) from exc
    texts = _texts(analysis)
    chips = chips_of_tokens(analysis.tokens, facts.unk_id)
    sentence_ids = [tok.sentence for tok in analysis.tokens]
    highlighted = gr.update(
        value=highlighted_segments(chips, texts, lang, show_special),
        color_map=category_colours(lang),
    )
    return (
        special_note(chips, show_special, lang) + chips_html(chips, texts, lang, show_special),
        split_note(chips, texts, lang),
        highlighted,
        statistics_markdown(
            chips, texts, facts.vocab_size, facts.kind.label, facts.kind.normalization, lang
        ),
        detail_rows(chips, lang, show_special),
        model_inputs_json(
            analysis.input_ids, analysis.attention_mask, analysis.token_type_ids, sentence_ids
        ),
        decoded,
        decoded_plain,
        round_trip_note(decoded_plain, analysis.text, facts.kind.normalization, lang)
        if len(texts) == 1
        else "",
    )


def build(ctx: PanelContext) -> None:
    """Widgets of the Tokenization tab, wired to the shared analysis key."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            show_special = ctx.tr(
                gr.Checkbox(True, label=t("tok.show_special"), elem_id="tok-show-special"),
                "tok.show_special",
                "label",
            )
            chips_title = ctx.tr(gr.Markdown(f"**{t('tok.chips')}**"), "tok.chips_md")
            chips = gr.HTML(css_template=CHIP_CSS, js_on_load=None, elem_id="tok-chips")
            split = gr.Markdown(elem_id="tok-split")
            highlighted = gr.HighlightedText(
                label=t("tok.highlighted"),
                show_legend=True,
                show_inline_category=False,
                color_map=category_colours("en"),
                elem_id="tok-highlighted",
            )
            ctx.tr(highlighted, "tok.highlighted", "label")
        with gr.Column(scale=2):
            stats_title = ctx.tr(gr.Markdown(f"**{t('tok.stats')}**"), "tok.stats_md")
            stats = gr.Markdown(elem_id="tok-stats")
            with gr.Accordion(t("tok.explain_title"), open=True) as intro:
                about = ctx.tr(gr.Markdown(explanation("tok.explain", "en")), "tok.explain")
            ctx.tr(intro, "tok.explain_title", "label")
    with gr.Accordion(t("tok.model_inputs"), open=True) as inputs_box:
        inputs_info = ctx.tr(gr.Markdown(t("tok.model_inputs_info")), "tok.model_inputs_info")
        inputs = gr.Code(language="json", interactive=False, elem_id="tok-inputs", max_lines=12)
        with gr.Row():
            decoded = gr.Textbox(label=t("tok.decoded"), interactive=False, elem_id="tok-decoded")
            plain = gr.Textbox(
                label=t("tok.decoded_plain"), interactive=False, elem_id="tok-decoded-plain"
            )
        round_trip = gr.Markdown(elem_id="tok-round-trip")
    ctx.tr(inputs_box, "tok.model_inputs", "label")
    with gr.Accordion(t("tok.details"), open=False) as details_box:
        details = gr.Dataframe(interactive=False, elem_id="tok-details", max_height=420)
    ctx.tr(details_box, "tok.details", "label")
    with gr.Accordion(t("tok.compare"), open=True) as compare_box:
        tokenization_compare.build(ctx)
    ctx.tr(compare_box, "tok.compare", "label")
    del about, chips_title, stats_title, inputs_info

    outputs = [chips, split, highlighted, stats, details, inputs, decoded, plain, round_trip]
    inputs_ = [ctx.key, ctx.lang, show_special]
    private = {"api_visibility": "private"}
    ctx.share(show_special, "special")

    def on_new_key(key, lang, shown):  # one answer per key: the checkbox and the views
        shown = asked(key, "special", shown, bool)
        return (shown, *render_panel(key, lang, shown))

    ctx.key.change(on_new_key, inputs_, [show_special, *outputs], **private)
    for event in (ctx.lang.change, show_special.input):
        event(render_panel, inputs_, outputs, **private)
    gr.api(tokenize, api_name="tokenize")
