"""The architecture map: the model drawn from its /architecture record.

Pure functions (record -> plotly figure / table rows / Markdown). The drawing is
shapes and text placed from the record's own block order, so a pre-norm, a
post-norm and Gemma's sandwich come out different because the models are.
"""

from __future__ import annotations

import plotly.graph_objects as go

from components.page.context import escape
from components.page.i18n import t
from components.page.theme import style

NORM_NAMES = {"layernorm": "LayerNorm", "rmsnorm": "RMSNorm"}
COLOURS = {  # Okabe-Ito, light fills with a dark outline
    "embedding": ("#FBF3B5", "#8A7B00"),
    "norm": ("#F7DDA6", "#B37400"),
    "attention": ("#CDE9F8", "#0072B2"),
    "cross_attention": ("#BFE6D9", "#007A5A"),
    "ffn": ("#F1D5E6", "#A2507F"),
    "head": ("#D6E4F2", "#0072B2"),
    "add": ("#FFFFFF", "#333333"),
}
HEIGHTS = {"norm": 0.55, "attention": 1.0, "cross_attention": 1.0, "ffn": 1.0, "add": 0.5}
GAP = 0.28
WIDTH = 4.2  # box width, in plot units
RESIDUAL_OFFSET = 2.7  # how far left of the column centre the residual path runs
ADD_RADIUS = 0.12  # the ⊕ marker's radius, in x units (about 11 px)


def norm_label(record: dict) -> str:
    return NORM_NAMES.get(record["norm_kind"], record["norm_kind"])


def item_label(item: dict, record: dict, lang: str) -> str:
    """The text inside one box of the block."""
    kind = item["kind"]
    if kind == "norm":
        return norm_label(record)
    if kind == "add":
        return "+"
    if kind in ("attention", "cross_attention"):
        heads = record["n_heads"]
        kv = record["n_kv_heads"]
        key = f"block.map_{kind}"
        line = t(key, lang, heads=heads)
        if kv < heads and kind == "attention":
            line += "<br>" + t("block.map_gqa", lang, kv=kv)
        if record["positions"] == "rotary" and kind == "attention":
            line += "<br>" + t("block.map_rotary", lang)
        if record["positions"] == "relative" and kind == "attention":
            line += "<br>" + t("block.map_relative", lang)
        return line
    activation = escape(record["activation"])
    key = "block.map_ffn_gated" if record["gated_ffn"] else "block.map_ffn"
    return t(key, lang, d=record["d_model"], f=record["d_ff"], act=activation)


def _groups(items: list[dict]) -> list[list[int]]:
    """Indices of items per residual sub-layer: each group ends at its add, plus the norm
    that follows the add in a post-norm block."""
    groups, current = [], []
    for index, item in enumerate(items):
        if item["kind"] == "norm" and current and items[current[-1]]["kind"] == "add":
            current.append(index)  # post-norm: normalise the sum
            groups.append(current)
            current = []
            continue
        if current and items[current[-1]]["kind"] == "add":
            groups.append(current)
            current = []
        current.append(index)
    if current:
        groups.append(current)
    return groups


