"""Pure render functions of the attention panel: AttentionView / HeadStats -> figure, text, table.

Nothing here reads the cache or creates widgets, so every function is testable alone.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import get_colorscale, sample_colorscale

from components.attention.slicing import CROSS, AttentionView
from components.page.i18n import t
from components.page.theme import (
    CATEGORICAL,
    MASKED,
    SEQUENTIAL,
    style,
    thinned_ticks,
    tick_angle,
    title_margin,
    wrap_title,
)
from models.lenses.head_stats import (
    BROAD,
    FIRST_TOKEN,
    MIXED,
    PREVIOUS_TOKEN,
    SELF,
    HeadStats,
    head_stats,
)

SMALL_MAPS_MAX_TOKENS = 24  # the layers x heads grid of small maps, up to this length
SMALL_MAPS_MAX_CELLS = 400_000
PATTERN_COLOURS = {
    PREVIOUS_TOKEN: CATEGORICAL[0],
    FIRST_TOKEN: CATEGORICAL[1],
    SELF: CATEGORICAL[2],
    BROAD: CATEGORICAL[5],
    MIXED: "#E8E8E8",
}
METRICS = ("label", "entropy", "mean_distance", "previous_share", "first_share", "self_share")


def causal_mask_path(n: int) -> str:
    """SVG path of the masked (future) cells of an n x n causal map, in cell coordinates.

    Cells are centred on integers; row 0 is at the top. The outline runs along the
    top and right edges, then down the staircase just above the diagonal.
    """
    path = [f"M 0.5,-0.5 H {n - 0.5} V {n - 1.5}"]
    path += [f"H {i + 0.5} V {i - 0.5}" for i in range(n - 2, -1, -1)]
    return " ".join(path) + " Z"


def view_title(view: AttentionView, n_heads: int, lang: str, with_part: bool = False) -> str:
    """ "Layer 3 · head 2" or "Layer 3 · mean of 12 heads"; `with_part` names the stack too."""
    which = (
        t("attention.mean_heads", lang, n=n_heads)
        if view.head == -1
        else t("attention.head_n", lang, n=view.head)
    )
    title = t("attention.title", lang, layer=view.layer, which=which)
    if with_part:
        return f"{t('attention.part.' + view.part, lang)} — {title}"
    return title


@lru_cache(maxsize=16)
def _styled_layout(height: int) -> dict:
    """The shared theme's layout of a titled figure as a plain dict (template resolved once)."""
    return style(go.Figure(), title="title", height=height).layout.to_plotly_json()


def heatmap_figure(
    view: AttentionView, title: str, lang: str, height: int | None = None, narrow: bool = False
):
    """Plotly heatmap of view.weights [Q, K]: queries on rows (top to bottom), keys on columns.

    Masked (future) cells of a causal view are left empty (NaN) and drawn grey
    underneath, so they read as "not allowed", not as "weight 0". The figure is
    assembled from plain dicts without plotly's per-property validation, which
    would cost ~100 ms per layer/head change at 512 tokens (the theme's
    template is validated once, in _styled_layout). `narrow`: the map gets half a
    row (side by side with another), so its key labels slant sooner.
    """
    weights = view.weights.astype(np.float32, copy=True)
    n_rows, n_cols = weights.shape
    if view.causal:
        weights[np.triu(np.ones_like(weights, dtype=bool), k=1)] = np.nan
    top = float(np.nanmax(weights)) if weights.size else 1.0
    trace = {
        "type": "heatmap",
        "z": weights,
        "x": list(view.key_labels),
        "y": list(view.query_labels),
        "zmin": 0.0,
        "zmax": max(top, 1e-6),
        "colorscale": get_colorscale(SEQUENTIAL),  # a list: the browser's colour bar needs it
        "colorbar": {"title": {"text": t("attention.weight", lang)}, "thickness": 14},
        "hovertemplate": t("attention.hover", lang) + "<extra></extra>",
        "hoverongaps": False,
    }
    axis = {"type": "category", "showgrid": False, "tickmode": "array"}
    size = height or int(min(860, max(420, 150 + 16 * n_rows)))
    layout = copy.deepcopy(_styled_layout(size))
    title = wrap_title(title)
    key_ticks = thinned_ticks(view.key_labels)
    layout = {
        **layout,
        "title": {"text": title},
        "margin": {**layout["margin"], "t": title_margin(title)},
        "xaxis": {
            **axis,
            "title": {"text": t("attention.keys", lang)},
            "tickangle": tick_angle(key_ticks, narrow),
            "tickvals": key_ticks,
            "automargin": True,
        },
        "yaxis": {
            **axis,
            "title": {"text": t("attention.queries", lang)},
            "tickvals": thinned_ticks(view.query_labels),
            "autorange": "reversed",
            "automargin": True,
        },
        "shapes": [],
    }
    if view.causal and n_rows > 1:
        mask = {"type": "path", "path": causal_mask_path(n_rows), "fillcolor": MASKED}
        layout["shapes"] = [{**mask, "line": {"width": 0}, "layer": "below"}]
    return go.Figure({"data": [trace], "layout": layout}, _validate=False)


