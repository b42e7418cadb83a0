"""Attention panel: what every head of every layer looks at."""

from __future__ import annotations

import gradio as gr
import plotly.graph_objects as go

from components import bertviz_view, qk_walkthrough
from components.common import PanelContext, analysis_for, analysis_of
from components.i18n import t


def attention_weights(analysis, layer: int, head: int):
    """[T, T] weights of one head (head -1 = mean over heads); rows are queries."""
    if not 0 <= layer < analysis.n_layers:
        raise gr.Error(f"layer must be between 0 and {analysis.n_layers - 1}.")
    if not -1 <= head < analysis.n_heads:
        raise gr.Error(f"head must be between 0 and {analysis.n_heads - 1}, or -1 for the mean.")
    per_layer = analysis.attentions[layer]
    return per_layer.mean(axis=0) if head == -1 else per_layer[head]


def attention(model: str, text: str, layer: int, head: int) -> dict:
    """API: one layer's attention matrix for one head (-1 = mean over heads)."""
    analysis = analysis_of(model, text)
    weights = attention_weights(analysis, int(layer), int(head))
    return {
        "tokens": [tok.text for tok in analysis.tokens],
        "n_layers": analysis.n_layers,
        "n_heads": analysis.n_heads,
        "layer": int(layer),
        "head": int(head),
        "weights": weights.round(6).tolist(),
    }


def heatmap(key: list, lang: str) -> go.Figure:
    analysis = analysis_for(key, lang)
    labels = [f"{i}:{tok.text}" for i, tok in enumerate(analysis.tokens)]
    weights = attention_weights(analysis, analysis.n_layers - 1, -1)
    return go.Figure(go.Heatmap(z=weights, x=labels, y=labels, colorscale="Blues"))


def build(ctx: PanelContext) -> None:
    gr.Markdown(t("panel.coming"))
    plot = gr.Plot()
    ctx.key.change(heatmap, [ctx.key, ctx.lang], plot, api_visibility="private")
    gr.api(attention, api_name="attention")
    with gr.Accordion("Q·K step by step", open=False):
        qk_walkthrough.build(ctx)
    with gr.Accordion("bertviz", open=False):
        bertviz_view.build(ctx)