class _Canvas:
    """Boxes, circles, arrows and text collected as plotly shapes and annotations."""

    def __init__(self) -> None:
        self.shapes: list[dict] = []
        self.annotations: list[dict] = []
        self.hover = {"x": [], "y": [], "text": []}
        self.adds = {"x": [], "y": []}  # residual additions, drawn as ⊕ markers
        self.boxes: list[str] = []  # what was drawn, top to bottom (figure meta, for tests)

    def box(self, x: float, top: float, height: float, kind: str, text: str, hover: str = ""):
        fill, line = COLOURS[kind]
        if kind == "add":  # a round marker (shapes stretch with the axes), no text
            self.adds["x"].append(x)
            self.adds["y"].append(top - height / 2)
            self.boxes.append(kind)
            return
        self.shapes.append(
            dict(
                type="rect",
                x0=x - WIDTH / 2,
                x1=x + WIDTH / 2,
                y0=top - height,
                y1=top,
                fillcolor=fill,
                line=dict(color=line, width=1.5),
                layer="below",
            )
        )
        self.annotations.append(
            dict(x=x, y=top - height / 2, text=text, showarrow=False, font=dict(size=12))
        )
        self.hover["x"].append(x)
        self.hover["y"].append(top - height / 2)
        self.hover["text"].append(hover or text)
        self.boxes.append(kind)

    def line(self, points: list[tuple[float, float]], colour="#555555", dash="solid"):
        path = "M " + " L ".join(f"{x:.3f},{y:.3f}" for x, y in points)
        self.shapes.append(
            dict(type="path", path=path, line=dict(color=colour, width=1.5, dash=dash))
        )

    def arrow(self, x0, y0, x1, y1, colour="#555555"):
        self.annotations.append(
            dict(
                x=x1,
                y=y1,
                ax=x0,
                ay=y0,
                xref="x",
                yref="y",
                axref="x",
                ayref="y",
                showarrow=True,
                arrowhead=2,
                arrowsize=1,
                arrowwidth=1.5,
                arrowcolor=colour,
                text="",
            )
        )

    def label(self, x, y, text, size=12, anchor="center", colour="#333333"):
        self.annotations.append(
            dict(
                x=x,
                y=y,
                text=text,
                showarrow=False,
                xanchor=anchor,
                font=dict(size=size, color=colour),
            )
        )


def _draw_stack(
    canvas: _Canvas,
    record: dict,
    items: list[dict],
    x: float,
    top: float,
    n_layers: int,
    title: str,
    lang: str,
) -> tuple[float, dict[str, float]]:
    """One block (its sub-layers in order) inside a frame saying × N; returns the y under
    it and the y of each box kind drawn (the cross-attention's, for the encoder arrow)."""
    y = top - 0.45
    canvas.label(x - RESIDUAL_OFFSET - 0.9, top - 0.2, title, size=12, anchor="left")
    frame_top = top
    positions: dict[str, float] = {}
    branch_x = x - RESIDUAL_OFFSET
    for group in _groups(items):
        branch_y = y + GAP / 2  # the stream forks just above the group's first box
        add_y = None
        for index in group:
            item = items[index]
            height = HEIGHTS[item["kind"]]
            canvas.arrow(x, y + GAP, x, y)
            text = item_label(item, record, lang)
            if item["kind"] == "norm":  # which norm this is, in the model's own words
                text += (
                    f" <span style='font-size:10px;color:#666666'>{escape(item['module'])}</span>"
                )
            canvas.box(x, y, height, item["kind"], text, escape(item["module"]))
            positions.setdefault(item["kind"], y - height / 2)
            if item["kind"] == "add":
                add_y = y - height / 2
            y -= height + GAP
        if add_y is not None:  # the residual path: around the sub-layer, into the add
            canvas.line([(x, branch_y), (branch_x, branch_y), (branch_x, add_y)], "#0072B2")
            canvas.arrow(branch_x, add_y, x - ADD_RADIUS, add_y, "#0072B2")
    bottom = y + GAP - 0.15
    canvas.shapes.append(
        dict(
            type="rect",
            x0=x - RESIDUAL_OFFSET - 1.0,
            x1=x + WIDTH / 2 + 0.5,
            y0=bottom,
            y1=frame_top,
            line=dict(color="#888888", width=1, dash="dash"),
            layer="below",
        )
    )
    canvas.label(
        x + WIDTH / 2 + 0.45, (frame_top + bottom) / 2, f"× {n_layers}", size=16, anchor="left"
    )
    return bottom - GAP, positions


def _embedding(canvas: _Canvas, record: dict, x: float, y: float, lang: str) -> float:
    text = t("block.map_embedding", lang, v=record["vocab_size"], d=record["d_model"])
    if abs(record.get("embedding_scale", 1.0) - 1.0) > 1e-6:
        text += "<br>" + t("block.map_embed_scale", lang, scale=f"{record['embedding_scale']:.4g}")
    if record["positions"] in ("learned", "sinusoidal"):
        text += "<br>" + t(f"block.map_pos_{record['positions']}", lang)
    canvas.box(x, y, 0.9, "embedding", text)
    return y - 0.9 - GAP


