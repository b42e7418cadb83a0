"""Next-token panel: logits -> softmax -> the choice."""

from __future__ import annotations

import gradio as gr
import numpy as np
import plotly.graph_objects as go

from components.common import PanelContext, analysis_for, analysis_of, user_error
from components.i18n import t
from models.loading import load_model
from models.sampling import distribution

SHOWN = 20


def candidates(analysis, temperature: float, top_k: int, top_p: float, decode) -> dict:
    """The top candidates for the token after the text, after the sampling knobs."""
    if analysis.logits_last is None:
        raise gr.Error(f"'{analysis.model_id}' has no language-model head to predict tokens.")
    try:
        dist = distribution(analysis.logits_last, temperature, top_k, top_p)
    except Exception as exc:  # noqa: BLE001
        raise user_error(exc) from exc
    order = np.lexsort((-dist.probs, -dist.final))[:SHOWN]
    return {
        "candidates": [
            {
                "token": decode(int(i)),
                "id": int(i),
                "prob": float(dist.final[i]),
                "logit": float(analysis.logits_last[i]),
                "kept": bool(dist.kept[i]),
            }
            for i in order
        ],
        "entropy": dist.entropy,
    }


def next_token(model: str, text: str, temperature: float, top_k: int, top_p: float) -> dict:
    """API: next-token candidates with temperature / top-k / top-p as in `generate`."""
    analysis = analysis_of(model, text)
    tokenizer = load_model(model).tokenizer
    return candidates(analysis, temperature, top_k, top_p, lambda i: tokenizer.decode([i]))


def bars(key: list, lang: str) -> go.Figure | None:
    analysis = analysis_for(key, lang)
    if analysis.logits_last is None:
        return None
    tokenizer = load_model(analysis.model_id).tokenizer
    result = candidates(analysis, 1.0, 0, 1.0, lambda i: tokenizer.decode([i]))
    rows = result["candidates"][:10]
    return go.Figure(
        go.Bar(x=[r["prob"] for r in rows], y=[repr(r["token"]) for r in rows], orientation="h")
    )


def build(ctx: PanelContext) -> None:
    gr.Markdown(t("panel.coming"))
    plot = gr.Plot()
    ctx.key.change(bars, [ctx.key, ctx.lang], plot, api_visibility="private")
    gr.api(next_token, api_name="next_token")