def caption(view: AttentionView, lang: str, hide_requested: bool = False) -> str:
    """The sentence under the heatmap: what the mask means, and the attention-sink note;
    with `hide_requested` on a text without special tokens, that there was none to hide."""
    if view.part == CROSS:
        lines = [t("attention.caption_cross", lang)]
    elif view.causal:
        lines = [t("attention.caption_causal", lang)]
    else:
        lines = [t("attention.caption_bidirectional", lang)]
    lines.append(t("attention.caption_sinks", lang))
    if view.hidden_specials:
        lines.append(t("attention.caption_hidden", lang, n=view.hidden_specials))
    elif hide_requested:
        lines.append(t("attention.caption_no_specials", lang))
    return "\n\n".join(lines)


def head_summary(view: AttentionView, lang: str) -> str:
    """Measured numbers and the pattern label of the matrix on screen (self-attention only)."""
    rows, cols = view.weights.shape
    if view.part == CROSS or rows != cols or rows < 2:
        return t("attention.summary_none", lang)
    stats = head_stats(view.weights).row()
    return t(
        "attention.summary",
        lang,
        label=pattern_name(stats["label"], lang),
        entropy=stats["entropy"],
        normalized=stats["normalized_entropy"],
        distance=stats["mean_distance"],
        previous=100 * stats["previous_share"],
        first=100 * stats["first_share"],
        self=100 * stats["self_share"],
    )


def pattern_name(label: str, lang: str) -> str:
    return t(f"attention.pattern.{label}", lang)


def _cell_text(stats: HeadStats, metric: str, layer: int, head: int, lang: str) -> str:
    if metric == "label":
        return t(f"attention.pattern_short.{stats.labels[layer, head]}", lang)
    value = float(getattr(stats, metric)[layer, head])
    return f"{value:.2f}"


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance (0 black .. 1 white) of "#rrggbb" or "rgb(r, g, b)"."""
    if colour.startswith("#"):
        channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    else:
        channels = [float(c) for c in colour[colour.index("(") + 1 : -1].split(",")[:3]]
    linear = [
        c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
        for c in (v / 255 for v in channels)
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def text_colour(background: str) -> str:
    """Black or white, whichever has the higher WCAG contrast on `background`: dark
    cells (the blue "prev", low cividis values) get white text, light ones black."""
    luminance = relative_luminance(background)
    on_black = (luminance + 0.05) / 0.05
    on_white = 1.05 / (luminance + 0.05)
    return "#000000" if on_black >= on_white else "#FFFFFF"


def _cell_colours(stats: HeadStats, metric: str) -> list[list[str]]:
    """[L][H] background colours: one per pattern, or cividis over the metric's range."""
    if metric == "label":
        return [[PATTERN_COLOURS[str(label)] for label in row] for row in stats.labels]
    values = np.nan_to_num(getattr(stats, metric).astype(float))
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return [sample_colorscale(SEQUENTIAL, list(row)) for row in scaled]