def _ending(canvas: _Canvas, record: dict, x: float, y: float, lang: str, head: bool) -> float:
    if record["final_norm"]:
        canvas.arrow(x, y + GAP, x, y)
        canvas.box(
            x, y, HEIGHTS["norm"], "norm", t("block.map_final_norm", lang, norm=norm_label(record))
        )
        y -= HEIGHTS["norm"] + GAP
    if head:
        canvas.arrow(x, y + GAP, x, y)
        key = "block.map_head_tied" if record["tied_embeddings"] else "block.map_head"
        if not record["has_lm_head"]:
            key = "block.map_no_head"
        canvas.box(x, y, 0.8, "head", t(key, lang, v=record["vocab_size"], d=record["d_model"]))
        y -= 0.8 + GAP
    return y


def architecture_figure(record: dict, lang: str) -> go.Figure:
    """The whole model: embeddings -> N × block -> final norm -> LM head; an
    encoder-decoder as two columns joined at the decoder's cross-attention."""
    canvas = _Canvas()
    seq2seq = bool(record.get("encoder_decoder"))
    x_enc = 4.0
    y = _embedding(canvas, record, x_enc, 0.0, lang)
    title = t("block.map_encoder" if seq2seq else "block.map_blocks", lang)
    y, _ = _draw_stack(canvas, record, record["block"], x_enc, y, record["n_layers"], title, lang)
    bottom = _ending(canvas, record, x_enc, y, lang, head=not seq2seq)
    width = 7.5
    if seq2seq:
        x_dec = 12.0
        width = 15.5
        y = _embedding(canvas, record, x_dec, 0.0, lang)
        y, where = _draw_stack(
            canvas,
            record,
            record["decoder_block"],
            x_dec,
            y,
            record["n_decoder_layers"],
            t("block.map_decoder", lang),
            lang,
        )
        encoder_out = y + GAP  # under the encoder's last box
        canvas.line(
            [
                (x_enc, bottom + GAP),
                (x_enc, bottom),
                (8.0, bottom),
                (8.0, where["cross_attention"]),
            ],
            "#007A5A",
            dash="dot",
        )
        canvas.arrow(
            8.0, where["cross_attention"], x_dec - WIDTH / 2, where["cross_attention"], "#007A5A"
        )
        canvas.label(
            8.1,
            (bottom + where["cross_attention"]) / 2,
            t("block.map_encoder_out", lang),
            size=11,
            anchor="left",
            colour="#007A5A",
        )
        bottom = min(bottom, _ending(canvas, record, x_dec, encoder_out, lang, head=True))
    figure = go.Figure(
        go.Scatter(
            x=canvas.hover["x"],
            y=canvas.hover["y"],
            text=canvas.hover["text"],
            mode="markers",
            marker=dict(size=28, opacity=0),
            hovertemplate="%{text}<extra></extra>",
        )
    )
    figure.add_scatter(
        x=canvas.adds["x"],
        y=canvas.adds["y"],
        mode="markers",
        marker=dict(symbol="circle-cross-open", size=22, color="#333333", line=dict(width=1.6)),
        hoverinfo="skip",
    )
    figure.update_layout(
        shapes=canvas.shapes,
        annotations=canvas.annotations,
        meta={"boxes": canvas.boxes, "block": [i["kind"] for i in record["block"]]},
    )
    figure.update_xaxes(visible=False, range=[-0.2, width], fixedrange=True)
    figure.update_yaxes(visible=False, range=[bottom - 0.1, 0.3], fixedrange=True)
    height = int(70 * (0.3 - bottom) + 60)
    style(figure, t("block.map_title", lang, model=escape(record["model"])), height=height)
    figure.update_layout(showlegend=False, margin=dict(l=10, r=10, t=50, b=10))
    return figure
