"""Q·K walk-through: scaled dot-product attention of one head, one query token, step by step.

The numbers are the model's own (models.lenses.walkthrough recomputes one layer's
q, k, v from the stored layer input), and the softmax row is checked against
the attention row of the forward pass before anything is shown.
"""

from __future__ import annotations

import math

import gradio as gr
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components.page.context import PanelContext, analysis_for, escape, user_error
from components.page.i18n import t
from models.analysis import Analysis
from models.errors import AnatomyError
from models.lenses.walkthrough import HeadSteps, walk_through

TOP_KEYS = 3  # keys (and their values) drawn beside q in the vector heatmap
DIGITS = 4


def token_labels(analysis: Analysis) -> list[str]:
    """'i: text' for each token (the piece for specials), unescaped."""
    return [
        f"{i}: {tok.text if tok.text.strip() and not tok.special else tok.piece}"
        for i, tok in enumerate(analysis.tokens)
    ]


def _number(value: float) -> str:
    if math.isinf(value):
        return "−∞" if value < 0 else "∞"
    return f"{value:.{DIGITS}f}"


def step_rows(steps: HeadSteps, labels: list[str]) -> list[list[str]]:
    """One row per key token j: [token, q·k_j, × scale, + mask, softmax, model's row]."""
    columns = (steps.scores, steps.scaled, steps.masked, steps.weights, steps.model_row)
    return [[labels[j], *(_number(float(c[j])) for c in columns)] for j in range(len(labels))]


def row_headers(lang: str) -> list[str]:
    keys = ("walk.col_key", "walk.col_score", "walk.col_scaled", "walk.col_masked")
    return [t(k, lang) for k in keys] + [t("walk.col_softmax", lang), t("walk.col_model", lang)]


def top_keys(steps: HeadSteps, count: int = TOP_KEYS) -> list[int]:
    """Key positions with the largest weights, largest first."""
    return [int(j) for j in np.argsort(-steps.weights, kind="stable")[:count]]


