"""Pure render functions of "Why this token?": a LogitSplit or a Saliency -> figure,
table rows, Markdown or HTML. Token strings are escaped before they enter HTML.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from components.next_token.bars import fast_figure, markdown_token, visible
from components.next_token.inside import SMALL_STYLE, TOKEN_STYLE
from components.page.context import escape
from components.page.i18n import t
from components.page.theme import CATEGORICAL, DIVERGING
from models.analysis import Analysis
from models.lenses.attribution import LogitSplit, Part
from models.lenses.saliency import IG_GAP, INTEGRATED_GRADIENTS, Saliency

COLOURS = {
    "embeddings": "#555555",
    "attention": CATEGORICAL[0],
    "ffn": CATEGORICAL[1],
    "cross_attention": CATEGORICAL[2],
}
TABLE_ROWS = 10


def number(value: float) -> str:
    return f"{value:.2f}"


def part_label(part: Part, lang: str) -> str:
    """ "layer 23 attention", "embeddings" ... in the page language."""
    return t(f"why.part_{part.kind}", lang, layer=part.layer)


def target_line(split: LogitSplit, lang: str) -> str:
    token = markdown_token(split.target.token)
    if split.other is None:
        return t("why.target_line", lang, token=token, id=split.target.id)
    other = markdown_token(split.other.token)
    key = "why.target_line_vs"
    return t(key, lang, token=token, id=split.target.id, other=other, other_id=split.other.id)


def check_line(split: LogitSplit, lang: str) -> str:
    """'the parts sum to 17.37; the model's logit is 17.37', with the notes that apply."""
    constant = ""
    if abs(split.constant) >= 5e-3:
        constant = t(
            "why.check_constant",
            lang,
            value=number(split.constant),
            reconstructed=number(split.reconstructed),
        )
    values = {"total": number(split.total), "constant": constant}
    values["logit"] = number(split.model_value)
    if split.other is None:
        line = t("why.check", lang, **values)
    else:
        first, second = markdown_token(split.target.token), markdown_token(split.other.token)
        line = t("why.check_vs", lang, first=first, second=second, **values)
    notes = [line]
    if split.softcap:
        notes.append(
            t(
                "why.check_softcap",
                lang,
                cap=f"{split.softcap:g}",
                raw=number(split.reconstructed),
                capped=number(split.capped),
                logit=number(split.model_value),
            )
        )
    elif not split.adds_up:
        notes.append(
            t("why.check_failed", lang, total=number(split.reconstructed), logit=values["logit"])
        )
    if split.post_norm_parts:
        notes.append(t("why.gemma_note", lang))
    if split.head_bias_shared:
        notes.append(t("why.bias_note", lang))
    return "\n\n".join([target_line(split, lang), *notes])


def _title(split: LogitSplit, key: str, lang: str) -> str:
    token = visible(split.target.token)
    if split.other is None:
        return t(key, lang, token=token)
    return t(f"{key}_vs", lang, token=token, other=visible(split.other.token))


def _bars(name: str, x: list, y: np.ndarray, colour: str, hover_name: str) -> dict:
    return {
        "type": "bar",
        "name": name,
        "x": x,
        "y": [float(v) for v in y],
        "marker": {"color": colour},
        "hovertemplate": f"{escape(hover_name)} %{{x}}: %{{y:.3f}}<extra></extra>",
    }


def layers_figure(split: LogitSplit, lang: str) -> go.Figure:
    """Diverging bars over layers [L]: attention and FFN side by side (cross-attention
    too for an encoder-decoder), the embeddings' own share first."""
    layers = [str(n) for n in range(split.n_layers)]
    emb = t("why.embeddings", lang)
    tick = t("why.embeddings_short", lang)
    traces = [_bars(emb, [tick], np.array([split.embeddings]), COLOURS["embeddings"], emb)]
    stacks = [("attention", split.attention), ("cross_attention", split.cross_attention)]
    stacks.append(("ffn", split.ffn))
    for kind, values in stacks:
        if values is not None:
            name = t(f"why.{kind}", lang)
            traces.append(_bars(name, layers, values, COLOURS[kind], name))
    return fast_figure(
        traces,
        _title(split, "why.layers_title", lang),
        height=380,
        barmode="group",
        bargap=0.15,
        xaxis={"title": {"text": t("why.axis_layer", lang)}, "type": "category", "tickangle": 0},
        yaxis={"title": {"text": t("why.axis_push", lang)}, "zeroline": True},
        legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        margin={"l": 60, "r": 20, "t": 90, "b": 50},
    )