def overview_table(stats: HeadStats, metric: str, lang: str):
    """Layers x heads table (pandas Styler): one cell per head, coloured by `metric`.

    Column 0 is the layer number; column h+1 is head h (what a click reports).
    """
    if metric not in METRICS:
        metric = "label"
    n_layers, n_heads = stats.labels.shape
    layer_column = t("attention.layer_short", lang)
    columns = [layer_column] + [f"{t('attention.head_short', lang)}{h}" for h in range(n_heads)]
    rows = [
        [str(layer)] + [_cell_text(stats, metric, layer, h, lang) for h in range(n_heads)]
        for layer in range(n_layers)
    ]
    frame = pd.DataFrame(rows, columns=columns)
    colours = _cell_colours(stats, metric)
    css = [
        [""] + [f"background-color: {c}; color: {text_colour(c)}" for c in row] for row in colours
    ]
    return frame.style.apply(lambda _: pd.DataFrame(css, columns=columns), axis=None)


def _white_gaps(figure: go.Figure, shape: tuple[int, int], tile_h: int, tile_w: int) -> None:
    """White bands between the tiles (the background is grey where cells are masked)."""
    rows, cols = shape
    gap = {"type": "rect", "fillcolor": "white", "line": {"width": 0}, "layer": "above"}
    for y in range(tile_h - 1, rows, tile_h):
        figure.add_shape(**gap, x0=-0.5, x1=cols - 0.5, y0=y - 0.5, y1=y + 0.5)
    for x in range(tile_w - 1, cols, tile_w):
        figure.add_shape(**gap, x0=x - 0.5, x1=x + 0.5, y0=-0.5, y1=rows - 0.5)


def small_maps_figure(stack: np.ndarray, causal: bool, lang: str) -> go.Figure | None:
    """Every head of every layer as a small map, in one heatmap trace (layers down, heads across).

    stack: [L, H, Q, K]. None when the input is too long for the maps to be read.
    """
    n_layers, n_heads, q, k = stack.shape
    tile_h, tile_w = q + 1, k + 1
    if (
        max(q, k) > SMALL_MAPS_MAX_TOKENS
        or n_layers * tile_h * n_heads * tile_w > SMALL_MAPS_MAX_CELLS
    ):
        return None
    grid = np.full((n_layers * tile_h - 1, n_heads * tile_w - 1), np.nan, dtype=np.float32)
    for layer in range(n_layers):
        for head in range(n_heads):
            tile = stack[layer, head].astype(np.float32, copy=True)
            if causal:
                tile[np.triu(np.ones_like(tile, dtype=bool), k=1)] = np.nan
            grid[layer * tile_h : layer * tile_h + q, head * tile_w : head * tile_w + k] = tile
    figure = go.Figure(
        go.Heatmap(
            z=grid,
            zmin=0.0,
            zmax=1.0,
            colorscale=SEQUENTIAL,
            showscale=False,
            hovertemplate=t("attention.weight", lang) + " %{z:.3f}<extra></extra>",
            hoverongaps=False,
        )
    )
    _white_gaps(figure, grid.shape, tile_h, tile_w)
    figure.update_yaxes(
        autorange="reversed",
        showgrid=False,
        zeroline=False,
        tickmode="array",
        tickvals=[layer * tile_h + (q - 1) / 2 for layer in range(n_layers)],
        ticktext=[f"{t('attention.layer_short', lang)}{layer}" for layer in range(n_layers)],
    )
    figure.update_xaxes(
        showgrid=False,
        zeroline=False,
        side="top",
        tickmode="array",
        tickvals=[head * tile_w + (k - 1) / 2 for head in range(n_heads)],
        ticktext=[f"{t('attention.head_short', lang)}{head}" for head in range(n_heads)],
    )
    figure.update_layout(plot_bgcolor=MASKED if causal else "white")
    height = int(min(1400, max(260, 60 + n_layers * 14 * min(q, 8) // 2)))
    return style(figure, title=t("attention.small_maps_title", lang), height=height)