def steps_figure(steps: HeadSteps, labels: list[str], lang: str) -> go.Figure:
    """Top: q, the most-attended k_j and v_j, and the output, as rows of a [rows x d] heatmap.
    Bottom: the softmax weight of every key token [T], masked keys drawn grey."""
    chosen = top_keys(steps)
    short = [escape(label) for label in labels]
    rows = [("q", steps.q)]
    rows += [(f"k {short[j]}", steps.keys[j]) for j in chosen]
    rows += [(f"v {short[j]}", steps.values[j]) for j in chosen]
    rows.append((t("walk.output", lang), steps.output))
    figure = make_subplots(
        rows=2,
        cols=1,
        row_heights=[0.45, 0.55],
        vertical_spacing=0.18,
        subplot_titles=(t("walk.fig_vectors", lang), t("walk.fig_weights", lang)),
    )
    figure.add_trace(
        go.Heatmap(
            z=np.stack([values for _, values in rows]),
            y=[name for name, _ in rows],
            colorscale="RdBu",
            zmid=0,
            showscale=False,
            hovertemplate="%{y}<br>dim %{x}: %{z:.4f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    masked = np.isinf(steps.mask)
    figure.add_trace(
        go.Bar(
            x=short,
            y=np.where(masked, 0.0, steps.weights),
            marker_color=np.where(masked, "#c8c8c8", "#2c7fb8").tolist(),
            customdata=np.stack([steps.scaled, steps.masked], axis=1),
            hovertemplate="%{x}<br>softmax %{y:.4f}<br>q·k×scale %{customdata[0]:.4f}"
            "<extra></extra>",
        ),
        row=2,
        col=1,
    )
    figure.update_yaxes(autorange="reversed", row=1, col=1)
    figure.update_yaxes(range=[0, 1.05], row=2, col=1)
    figure.update_xaxes(tickangle=-45, automargin=True, row=2, col=1)
    figure.update_layout(height=620, margin=dict(l=10, r=10, t=40, b=10), showlegend=False)
    return figure


def _scale_text(steps: HeadSteps) -> str:
    plain = 1 / math.sqrt(steps.head_dim)
    if abs(steps.scale - plain) < 1e-9:
        return f"× 1/√{steps.head_dim} = × {steps.scale:.4g}"
    return f"× {steps.scale:.4g} (≠ 1/√{steps.head_dim} = {plain:.4g})"


def summary(steps: HeadSteps, labels: list[str], lang: str) -> str:
    """The steps in words, with the chosen token's numbers filled in (Markdown, escaped)."""
    query = f"<code>{escape(labels[steps.query])}</code>"
    best = top_keys(steps, 1)[0]
    lines = [
        t("walk.s_where", lang, layer=steps.layer, head=steps.head, query=query),
        t("walk.s_project", lang, width=steps.x.shape[0], d=steps.head_dim),
    ]
    if steps.fused_projection:
        lines.append(t("walk.s_fused", lang))
    if steps.qk_norm:
        lines.append(t("walk.s_qknorm", lang))
    if steps.rotary:
        lines.append(t("walk.s_rotary", lang))
    if steps.n_kv_heads < steps.n_heads:
        shared = ", ".join(str(h) for h in steps.shared_heads)
        lines.append(
            t(
                "walk.s_gqa",
                lang,
                kv=steps.kv_head,
                heads=shared,
                n=steps.n_heads,
                m=steps.n_kv_heads,
            )
        )
    lines += [
        t("walk.s_scores", lang, count=len(labels), n=len(labels)),
        t("walk.s_scale", lang, scale=_scale_text(steps)),
    ]
    if steps.softcap:
        lines.append(t("walk.s_softcap", lang, cap=steps.softcap))
    hidden = int(np.isinf(steps.mask).sum())
    if hidden:
        lines.append(t("walk.s_mask", lang, hidden=hidden, n=hidden))
    else:
        lines.append(t("walk.s_mask_last" if steps.causal else "walk.s_nomask", lang))
    top = f"<code>{escape(labels[best])}</code>"
    lines += [
        t("walk.s_softmax", lang, top=top, weight=f"{steps.weights[best]:.4f}"),
        t("walk.s_output", lang, d=steps.head_dim),
        t("walk.s_check", lang, diff=f"{steps.max_difference:.1e}"),
    ]
    return "\n".join(f"{n}. {line}" for n, line in enumerate(lines, 1))


def render(key: list, layer: int, head: int, query, lang: str):
    """(summary Markdown, figure, table rows) for the session's analysis."""
    analysis = analysis_for(key, lang)
    labels = token_labels(analysis)
    # a picker can still hold the previous analysis's value for a moment: clamp, don't fail
    last = analysis.n_tokens - 1
    query = last if query is None else min(int(query), last)
    layer, head = min(int(layer), analysis.n_layers - 1), min(int(head), analysis.n_heads - 1)
    try:
        steps = walk_through(analysis, layer, head, query)
    except AnatomyError as exc:
        raise user_error(exc, lang) from exc
    table = gr.update(value=step_rows(steps, labels), headers=row_headers(lang))
    return summary(steps, labels, lang), steps_figure(steps, labels, lang), table


def on_new_analysis(key: list, lang: str):
    """Reset the pickers to the new analysis (last layer, head 0, last token), then render."""
    if not key:
        return (gr.update(),) * 3 + ("", None, [])
    analysis = analysis_for(key, lang)
    labels = token_labels(analysis)
    layer, query = analysis.n_layers - 1, analysis.n_tokens - 1
    return (
        gr.update(maximum=analysis.n_layers - 1, value=layer),
        gr.update(maximum=analysis.n_heads - 1, value=0),
        gr.update(choices=[(label, i) for i, label in enumerate(labels)], value=query),
        *render(key, layer, 0, query, lang),
    )


def build(ctx: PanelContext) -> None:
    ctx.tr(gr.Markdown(t("walk.explain")), "walk.explain")
    with gr.Row():
        layer = gr.Slider(0, 1, value=0, step=1, label=t("walk.layer"), elem_id="qk-layer")
        head = gr.Slider(0, 1, value=0, step=1, label=t("walk.head"), elem_id="qk-head")
        query = gr.Dropdown(
            choices=[], label=t("walk.query"), info=t("walk.query_info"), elem_id="qk-query"
        )
    for component, name in ((layer, "layer"), (head, "head"), (query, "query")):
        ctx.tr(component, f"walk.{name}", "label")
    ctx.tr(query, "walk.query_info", "info")
    steps_text = gr.Markdown(elem_id="qk-steps-text")
    figure = gr.Plot(elem_id="qk-figure", show_label=False)
    table = gr.Dataframe(
        headers=row_headers("en"), interactive=False, max_height=420, wrap=True, elem_id="qk-steps"
    )
    outputs = [steps_text, figure, table]
    ctx.key.change(
        on_new_analysis,
        [ctx.key, ctx.lang],
        [layer, head, query, *outputs],
        api_visibility="private",
    )
    inputs = [ctx.key, layer, head, query, ctx.lang]
    for control in (layer, head, query):
        control.input(render, inputs, outputs, api_visibility="private", concurrency_limit=4)
    ctx.lang.change(  # unqueued: it must not wait behind a model change and see stale pickers
        lambda k, *rest: render(k, *rest) if k else ("", None, []),
        inputs,
        outputs,
        api_visibility="private",
        queue=False,
    )
