"""Pure render functions: surprise of the input, logit lens, fill-mask, family notice.

Every token string goes through `escape` before it enters HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from components.next_token.bars import markdown_token, visible
from components.page.context import escape
from components.page.i18n import t
from components.page.theme import SEQUENTIAL, style
from models.analysis import Analysis
from models.lenses.logit_lens import LensRow
from models.loading.catalog import DECODER, ENCODER, ENCODER_DECODER
from models.tokens import TokenInfo

Decode = Callable[[int], str]
TOKEN_STYLE = (
    "display:inline-flex;flex-direction:column;align-items:center;padding:3px 6px;"
    "border-radius:4px;border:1px solid #999;white-space:pre;margin:2px;line-height:1.3"
)
SMALL_STYLE = "font-size:0.65em;color:inherit"
FIRST_STYLE = "background:#FFFFFF;color:#000000;border-style:dashed"
CHIP_STYLE = "display:inline-block;padding:1px 6px;margin:0 2px;border-radius:3px"
LOG_FLOOR = 5  # probabilities from 1 down to 1e-5 spread over the colour scale


def output_tokens(analysis: Analysis) -> tuple[TokenInfo, ...]:
    """The tokens whose next token the model predicts (the decoder's for a seq2seq)."""
    if analysis.family == ENCODER_DECODER:
        return analysis.decoder_tokens or ()
    return analysis.tokens


def probability_colour(prob: float) -> tuple[str, str]:
    """(background, text colour) for a probability: dark = surprising, light = expected."""
    level = float(np.clip(1 + np.log10(max(prob, 1e-12)) / LOG_FLOOR, 0, 1))
    background = sample_colorscale(SEQUENTIAL, [level])[0]
    return background, "#000000" if level > 0.55 else "#FFFFFF"


def short_percent(prob: float) -> str:
    """12.3%, or <0.1% for the very small probabilities of surprising tokens."""
    return f"{prob:.1%}" if prob >= 0.001 else "<0.1%"


def surprise_groups(analysis: Analysis) -> list[dict]:
    """Tokens grouped by the characters they cover (byte pieces of one character
    together), each with the probability the model gave it (product over the
    group) and the rank of each piece; the first token has no prediction."""
    tokens = output_tokens(analysis)
    groups: list[dict] = []
    for i, token in enumerate(tokens):
        span = (token.sentence, token.start, token.end)
        known = i > 0 and analysis.target_logprobs is not None
        logprob = float(analysis.target_logprobs[i - 1]) if known else None
        rank = int(analysis.target_ranks[i - 1]) if known else None
        same = groups and not token.special and token.end > token.start
        if same and groups[-1]["span"] == span:
            group = groups[-1]
        else:
            group = {"span": span, "text": token.text, "logprob": 0.0, "ranks": [], "known": True}
            groups.append(group)
        group["known"] = group["known"] and known
        group["logprob"] += logprob or 0.0
        group["ranks"].append(rank)
    return groups


def surprise_html(analysis: Analysis, lang: str) -> str:
    """Each input token coloured by the probability the model gave it at its position."""
    if analysis.target_logprobs is None:
        return f"<p>{escape(t('nt.surprise_unavailable', lang))}</p>"
    cells = []
    for group in surprise_groups(analysis):
        text = escape(visible(group["text"]))
        if not group["known"]:
            title = escape(t("nt.surprise_first", lang))
            cells.append(
                f'<span style="{TOKEN_STYLE};{FIRST_STYLE}" title="{title}">{text}'
                f'<small style="{SMALL_STYLE}">—</small></span>'
            )
            continue
        prob = float(np.exp(group["logprob"]))
        background, colour = probability_colour(prob)
        ranks = ", ".join(f"{r:,}" for r in group["ranks"])
        title = escape(t("nt.surprise_title", lang, prob=f"{prob:.3%}", rank=ranks))
        label = escape(f"{short_percent(prob)} · #{ranks}")
        cells.append(
            f'<span style="{TOKEN_STYLE};background:{background};color:{colour}" '
            f'title="{title}">{text}<small style="{SMALL_STYLE}">{label}</small></span>'
        )
    body = "".join(cells)
    return f'<div id="nt-surprise" style="font-size:1.1em">{body}</div>{_legend(lang)}'


def _legend(lang: str) -> str:
    chips = []
    for prob in (1.0, 0.1, 0.01, 0.001, 0.0001, 0.00001):
        background, colour = probability_colour(prob)
        style_attr = f"{CHIP_STYLE};background:{background};color:{colour}"
        chips.append(f'<span style="{style_attr}">{prob * 100:g}%</span>')
    label = escape(t("nt.surprise_legend", lang))
    return f'<div style="margin-top:8px;font-size:0.85em">{label} {"".join(chips)}</div>'


def lens_figure(rows: Sequence[LensRow], decode: Decode, lang: str) -> go.Figure:
    """Heatmap [layers + 1, 5]: the top predictions after each layer, shaded by probability."""
    probs = np.array([row.top_probs for row in rows])
    text = [[visible(decode(i)) for i in row.top_ids] for row in rows]
    names = [
        t("nt.lens_embedding", lang) if row.layer == 0 else t("nt.lens_layer", lang, n=row.layer)
        for row in rows
    ]
    figure = go.Figure(
        go.Heatmap(
            z=probs,
            x=[f"#{n + 1}" for n in range(probs.shape[1])],
            y=names,
            text=text,
            texttemplate="%{text}",
            colorscale=SEQUENTIAL,
            zmin=0,
            zmax=1,
            colorbar={"title": {"text": t("nt.axis_prob", lang)}, "tickformat": ".0%"},
            hovertemplate="%{y} %{x}: %{text}<br>%{z:.2%}<extra></extra>",
        )
    )
    style(figure, t("nt.lens_title", lang), height=120 + 24 * len(rows))
    figure.update_layout(yaxis={"autorange": "reversed", "automargin": True})
    return figure


def mask_positions(analysis: Analysis, mask_id: int | None) -> list[int]:
    """Positions of the mask token in the input (where a masked LM fills in)."""
    if mask_id is None:
        return []
    return [int(i) for i in np.flatnonzero(analysis.input_ids == mask_id)]


def fill_mask_markdown(analysis: Analysis, mask_id: int | None, decode: Decode, lang: str) -> str:
    """For each [MASK]: its five most likely fillers with their probabilities."""
    positions = mask_positions(analysis, mask_id)
    if not positions:
        return t("nt.mask_none", lang, mask=escape(decode(mask_id)) if mask_id is not None else "")
    lines = []
    for n, position in enumerate(positions):
        probs = np.exp(analysis.top_logits[position][:5] - analysis.logsumexp[position])
        fillers = ", ".join(
            f"**{markdown_token(decode(int(i)))}** {p:.1%}"
            for i, p in zip(analysis.top_ids[position][:5], probs, strict=True)
        )
        lines.append(f"- {t('nt.mask_line', lang, n=n + 1, position=position)} {fillers}")
    return "\n".join(lines)


def family_notice(analysis: Analysis, lang: str) -> str:
    """What this model can predict, in one short paragraph (empty for decoders)."""
    model = escape(analysis.model_id)
    if analysis.family == ENCODER and not analysis.has_lm_head:
        return t("nt.no_head", lang, model=model)
    if analysis.family == ENCODER:
        return t("nt.mlm_notice", lang, model=model)
    if analysis.family == ENCODER_DECODER:
        return t("nt.seq2seq_notice", lang, model=model)
    return "" if analysis.family == DECODER else t("nt.no_head", lang, model=model)
