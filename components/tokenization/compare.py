"""The Tokenization panel's comparison: one text through several tokenizers.

Model tokenizers and the word / character / jamo baselines side by side:
pieces, count, vocabulary size and OOV count. Tokenizers only, no forward pass.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from components.page.context import PanelContext, escape, user_error
from components.page.i18n import t
from components.tokenization.chips import CHIP_CSS, Chip, chips_html, with_model_reading
from models.lenses.baselines import BASELINES, CHAR, JAMO, WORD, Segmentation
from models.lenses.tokenizer_compare import compare_tokenizers
from models.loading.catalog import BUNDLED

BASELINE_KEYS = {WORD: "tok.baseline.word", CHAR: "tok.baseline.char", JAMO: "tok.baseline.jamo"}
UNIT_KEYS = {"word": "tok.unit.word", "character": "tok.unit.character", "jamo": "tok.unit.jamo"}


def tokenizer_label(name: str, lang: str) -> str:
    return t(BASELINE_KEYS[name], lang) if name in BASELINE_KEYS else name


def unit_label(unit: str, lang: str) -> str:
    return t(UNIT_KEYS[unit], lang) if unit in UNIT_KEYS else unit


def choices(lang: str, extra: list[str] | None = None) -> list[tuple[str, str]]:
    """(label, value) of every tokenizer the comparison offers: bundled, extra, baselines."""
    extra = [name for name in extra or [] if name and name not in BASELINES]
    ids = list(dict.fromkeys([e.id for e in BUNDLED] + extra))
    return [(name, name) for name in ids] + [(tokenizer_label(b, lang), b) for b in BASELINES]


def default_selection() -> list[str]:
    return [e.id for e in BUNDLED] + list(BASELINES)


def chips_of_segmentation(segmentation: Segmentation) -> list[Chip]:
    chips = [
        Chip(
            index=i,
            text=p.text,
            piece=p.piece,
            id=p.id,
            start=p.start,
            end=p.end,
            special=p.special,
            unknown=p.oov,
            byte_values=p.byte_values,
            shown=p.shown,
        )
        for i, p in enumerate(segmentation.pieces)
    ]
    return [with_model_reading(chip) for chip in chips]


def comparison_html(segmentations: list[Segmentation], text: str, lang: str) -> str:
    """One titled row of chips per tokenizer (escaped)."""
    rows = []
    for seg in segmentations:
        summary = t(
            "tok.compare_row",
            lang,
            tokens=seg.count,
            n=seg.count,
            vocab=f"{seg.vocab_size:,}",
            oov=seg.oov_count,
        )
        rows.append(
            f'<div class="tok-row">{escape(tokenizer_label(seg.name, lang))} '
            f"<small>· {escape(unit_label(seg.unit, lang))} · {escape(summary)}</small></div>"
            + chips_html(chips_of_segmentation(seg), (text,), lang, show_special=False)
        )
    return "".join(rows)


def comparison_rows(segmentations: list[Segmentation], text: str, lang: str) -> pd.DataFrame:
    """tokenizer, unit, tokens, vocabulary size, OOV, characters per token."""
    columns = ["tokenizer", "unit", "count", "vocab", "oov", "chars_per_token"]
    rows = [
        [
            tokenizer_label(seg.name, lang),
            unit_label(seg.unit, lang),
            seg.count,
            seg.vocab_size,
            seg.oov_count,
            round(len(text) / seg.count, 2) if seg.count else None,
        ]
        for seg in segmentations
    ]
    return pd.DataFrame(rows, columns=[t(f"tok.col.{c}", lang) for c in columns])


def compare_tokenizers_api(text: str, models: list[str] | None = None) -> dict:
    """API: `text` through each tokenizer in `models` (model ids and/or
    'baseline:word', 'baseline:char', 'baseline:jamo'); empty = bundled + loaded + baselines."""
    if isinstance(models, str):
        models = [m for m in models.split(",") if m.strip()]
    try:
        segmentations = compare_tokenizers(text, models or None)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
        raise user_error(exc) from exc
    return {"text": text, "results": [seg.as_json() for seg in segmentations]}


def run_comparison(text: str, names: list[str], lang: str):
    """UI action: chips and the summary table for the chosen tokenizers."""
    if not names:
        raise gr.Error(t("tok.error.no_tokenizers", lang))
    try:
        segmentations = compare_tokenizers(text, names)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
        raise user_error(exc, lang) from exc
    return comparison_html(segmentations, text, lang), comparison_rows(segmentations, text, lang)


def build(ctx: PanelContext) -> None:
    """The comparison section: tokenizer choice, Compare button, chips and a table."""
    info = gr.Markdown(t("tok.compare_info") + " " + t("tok.compare_tradeoff"))
    picked = gr.CheckboxGroup(
        choices("en"),
        value=default_selection(),
        label=t("tok.compare_choices"),
        elem_id="tok-compare-choices",
    )
    ctx.tr(picked, "tok.compare_choices", "label")
    button = ctx.tr(gr.Button(t("tok.compare_button"), elem_id="tok-compare"), "tok.compare_button")
    # Hidden until the first comparison: an empty table would show bare column numbers.
    table = gr.Dataframe(interactive=False, elem_id="tok-compare-table", visible=False)
    rows = gr.HTML(css_template=CHIP_CSS, js_on_load=None, elem_id="tok-compare-chips")
    shown = gr.State(False)  # re-run on language / text change only once the user compared

    def on_click(text, names, lang):
        html, frame = run_comparison(text, names, lang)
        return html, gr.Dataframe(frame, visible=True), True

    def refresh(active, text, names, lang):
        if not active or not names or not (text or "").strip():
            return gr.skip(), gr.skip()
        return run_comparison(text, names, lang)

    def relabel(names, lang):
        return gr.update(choices=choices(lang, names))

    def info_text(lang):
        return t("tok.compare_info", lang) + " " + t("tok.compare_tradeoff", lang)

    button.click(
        on_click,
        [ctx.text, picked, ctx.lang],
        [rows, table, shown],
        concurrency_limit=2,
        api_visibility="private",
    )
    ctx.key.change(
        refresh, [shown, ctx.text, picked, ctx.lang], [rows, table], api_visibility="private"
    )
    ctx.lang.change(
        refresh, [shown, ctx.text, picked, ctx.lang], [rows, table], api_visibility="private"
    )
    ctx.lang.change(relabel, [picked, ctx.lang], picked, api_visibility="private")
    ctx.lang.change(info_text, ctx.lang, info, api_visibility="private")
    ctx.model.change(
        lambda model, names, lang: gr.update(choices=choices(lang, [model, *names])),
        [ctx.model, picked, ctx.lang],
        picked,
        api_visibility="private",
    )
    gr.api(compare_tokenizers_api, api_name="compare_tokenizers")
