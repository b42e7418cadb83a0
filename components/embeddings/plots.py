"""Pure render functions of the embedding panel: arrays in, plotly figures / rows out.

Shapes: T sentence tokens, N background tokens, L blocks, D model width.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from components.page.context import escape
from components.page.i18n import t
from components.page.theme import CATEGORICAL, MASKED, SEQUENTIAL, style

TOKEN = "token"
INPUT = "input"
MAX_LABELLED = 60  # beyond this many tokens, names show on hover only


def representation_choices(n_layers: int, lang: str) -> list[tuple[str, str]]:
    """Dropdown choices: token lookup, token + position, then after each block."""
    choices = [(t("emb.rep_token", lang), TOKEN), (t("emb.rep_input", lang), INPUT)]
    choices += [(t("emb.rep_layer", lang, layer=n), str(n)) for n in range(1, n_layers + 1)]
    return choices


def layer_of(representation: str, n_layers: int) -> int:
    """Index into hidden_states [L+1]: token and input -> 0, 'l' -> l."""
    if representation in (TOKEN, INPUT):
        return 0
    layer = int(representation)
    if not 1 <= layer <= n_layers:
        raise ValueError(f"layer {layer} is outside 1..{n_layers}")
    return layer


def sentence_vectors(analysis, representation: str) -> np.ndarray:
    """[T, D] the sentence's vectors for a representation."""
    if representation == TOKEN:
        return analysis.token_embeddings
    return analysis.hidden_states[layer_of(representation, analysis.n_layers)]


def token_labels(analysis, escaped: bool = True) -> list[str]:
    """'i:text' per token: the text from the input's offsets (Korean stays whole).

    Escaped for SVG text (axis ticks, legends, hovers, which read HTML); raw for
    the text drawn inside a WebGL 3D scene, which shows entities literally.
    """
    shown = [f"{i}:{tok.text}" for i, tok in enumerate(analysis.tokens)]
    return [escape(label) for label in shown] if escaped else shown


def token_hover(analysis) -> list[str]:
    """Hover text per token: shown text, raw piece, id and position."""
    return [
        f"{escape(tok.text)}<br>piece {escape(tok.piece)} · id {tok.id} · pos {i}"
        for i, tok in enumerate(analysis.tokens)
    ]


def _background_trace(points: np.ndarray, names: list[str], lang: str) -> go.Scatter3d:
    return go.Scatter3d(
        x=points[:, 0],
        y=points[:, 1],
        z=points[:, 2],
        mode="markers",
        marker={"size": 2, "color": MASKED, "opacity": 0.35},
        text=[escape(name) for name in names],
        hovertemplate="%{text}<extra></extra>",
        name=t("emb.background", lang, count=len(points)),
    )


def scatter_figure(
    points: np.ndarray,
    labels: list[str],
    hover: list[str],
    background: np.ndarray,
    background_names: list[str],
    lang: str,
    title: str = "",
) -> go.Figure:
    """3D scatter: faint background cloud [N, 3] and the tokens [T, 3].

    `labels` are drawn in the WebGL scene (raw text); `hover` is HTML (escaped)."""
    figure = go.Figure(_background_trace(background, background_names, lang))
    mode = "markers+text" if len(points) <= MAX_LABELLED else "markers"
    figure.add_trace(
        go.Scatter3d(
            x=points[:, 0],
            y=points[:, 1],
            z=points[:, 2],
            mode=mode,
            text=labels,
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
            marker={"size": 5, "color": CATEGORICAL[0]},
            textfont={"size": 12},
            name=t("emb.tokens", lang),
        )
    )
    return _axes(style(figure, title, height=560))


def paths_figure(
    paths: np.ndarray,
    labels: list[str],
    background: np.ndarray,
    background_names: list[str],
    lang: str,
    title: str = "",
) -> go.Figure:
    """Trajectories [K, L+1, 3]: one line per token from layer 0 (circle) to L (diamond).

    `labels` are raw; they are escaped where plotly reads HTML (legend, hover)."""
    figure = go.Figure(_background_trace(background, background_names, lang))
    for n, (path, label) in enumerate(zip(paths, labels, strict=True)):
        colour = CATEGORICAL[n % len(CATEGORICAL)]
        steps = [t("emb.step", lang, layer=layer) for layer in range(len(path))]
        figure.add_trace(
            go.Scatter3d(
                x=path[:, 0],
                y=path[:, 1],
                z=path[:, 2],
                mode="lines+markers",
                line={"color": colour, "width": 4},
                marker={"size": 3, "color": colour},
                text=[f"{escape(label)} · {step}" for step in steps],
                hovertemplate="%{text}<extra></extra>",
                name=escape(label),
            )
        )
        figure.add_trace(
            go.Scatter3d(
                x=path[[-1], 0],
                y=path[[-1], 1],
                z=path[[-1], 2],
                mode="markers+text",
                marker={"size": 6, "color": colour, "symbol": "diamond"},
                text=[label],
                hoverinfo="skip",
                showlegend=False,
            )
        )
    return _axes(style(figure, title, height=560))


def _axes(figure: go.Figure) -> go.Figure:
    axis = {"showticklabels": False, "title": ""}
    figure.update_layout(
        scene={"xaxis": axis, "yaxis": axis, "zaxis": axis, "aspectmode": "cube"},
        legend={"orientation": "h", "y": -0.02},
    )
    return figure


def similarity_figure(matrix: np.ndarray, labels: list[str], lang: str) -> go.Figure:
    """[T, T] cosine similarity heatmap (rows and columns are the tokens)."""
    figure = go.Figure(
        go.Heatmap(
            z=np.round(matrix, 3).astype(np.float32),
            x=labels,
            y=labels,
            zmin=-1,
            zmax=1,
            colorscale=SEQUENTIAL,
            hovertemplate="%{y} · %{x}<br>cos %{z:.3f}<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed")
    return style(figure, t("emb.similarity_title", lang), height=480)


def distance_figure(matrix: np.ndarray, words: list[str], lang: str) -> go.Figure:
    """[W, W] cosine distance (1 - cos) between typed words, with the numbers printed."""
    figure = go.Figure(
        go.Heatmap(
            z=np.round(matrix, 3),
            x=[escape(word) for word in words],
            y=[escape(word) for word in words],
            colorscale=SEQUENTIAL,
            reversescale=True,
            texttemplate="%{z:.2f}",
            hovertemplate="%{y} · %{x}<br>1 − cos = %{z:.3f}<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed")
    return style(figure, t("emb.words_distance_title", lang), height=420)


def neighbour_rows(input_side: list[dict], context_side: list[dict] | None) -> list[list]:
    """Table rows: rank, input neighbour, cos, contextual neighbour, cos."""
    rows = []
    for rank, near in enumerate(input_side, start=1):
        row = [rank, repr(near["text"]), round(near["cosine"], 3), "", None]
        if context_side and rank <= len(context_side):
            other = context_side[rank - 1]
            row[3:] = [repr(other["text"]), round(other["cosine"], 3)]
        rows.append(row)
    return rows
