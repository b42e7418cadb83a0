"""One block, step by step, for one token: figures and text from a BlockSteps.

Pure functions (BlockSteps -> plotly figure / Markdown). The numbers are the
model's own: models.lenses.block re-runs the block and checks its output
against the model's stored hidden state before anything here is drawn.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from components.block.figures import paper_title, quick_figure
from components.page.context import code_span
from components.page.i18n import t
from models.lenses.block import BlockSteps, cosine, stats

STRIP_STEPS_SKIP = ("ffn_hidden",)  # a different width (d_ff): drawn apart
NEURONS_LABELLED = 5
STRIP_PERCENTILE = 98


def strip_steps(steps: BlockSteps) -> list[str]:
    """The [D]-wide steps, in the block's order."""
    return [name for name in steps.order if name not in STRIP_STEPS_SKIP]


def step_table(steps: BlockSteps) -> dict[str, dict[str, float]]:
    """step -> {mean, std, rms, norm, cosine with the input} (cosine: [D] steps only)."""
    table = {}
    for name in steps.order:
        row = stats(steps.vectors[name])
        if name not in STRIP_STEPS_SKIP:
            row["cosine"] = cosine(steps.vectors[name], steps.vectors["input"])
        table[name] = row
    return table


def steps_figure(steps: BlockSteps, lang: str) -> go.Figure:
    """Top: each step's vector as one strip of D cells (each row scaled to its own 98th
    percentile of |value| and clipped, hover shows the real number). Bottom: its length
    |v| (bars) and its cosine with the block input (dots, right axis)."""
    names = strip_steps(steps)
    labels = [t(f"block.step.{name}", lang) for name in names]
    vectors = np.stack([steps.vectors[name] for name in names])  # [S, D]
    # a few dimensions of the stream are often far larger than the rest ("massive
    # activations"): scaling by the maximum would wash every other cell out
    peaks = np.percentile(np.abs(vectors), STRIP_PERCENTILE, axis=1, keepdims=True)
    scaled = np.clip(vectors / np.where(peaks > 0, peaks, 1.0), -1.0, 1.0)
    table = step_table(steps)
    data = [
        {
            "type": "heatmap",
            "z": scaled,
            "y": labels,
            "customdata": vectors,
            "colorscale": "RdBu",
            "zmid": 0,
            "zmin": -1,
            "zmax": 1,
            "showscale": False,
            "hovertemplate": "%{y}<br>dim %{x}: %{customdata:.4f}<extra></extra>",
            "xaxis": "x",
            "yaxis": "y",
        },
        {
            "type": "bar",
            "x": labels,
            "y": [table[n]["norm"] for n in names],
            "name": "|v|",
            "marker": {"color": "#0072B2"},
            "hovertemplate": "%{x}<br>|v| = %{y:.4g}<extra></extra>",
            "xaxis": "x2",
            "yaxis": "y2",
        },
        {
            "type": "scatter",
            "x": labels,
            "y": [table[n]["cosine"] for n in names],
            "mode": "markers+lines",
            "name": t("block.cosine", lang),
            "marker": {"size": 9, "color": "#D55E00"},
            "line": {"dash": "dot", "color": "#D55E00"},
            "hovertemplate": "%{x}<br>cos = %{y:.3f}<extra></extra>",
            "xaxis": "x2",
            "yaxis": "y3",
        },
    ]
    layout = {
        "xaxis": {"domain": [0, 0.93], "anchor": "y"},
        "yaxis": {"domain": [0.52, 0.95], "autorange": "reversed", "anchor": "x"},
        "xaxis2": {"domain": [0, 0.93], "anchor": "y2"},
        "yaxis2": {"domain": [0, 0.36], "anchor": "x2", "title": {"text": "|v|"}},
        "yaxis3": {
            "overlaying": "y2",
            "side": "right",
            "anchor": "x2",
            "range": [-1.05, 1.05],
            "title": {"text": "cos"},
            "showgrid": False,
        },
        "annotations": [
            paper_title(t("block.fig_strips", lang), 0.465, 0.96),
            paper_title(t("block.fig_lengths", lang), 0.465, 0.40),
        ],
        "legend": {"orientation": "h", "y": -0.12},
        "meta": {"steps": names},
    }
    return quick_figure(data, layout, None, 640)