def heads_figure(split: LogitSplit, layer: int, lang: str) -> go.Figure:
    """Bars over the heads [H] of one layer: each head's share of that layer's attention
    (and of its cross-attention, for an encoder-decoder)."""
    heads = [str(h) for h in range(split.heads.shape[1])]
    traces = [
        _bars(t(f"why.{kind}", lang), heads, values[layer], COLOURS[kind], t("why.head", lang))
        for kind, values in (("attention", split.heads), ("cross_attention", split.cross_heads))
        if values is not None
    ]
    return fast_figure(
        traces,
        t("why.heads_title", lang, layer=layer),
        height=300,
        showlegend=len(traces) > 1,
        barmode="group",
        xaxis={"title": {"text": t("why.axis_head", lang)}, "type": "category"},
        yaxis={"title": {"text": t("why.axis_push_short", lang)}, "zeroline": True},
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
    )


def table_rows(split: LogitSplit, lang: str, n: int = TABLE_ROWS) -> list[list]:
    """[part, push, share of all |pushes|] for the largest layer-level parts."""
    coarse = split.largest(len(split.parts()))
    whole = sum(abs(p.contribution) for p in coarse) or 1.0
    return [
        [part_label(p, lang), round(p.contribution, 3), f"{abs(p.contribution) / whole:.1%}"]
        for p in coarse[:n]
    ]


def table_headers(lang: str) -> list[str]:
    return [t("why.table_part", lang), t("why.table_push", lang), t("why.table_share", lang)]


def saliency_colour(score: float, peak: float) -> tuple[str, str]:
    """(background, text colour): red raises the logit, blue lowers it, white is 0."""
    level = 0.5 - 0.5 * float(np.clip(score / peak, -1, 1)) if peak > 0 else 0.5
    background = sample_colorscale(DIVERGING, [level])[0]
    return background, "#FFFFFF" if abs(level - 0.5) > 0.3 else "#000000"


def saliency_groups(analysis: Analysis, scores: np.ndarray) -> list[dict]:
    """Tokens grouped by the characters they cover (byte pieces of one character
    together), each group's score the sum of its tokens'."""
    groups: list[dict] = []
    for token, score in zip(analysis.tokens, scores, strict=True):
        span = (token.sentence, token.start, token.end)
        same = groups and not token.special and token.end > token.start
        if same and groups[-1]["span"] == span:
            groups[-1]["score"] += float(score)
            groups[-1]["pieces"] += 1
            continue
        groups.append({"span": span, "text": token.text, "score": float(score), "pieces": 1})
    return groups


def saliency_html(analysis: Analysis, saliency: Saliency, lang: str) -> str:
    """The input's token chips coloured by their signed score."""
    groups = saliency_groups(analysis, saliency.scores)
    peak = max((abs(g["score"]) for g in groups), default=0.0)
    cells = []
    for group in groups:
        background, colour = saliency_colour(group["score"], peak)
        score = f"{group['score']:+.2f}"
        title = escape(t("why.saliency_title", lang, score=score))
        cells.append(
            f'<span class="why-chip" style="{TOKEN_STYLE};background:{background};'
            f'color:{colour}" title="{title}" data-score="{group["score"]:.6f}">'
            f'{escape(visible(group["text"]))}<small style="{SMALL_STYLE}">{score}</small></span>'
        )
    legend = escape(t("why.saliency_legend", lang))
    return (
        f'<div id="why-chips" style="font-size:1.1em">{"".join(cells)}</div>'
        f'<div style="margin-top:6px;font-size:0.85em">{legend}</div>'
    )


def saliency_note(saliency: Saliency, tokens: list[str], baseline: str, lang: str) -> str:
    """What the scores add up to; for integrated gradients, the completeness check.
    `tokens`: the explained token, and the compared one if any (f = first - second)."""
    total = number(float(saliency.scores.sum()))
    token = " − ".join(markdown_token(tok) for tok in tokens)
    if saliency.method != INTEGRATED_GRADIENTS:
        value = number(saliency.f_input)
        return t("why.saliency_gxi", lang, token=token, sum=total, value=value)
    change = saliency.f_input - saliency.f_baseline
    line = t(
        "why.saliency_ig",
        lang,
        steps=saliency.steps,
        baseline=markdown_token(baseline),
        sum=total,
        value=number(saliency.f_input),
        base=f"({number(saliency.f_baseline)})"
        if saliency.f_baseline < 0
        else number(saliency.f_baseline),
        change=number(change),
        gap=f"{saliency.completeness_gap:.1%}",
    )
    notes = [line, t("why.saliency_ig_first", lang)]
    if saliency.completeness_gap > IG_GAP:
        notes.append(t("why.saliency_ig_rough", lang, gap=f"{IG_GAP:.0%}"))
    return "\n\n".join(notes)
