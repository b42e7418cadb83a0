"""Tokenization panel: how the text becomes token ids."""

from __future__ import annotations

import gradio as gr

from components.common import PanelContext, analysis_for, user_error
from components.i18n import t
from models.analysis import encode
from models.loading import load_model
from models.tokens import build_tokens


def tokenize(model: str, text: str) -> dict:
    """API: the model's own tokenization of `text`, with offsets and special flags."""
    try:
        loaded = load_model(model)
        encoding, texts = encode(loaded, text)
        tokens = build_tokens(loaded.tokenizer, encoding, texts)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
        raise user_error(exc) from exc
    return {
        "model": loaded.model_id,
        "family": loaded.family,
        "tokens": [token.as_json() for token in tokens],
        "count": len(tokens),
    }


def token_rows(key: list, lang: str) -> list[list]:
    """One row per token: position, shown text, raw piece, id, special."""
    if not key:
        return []
    analysis = analysis_for(key, lang)
    return [[i, tok.text, tok.piece, tok.id, tok.special] for i, tok in enumerate(analysis.tokens)]


def build(ctx: PanelContext) -> None:
    gr.Markdown(t("panel.coming"))
    table = gr.Dataframe(headers=["#", "text", "piece", "id", "special"], interactive=False)
    ctx.key.change(token_rows, [ctx.key, ctx.lang], table, api_visibility="private")
    gr.api(tokenize, api_name="tokenize")