def norm_figure(steps: BlockSteps, lang: str) -> go.Figure:
    """Histograms of the D values entering (left) and leaving (right) the block's first norm,
    each on its own axis: the stream's values can be hundreds of times larger."""
    first = steps.norms[0]
    data, layout = [], {}
    sides = (
        ("before", first.before, "#999999", [0, 0.44]),
        ("after", first.after, "#E69F00", [0.56, 1]),
    )
    annotations = []
    for index, (key, values, colour, domain) in enumerate(sides, start=1):
        suffix = "" if index == 1 else str(index)
        data.append(
            {
                "type": "histogram",
                "x": values,
                "nbinsx": 50,
                "marker": {"color": colour},
                "showlegend": False,
                "hovertemplate": "%{x}: %{y}<extra></extra>",
                "xaxis": f"x{suffix}",
                "yaxis": f"y{suffix}",
            }
        )
        numbers = {k: f"{v:.3g}" for k, v in stats(values).items()}
        layout[f"xaxis{suffix}"] = {
            "domain": domain,
            "anchor": f"y{suffix}",
            "title": {"text": t("block.hist_axis", lang, **numbers)},
        }
        layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}"}
        annotations.append(paper_title(t(f"block.hist_{key}", lang), sum(domain) / 2, 1.0))
    layout["annotations"] = annotations
    layout["margin"] = {"l": 50, "r": 20, "t": 70, "b": 85}
    norm = t(f"block.norm.{first.name}", lang)
    title = t("block.hist_title", lang, norm=norm, d=first.before.shape[0])
    return quick_figure(data, layout, title, 340)


def neurons_figure(steps: BlockSteps, lang: str) -> go.Figure:
    """The FFN's hidden values (a filled outline, one step per neuron), the strongest marked."""
    hidden = steps.vectors["ffn_hidden"]
    top = steps.top_neurons
    data = [
        {  # one filled outline, not a bar per neuron: thousands of SVG bars redraw slowly
            "type": "scatter",
            "mode": "lines",
            "x": np.arange(hidden.shape[0]),
            "y": hidden,
            "line": {"color": "#A2507F", "width": 1, "shape": "hvh"},
            "fill": "tozeroy",
            "fillcolor": "#A2507F",
            "hovertemplate": "neuron %{x}: %{y:.4f}<extra></extra>",
            "showlegend": False,
        },
        {
            "type": "bar",
            "x": np.array(top),
            "y": hidden[top],
            "marker": {"color": "#D55E00", "line": {"width": 0}},
            "hovertemplate": "neuron %{x}: %{y:.4f}<extra></extra>",
            "showlegend": False,
        },
        {  # the strongest neurons' numbers, as text above their bars
            "type": "scatter",
            "mode": "text",
            "x": np.array(top[:NEURONS_LABELLED]),
            "y": hidden[top[:NEURONS_LABELLED]],
            "text": [str(i) for i in top[:NEURONS_LABELLED]],
            "textposition": "top center",
            "textfont": {"size": 12, "color": "#D55E00"},
            "cliponaxis": False,
            "hoverinfo": "skip",
            "showlegend": False,
        },
    ]
    layout = {
        "barmode": "overlay",
        "bargap": 0,
        "xaxis": {"title": {"text": t("block.neurons_x", lang, f=hidden.shape[0])}},
        "margin": {"l": 50, "r": 20, "t": 70, "b": 50},
        "meta": {"top": top},
    }
    title = t("block.neurons_title", lang, share=f"{100 * steps.share_active:.0f}")
    return quick_figure(data, layout, title, 340)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _norm_line(steps: BlockSteps, index: int, lang: str) -> str:
    norm = steps.norms[index]
    before, after = stats(norm.before), stats(norm.after)
    name = t(f"block.norm.{norm.name}", lang)
    scale = f"{norm.scale.mean():.3g} ({norm.scale.min():.3g} … {norm.scale.max():.3g})"
    if steps.norm_kind == "rmsnorm":
        return t(
            "block.s_rmsnorm",
            lang,
            name=name,
            before=_fmt(before["rms"]),
            after=_fmt(after["rms"]),
            scale=scale,
        )
    return t(
        "block.s_layernorm",
        lang,
        name=name,
        mean=_fmt(before["mean"]),
        std=_fmt(before["std"]),
        mean2=_fmt(after["mean"]),
        std2=_fmt(after["std"]),
        scale=scale,
    )


