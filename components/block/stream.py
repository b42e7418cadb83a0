"""The residual stream across layers: how much each attention and FFN adds.

Pure functions (StreamView -> plotly figure). The norms were recorded by hooks
inside the one forward pass (models.lenses.residual); nothing here runs a model.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from components.page.i18n import t
from components.page.theme import SEQUENTIAL, style
from models.lenses.block import StreamView

VIEWS = ("attention", "ffn", "share", "lines")
LINE_COLOURS = {"attention": "#0072B2", "cross": "#009E73", "ffn": "#CC79A7"}


def heatmap_figure(view: StreamView, measure: str, labels: list[str], lang: str) -> go.Figure:
    """[layers x tokens]: |attention| / |x| or |FFN| / |x|, or attention's share of the
    block's change (|attention| / (|attention| + ... + |FFN|))."""
    if measure == "share":
        z = view.share[:, view.kinds.index("attention")]
        title, zmin, zmax = t("block.stream_share_title", lang), 0.0, 1.0
    else:
        kind = measure if measure in view.kinds else "attention"
        z = view.relative[:, view.kinds.index(kind)]
        title, zmin, zmax = t(f"block.stream_{kind}_title", lang), 0.0, None
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=list(range(z.shape[1])),
            y=list(range(z.shape[0])),
            customdata=np.broadcast_to(np.array(labels, dtype=object), z.shape),
            colorscale=SEQUENTIAL,
            zmin=zmin,
            zmax=zmax,
            hovertemplate=t("block.stream_hover", lang) + "<extra></extra>",
            colorbar=dict(thickness=12),
        )
    )
    ticks = list(range(0, len(labels), max(1, len(labels) // 40)))
    figure.update_xaxes(
        tickvals=ticks,
        ticktext=[labels[i] for i in ticks],
        tickangle=-45,
        title=t("block.stream_tokens", lang),
    )
    figure.update_yaxes(title=t("block.stream_layers", lang), autorange="reversed")
    style(figure, title, height=max(360, 18 * z.shape[0] + 160))
    figure.update_layout(meta={"measure": measure, "shape": list(z.shape)})
    return figure


def lines_figure(view: StreamView, lang: str) -> go.Figure:
    """Per layer, the mean over tokens of |added| / |x| for each sub-layer, and |x| itself."""
    layers = np.arange(view.stream.shape[0])
    figure = go.Figure()
    for index, kind in enumerate(view.kinds):
        figure.add_scatter(
            x=layers,
            y=view.relative[:, index].mean(axis=1),
            mode="lines+markers",
            name=t(f"block.stream_line_{kind}", lang),
            line=dict(color=LINE_COLOURS[kind]),
        )
    figure.add_scatter(
        x=layers,
        y=view.stream.mean(axis=1),
        mode="lines",
        yaxis="y2",
        name=t("block.stream_line_stream", lang),
        line=dict(color="#555555", dash="dash"),
    )
    figure.update_layout(
        yaxis=dict(title=t("block.stream_relative", lang)),
        yaxis2=dict(title="|x|", overlaying="y", side="right", showgrid=False),
        xaxis=dict(title=t("block.stream_layers", lang)),
        legend=dict(orientation="h", y=-0.25),
        meta={"measure": "lines"},
    )
    style(figure, t("block.stream_lines_title", lang), height=400)
    return figure


def stream_figure(view: StreamView, measure: str, labels: list[str], lang: str) -> go.Figure:
    if measure == "lines":
        return lines_figure(view, lang)
    return heatmap_figure(view, measure, labels, lang)
