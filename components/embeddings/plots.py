"""Pure render functions of the embedding panel: arrays in, plotly figures / rows out.

Shapes: T sentence tokens, N background tokens, L blocks, D model width.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from components.page.context import escape
from components.page.i18n import t
from components.page.theme import (
    CATEGORICAL,
    MASKED,
    SEQUENTIAL,
    style,
    thinned_ticks,
    tick_angle,
)

TOKEN = "token"
INPUT = "input"
MAX_LABELLED = 30  # beyond this many tokens, names show on hover only
LABEL_CHARS = 8  # a label in the 3D scene is cut to this many characters of text
# Where each label sits around its point, in turn, so neighbouring labels spread out.
LABEL_POSITIONS = ("top center", "bottom center", "middle right", "middle left")
MANY_COLOURS = "Turbo"  # sampled when there are more paths than categorical colours


def representation_choices(
    n_layers: int, lang: str, adds_position: bool = True
) -> list[tuple[str, str]]:
    """Dropdown choices: token lookup, token + position, then after each block.

    A model without a position table (rotary: positions act inside attention) adds
    nothing before block 1, and the second choice says so."""
    input_key = "emb.rep_input" if adds_position else "emb.rep_input_rotary"
    choices = [(t("emb.rep_token", lang), TOKEN), (t(input_key, lang), INPUT)]
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


def default_token(analysis) -> int:
    """The token a view starts on: the first real word, not <bos> / [CLS]."""
    return next((i for i, tok in enumerate(analysis.tokens) if not tok.special), 0)


def chosen_token(analysis, index, allow_special: bool = True) -> int:
    """`index` where it names a token of this analysis, else the default token.

    With allow_special False a special token counts as no choice: a new analysis
    moves the dropdown's starting 0 (<bos>, [CLS]) on to the first real word, while
    a view still draws a special token the user picked by hand."""
    try:
        index = int(index)
    except (TypeError, ValueError):
        return default_token(analysis)
    if not 0 <= index < analysis.n_tokens:
        return default_token(analysis)
    if analysis.tokens[index].special and not allow_special:
        return default_token(analysis)
    return index


def path_colours(n: int) -> list[str]:
    """[n] distinct colours: the categorical palette, or `n` samples of Turbo beyond it."""
    if n <= len(CATEGORICAL):
        return list(CATEGORICAL[:n])
    return sample_colorscale(MANY_COLOURS, list(np.linspace(0.03, 0.97, n)), colortype="rgb")


def scene_label(label: str) -> str:
    """A short label for the 3D scene: the text (after an 'i:' position) cut to
    LABEL_CHARS characters, its surrounding spaces dropped."""
    index, colon, text = label.partition(":")
    if not (colon and index.replace(",", "").isdigit()):
        index, text = "", label
    text = text.strip() or text
    short = f"{text[:LABEL_CHARS]}…" if len(text) > LABEL_CHARS else text
    return f"{index}:{short}" if index else short


def merged_labels(points: np.ndarray, labels: list[str]) -> list[str]:
    """One label per spot: tokens on the same point (a repeated word before any
    position is added) share one label, '1,6,10:배', instead of writing over each other."""
    spots: dict[tuple, list[int]] = {}
    for i, point in enumerate(np.round(np.asarray(points, dtype=np.float64), 4)):
        spots.setdefault(tuple(point), []).append(i)
    merged = [""] * len(labels)
    for members in spots.values():
        parts = [labels[i].partition(":") for i in members]
        if len(members) > 1 and all(colon and index.isdigit() for index, colon, _ in parts):
            texts = list(dict.fromkeys(text for _, _, text in parts))
            merged[members[0]] = ",".join(index for index, _, _ in parts) + ":" + "/".join(texts)
        else:
            merged[members[0]] = labels[members[0]]
    return merged


def label_positions(n: int) -> list[str]:
    """[n] text positions taken in turn, so labels of nearby points do not stack."""
    return [LABEL_POSITIONS[i % len(LABEL_POSITIONS)] for i in range(n)]


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
            text=[scene_label(label) if label else "" for label in merged_labels(points, labels)],
            textposition=label_positions(len(labels)),
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
            marker={"size": 5, "color": CATEGORICAL[0]},
            textfont={"size": 11},
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
    colours = path_colours(len(paths))
    where = label_positions(len(paths))
    end_labels = len(paths) <= MAX_LABELLED
    for n, (path, label) in enumerate(zip(paths, labels, strict=True)):
        colour = colours[n]
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
                mode="markers+text" if end_labels else "markers",
                marker={"size": 6, "color": colour, "symbol": "diamond"},
                text=[scene_label(label)],
                textposition=where[n],
                textfont={"size": 11, "color": colour},
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
    # a fixed set of written labels: with plotly choosing them, the margins that fit
    # them are re-measured on every redraw (a tenth of a second at 140 tokens)
    ticks = thinned_ticks(labels)
    axis = {"type": "category", "tickmode": "array", "tickvals": ticks, "automargin": True}
    figure.update_xaxes(**axis, tickangle=tick_angle(ticks, narrow=True))
    figure.update_yaxes(**axis, autorange="reversed")
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
