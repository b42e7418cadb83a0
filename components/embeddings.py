"""Embedding panel: the tokens as points in a 3D projection of the model's space."""

from __future__ import annotations

import gradio as gr
import numpy as np
import plotly.graph_objects as go

from components.common import PanelContext, analysis_for, analysis_of
from components.i18n import t

METHODS = ("pca", "umap", "tsne")


def representation(analysis, layer: int) -> np.ndarray:
    """[T, D] vectors: layer 0 = token-embedding lookup, l = after block l, -1 = last."""
    if layer == -1:
        layer = analysis.n_layers
    if not 0 <= layer <= analysis.n_layers:
        raise gr.Error(f"layer must be between 0 and {analysis.n_layers}, or -1 for the last.")
    return analysis.token_embeddings if layer == 0 else analysis.hidden_states[layer]


def project(vectors: np.ndarray) -> np.ndarray:
    """[T, D] -> [T, 3] by PCA over these vectors (padded when T < 3)."""
    centred = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    points = centred @ vt[:3].T
    return np.pad(points, ((0, 0), (0, 3 - points.shape[1])))


def embeddings(model: str, text: str, layer: int, method: str) -> dict:
    """API: the sentence's tokens projected to 3D at a layer."""
    if method not in METHODS:
        raise gr.Error(f"method must be one of {', '.join(METHODS)}.")
    analysis = analysis_of(model, text)
    points = project(representation(analysis, int(layer)))
    return {
        "tokens": [tok.text for tok in analysis.tokens],
        "points": points.round(6).tolist(),
        "method": method,
        "layer": int(layer),
    }


def scatter(key: list, lang: str) -> go.Figure:
    analysis = analysis_for(key, lang)
    points = project(representation(analysis, 0))
    labels = [tok.text for tok in analysis.tokens]
    return go.Figure(
        go.Scatter3d(
            x=points[:, 0], y=points[:, 1], z=points[:, 2], mode="markers+text", text=labels
        )
    )


def build(ctx: PanelContext) -> None:
    gr.Markdown(t("panel.coming"))
    plot = gr.Plot()
    ctx.key.change(scatter, [ctx.key, ctx.lang], plot, api_visibility="private")
    gr.api(embeddings, api_name="embeddings")
