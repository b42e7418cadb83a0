"""Positional encoding: learned tables, the sinusoidal formula, and rotary frequencies.

Shapes: P positions shown, D model width, head_dim / 2 rotary pairs.
"""

from __future__ import annotations

import gradio as gr
import numpy as np
import plotly.graph_objects as go

from components.page.context import PanelContext, analysis_for, user_error
from components.page.i18n import t
from components.page.theme import CATEGORICAL, DIVERGING, SEQUENTIAL, style
from models.lenses.positional import (
    Rotary,
    learned_position_table,
    rotary_settings,
    sinusoidal_table,
)

POSITIONS_SHOWN = 64
SINUSOID_WIDTH = 128


def table_heatmap(table: np.ndarray, title: str) -> go.Figure:
    """[P, D] heatmap: rows are positions, columns are dimensions."""
    limit = float(np.abs(table).max()) or 1.0
    figure = go.Figure(
        go.Heatmap(
            z=np.round(table, 3).astype(np.float32),
            zmin=-limit,
            zmax=limit,
            colorscale=DIVERGING,
            hovertemplate="pos %{y} · dim %{x}<br>%{z:.3f}<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed", title="position")
    figure.update_xaxes(title="dimension")
    return style(figure, title, height=380)


def positions_3d(table: np.ndarray, lang: str) -> go.Figure:
    """[P, D] position vectors -> their own PCA in 3D, joined in order, coloured by position."""
    centred = table - table.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    points = np.zeros((len(table), 3))
    points[:, : min(3, len(vt))] = centred @ vt[:3].T
    figure = go.Figure(
        go.Scatter3d(
            x=points[:, 0],
            y=points[:, 1],
            z=points[:, 2],
            mode="lines+markers",
            marker={"size": 4, "color": np.arange(len(table)), "colorscale": SEQUENTIAL},
            line={"color": "#999999", "width": 2},
            text=[f"pos {p}" for p in range(len(table))],
            hovertemplate="%{text}<extra></extra>",
        )
    )
    return style(figure, t("emb.pos_3d_title", lang), height=420)


def rotary_figure(settings: list[Rotary], width: int, lang: str) -> go.Figure:
    """Wavelength (positions per full turn) of each rotary pair, log scale, beside the
    sinusoidal encoding's wavelengths for comparison."""
    figure = go.Figure()
    for n, rotary in enumerate(settings):
        figure.add_trace(
            go.Scatter(
                x=np.arange(len(rotary.frequencies)),
                y=rotary.wavelengths,
                mode="lines+markers",
                marker={"size": 4},
                line={"color": CATEGORICAL[n % len(CATEGORICAL)]},
                name=f"RoPE {rotary.kind}: θ={rotary.theta:g}, head_dim={rotary.head_dim}",
            )
        )
    width = settings[0].head_dim if settings else width  # same number of pairs as RoPE
    pairs = np.arange(0, width, 2)
    figure.add_trace(
        go.Scatter(
            x=pairs // 2,
            y=2 * np.pi * 10000.0 ** (pairs / width),
            mode="lines",
            line={"dash": "dot", "color": "#555555"},
            name=t("emb.pos_sinusoid_line", lang, width=width),
        )
    )
    figure.update_yaxes(type="log", title=t("emb.pos_wavelength", lang))
    figure.update_xaxes(title=t("emb.pos_pair", lang))
    figure.update_layout(legend={"orientation": "h", "y": -0.25})
    return style(figure, t("emb.pos_rotary_title", lang), height=420)


def render_positions(key: list, lang: str):
    """(learned-or-rotary figure, 3D positions or None, sinusoidal heatmap, note)."""
    if not key:
        return gr.update(), gr.update(), gr.update(), gr.update()
    analysis = analysis_for(key, lang)
    model_id = analysis.model_id
    width = analysis.token_embeddings.shape[1]
    try:
        table = learned_position_table(model_id, POSITIONS_SHOWN)
        rotary = [] if table is not None else rotary_settings(model_id)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
        raise user_error(exc, lang) from exc
    sinusoid = table_heatmap(
        sinusoidal_table(POSITIONS_SHOWN, min(width, SINUSOID_WIDTH)),
        t("emb.pos_sinusoid_title", lang, width=min(width, SINUSOID_WIDTH)),
    )
    if table is not None:
        learned = table_heatmap(table, t("emb.pos_learned_title", lang, model=model_id))
        return (
            learned,
            gr.update(value=positions_3d(table, lang), visible=True),
            sinusoid,
            (t("emb.pos_learned_note", lang, model=model_id)),
        )
    if rotary:
        note = t("emb.pos_rotary_note", lang, model=model_id)
        return rotary_figure(rotary, width, lang), gr.update(visible=False), sinusoid, note
    note = t("emb.pos_none_note", lang, model=model_id)
    return go.Figure(), gr.update(visible=False), sinusoid, note


def build(ctx: PanelContext) -> None:
    ctx.tr(gr.Markdown(t("emb.pos_explain")), "emb.pos_explain")
    note = gr.Markdown(elem_id="emb-pos-note")
    with gr.Row():
        main = gr.Plot(show_label=False, elem_id="emb-pos-main")
        in_3d = gr.Plot(show_label=False, elem_id="emb-pos-3d")
    sinusoid = gr.Plot(show_label=False, elem_id="emb-pos-sinusoid")
    outputs = [main, in_3d, sinusoid, note]
    for trigger in (ctx.key, ctx.lang):
        trigger.change(render_positions, [ctx.key, ctx.lang], outputs, api_visibility="private")