def summary(steps: BlockSteps, token_label: str, lang: str) -> str:
    """The block in words, in its own order, with this token's numbers (Markdown)."""
    table = step_table(steps)
    token = code_span(token_label)
    part = t("block.part_decoder_in", lang) if steps.part == "decoder" else ""
    lines = [t(f"block.s_where_{steps.placement}", lang, layer=steps.layer, token=token, part=part)]
    norm_index = 0
    for name in steps.order:
        row = table[name]
        numbers = t(
            "block.s_numbers",
            lang,
            norm=_fmt(row["norm"]),
            cos=f"{row.get('cosine', float('nan')):.3f}",
        )
        if name == "ffn_hidden":
            numbers = t(
                "block.s_hidden_numbers",
                lang,
                f=steps.vectors[name].shape[0],
                share=f"{100 * steps.share_active:.0f}",
                top=", ".join(str(i) for i in steps.top_neurons[:NEURONS_LABELLED]),
            )
        sizes = dict(heads=steps.n_heads, kv=steps.n_kv_heads, d=steps.head_dim)
        text = t(f"block.s_{name}_{steps.placement}", lang, **sizes)
        if text.startswith("block.s_"):  # no sentence of its own for this placement
            text = t(f"block.s_{name}", lang, **sizes)
        if name == "ffn_hidden" and steps.gated:
            text += " " + t("block.s_gated", lang)
        lines.append(f"**{t(f'block.step.{name}', lang)}**: {text} {numbers}")
        while norm_index < len(steps.norms) and _norm_belongs(steps, name, norm_index):
            lines.append(_norm_line(steps, norm_index, lang))
            norm_index += 1
    lines.append(t("block.s_check", lang, diff=f"{steps.max_difference:.1e}"))
    return "\n".join(f"{n}. {line}" for n, line in enumerate(lines, 1))


NORM_AFTER = {  # which step's line a norm's numbers follow
    "attn_norm": ("attention_in", "after_attention"),
    "post_attn_norm": ("attention",),
    "cross_norm": ("cross_in", "after_cross"),
    "ffn_norm": ("ffn_in", "output"),
    "post_ffn_norm": ("ffn",),
}


def _norm_belongs(steps: BlockSteps, step: str, index: int) -> bool:
    return step in NORM_AFTER.get(steps.norms[index].name, ())


def as_json(steps: BlockSteps, tokens: list[str], decimals: int = 6) -> dict:
    """The /block record."""
    table = step_table(steps)
    return {
        "tokens": tokens,
        "layer": steps.layer,
        "token": steps.token,
        "part": steps.part,
        "norm_placement": steps.placement,
        "norm_kind": steps.norm_kind,
        "order": list(steps.order),
        "vectors": {
            name: np.round(steps.vectors[name].astype(np.float64), decimals).tolist()
            for name in steps.order
        },
        "stats": {
            name: {k: round(v, decimals + 2) for k, v in row.items()} for name, row in table.items()
        },
        "norms": [
            {
                "name": norm.name,
                "before": stats(norm.before),
                "after": stats(norm.after),
                "scale_mean": float(norm.scale.mean()),
            }
            for norm in steps.norms
        ],
        "top_neurons": steps.top_neurons,
        "share_active": steps.share_active,
        "n_heads": steps.n_heads,
        "n_kv_heads": steps.n_kv_heads,
        "head_dim": steps.head_dim,
        "max_difference": steps.max_difference,
    }
