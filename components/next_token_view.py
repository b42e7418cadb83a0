"""Pure render functions of the next-token panel: candidates -> bar chart and summary.

`Candidates` holds the N most likely tokens at one point of the text, with
their probabilities before and after the sampling knobs. It is built either
from the full logits [V] (the last position, every generation step: the knobs
apply exactly) or from the top-100 the Analysis stored for an earlier position
(temperature 1, no cuts: the exact probabilities of those 100 tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from components.common import escape
from components.i18n import t
from components.theme import CATEGORICAL, MASKED, style
from models.analysis import Analysis
from models.sampling import Distribution, distribution, softmax

KEPT_COLOUR = CATEGORICAL[0]  # blue
FINAL_COLOUR = CATEGORICAL[1]  # orange
ACTUAL_COLOUR = CATEGORICAL[3]  # vermillion
VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥"}
MARKDOWN_SYNTAX = set("\\`*_{}[]()#+-.!|~")

Decode = Callable[[int], str]


@dataclass(frozen=True)
class Candidates:
    """The N most likely next tokens at one point, shapes [N], most likely first."""

    ids: np.ndarray  # [N] token ids
    tokens: tuple[str, ...]  # [N] readable text of each id
    logits: np.ndarray  # [N] raw logits
    base_probs: np.ndarray  # [N] softmax(logits) at temperature 1
    probs: np.ndarray  # [N] softmax(logits / T) before the cuts
    final: np.ndarray  # [N] renormalised after top-k / top-p (0 = removed)
    kept: np.ndarray  # [N] bool
    entropy: float | None  # nats, of softmax(logits / T) over the whole vocabulary
    n_kept: int | None  # tokens kept over the whole vocabulary
    vocab: int  # vocabulary size
    exact_knobs: bool  # False where only the stored top-100 at T = 1 exist
    actual_id: int | None = None  # the token that really came next, if known
    actual_prob: float | None = None
    actual_rank: int | None = None
    actual_token: str | None = None

    @property
    def shown_mass(self) -> float:
        """Probability (before cuts) held by the shown tokens."""
        return float(self.probs.sum())


def from_logits(logits: np.ndarray, temperature, top_k, top_p, shown: int, decode: Decode):
    """Candidates from full logits [V], with the knobs applied as `generate` does."""
    return from_distribution(logits, distribution(logits, temperature, top_k, top_p), shown, decode)


def from_distribution(logits: np.ndarray, dist: Distribution, shown: int, decode: Decode):
    """The `shown` most likely of a full distribution [V] (kept ones first)."""
    order = np.lexsort((-dist.probs, -dist.final))[: int(shown)]
    return Candidates(
        ids=order,
        tokens=tuple(decode(int(i)) for i in order),
        logits=logits[order].astype(np.float64),
        base_probs=softmax(logits)[order],
        probs=dist.probs[order],
        final=dist.final[order],
        kept=dist.kept[order],
        entropy=dist.entropy,
        n_kept=int(dist.kept.sum()),
        vocab=int(logits.shape[0]),
        exact_knobs=True,
    )


def from_stored(analysis: Analysis, position: int, shown: int, decode: Decode) -> Candidates:
    """Candidates at an earlier output position, from the stored top-100 (T = 1, no cuts)."""
    ids = analysis.top_ids[position][: int(shown)]
    logits = analysis.top_logits[position][: int(shown)].astype(np.float64)
    probs = np.exp(logits - float(analysis.logsumexp[position]))
    actual = _actual(analysis, position, decode)
    return Candidates(
        ids=ids,
        tokens=tuple(decode(int(i)) for i in ids),
        logits=logits,
        base_probs=probs,
        probs=probs,
        final=probs,
        kept=np.ones(ids.shape, dtype=bool),
        entropy=None,
        n_kept=None,
        vocab=int(analysis.logits_last.shape[0]),
        exact_knobs=False,
        **actual,
    )


def _actual(analysis: Analysis, position: int, decode: Decode) -> dict:
    """The token that came after `position` and the probability / rank it had."""
    if analysis.target_logprobs is None or position >= len(analysis.target_logprobs) - 1:
        return {}
    ids = analysis.decoder_input_ids
    ids = analysis.input_ids if ids is None else ids
    return {
        "actual_id": int(ids[position + 1]),
        "actual_token": decode(int(ids[position + 1])),
        "actual_prob": float(np.exp(analysis.target_logprobs[position])),
        "actual_rank": int(analysis.target_ranks[position]),
    }


def as_json(candidates: Candidates) -> dict:
    """The /next_token answer: {"candidates": [{token, id, prob, logit, kept}], "entropy"}."""
    return {
        "candidates": [
            {
                "token": candidates.tokens[n],
                "id": int(candidates.ids[n]),
                "prob": float(candidates.final[n]),
                "logit": float(candidates.logits[n]),
                "kept": bool(candidates.kept[n]),
            }
            for n in range(len(candidates.ids))
        ],
        "entropy": candidates.entropy,
    }


def visible(token: str) -> str:
    """Token text with spaces, newlines and tabs made visible (␣ ↵ ⇥)."""
    return "".join(VISIBLE.get(ch, ch) for ch in token) or "∅"


def markdown_token(token: str) -> str:
    """A token inside Markdown: visible spaces, HTML escaped, Markdown syntax neutralised."""
    shown = "".join("\\" + ch if ch in MARKDOWN_SYNTAX else ch for ch in visible(token))
    return escape(shown)


def _labels(candidates: Candidates) -> list[str]:
    # the rank makes every label unique: plotly merges equal category labels
    return [f"{n + 1}. {visible(tok)}" for n, tok in enumerate(candidates.tokens)]


def _hover(candidates: Candidates, lang: str) -> list[str]:
    rows = []
    for n, token_id in enumerate(candidates.ids):
        rows.append(
            t(
                "nt.hover",
                lang,
                id=int(token_id),
                logit=f"{candidates.logits[n]:.2f}",
                base=f"{candidates.base_probs[n]:.2%}",
                prob=f"{candidates.probs[n]:.2%}",
                final=f"{candidates.final[n]:.2%}" if candidates.kept[n] else t("nt.cut", lang),
            )
        )
    return rows


def bar_figure(candidates: Candidates, lang: str, title: str) -> go.Figure:
    """Horizontal bars [N]: kept (blue) vs removed (grey, hatched), the renormalised
    probability (orange diamond) and the temperature-1 probability (black tick)."""
    labels = _labels(candidates)
    hover = _hover(candidates, lang)
    kept, removed = candidates.kept, ~candidates.kept
    figure = go.Figure()
    for mask, colour, pattern, name in (
        (kept, KEPT_COLOUR, "", t("nt.legend_kept", lang)),
        (removed, MASKED, "/", t("nt.legend_removed", lang)),
    ):
        if mask.any() or colour == KEPT_COLOUR:
            figure.add_bar(
                x=candidates.probs[mask],
                y=[label for label, m in zip(labels, mask, strict=True) if m],
                orientation="h",
                name=name,
                marker={"color": colour, "pattern": {"shape": pattern}},
                text=[f"{p:.1%}" for p in candidates.probs[mask]],
                textposition="outside",
                hovertext=[h for h, m in zip(hover, mask, strict=True) if m],
                hoverinfo="text",
            )
    if candidates.exact_knobs:
        figure.add_scatter(
            x=candidates.final[kept],
            y=[label for label, m in zip(labels, kept, strict=True) if m],
            mode="markers",
            name=t("nt.legend_final", lang),
            marker={"color": FINAL_COLOUR, "symbol": "diamond", "size": 11},
            hoverinfo="skip",
        )
        figure.add_scatter(
            x=candidates.base_probs,
            y=labels,
            mode="markers",
            name=t("nt.legend_t1", lang),
            marker={"color": "#000000", "symbol": "line-ns-open", "size": 16, "line": {"width": 2}},
            hoverinfo="skip",
        )
    _mark_actual(figure, candidates, labels, lang)
    style(figure, title, height=180 + 30 * len(labels))
    top = max(float(candidates.probs.max(initial=0)), float(candidates.final.max(initial=0)))
    figure.update_layout(
        barmode="overlay",
        xaxis={"title": t("nt.axis_prob", lang), "tickformat": ".0%", "range": [0, top * 1.2]},
        yaxis={"autorange": "reversed", "automargin": True},
        legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        margin={"l": 10, "t": 90},
    )
    return figure


def _mark_actual(figure: go.Figure, candidates: Candidates, labels: list[str], lang: str) -> None:
    if candidates.actual_id is None:
        return
    where = np.flatnonzero(candidates.ids == candidates.actual_id)
    if where.size:
        figure.add_scatter(
            x=[candidates.probs[where[0]]],
            y=[labels[where[0]]],
            mode="markers",
            name=t("nt.legend_actual", lang),
            marker={"color": ACTUAL_COLOUR, "symbol": "star", "size": 16},
            hoverinfo="skip",
        )


def summary(candidates: Candidates, lang: str) -> str:
    """Markdown under the chart: mass outside the shown tokens, entropy, what came next."""
    lines = [
        t(
            "nt.summary_mass",
            lang,
            shown=len(candidates.ids),
            mass=f"{candidates.shown_mass:.1%}",
            rest=f"{max(0.0, 1 - candidates.shown_mass):.1%}",
            others=f"{candidates.vocab - len(candidates.ids):,}",
        )
    ]
    if candidates.entropy is not None:
        lines.append(
            t(
                "nt.summary_entropy",
                lang,
                nats=f"{candidates.entropy:.2f}",
                bits=f"{candidates.entropy / np.log(2):.2f}",
                choices=f"{np.exp(candidates.entropy):.1f}",
            )
        )
    if candidates.n_kept is not None:
        lines.append(t("nt.summary_kept", lang, kept=f"{candidates.n_kept:,}"))
    else:
        lines.append(t("nt.summary_stored", lang))
    if candidates.actual_prob is not None:
        lines.append(
            t(
                "nt.summary_actual",
                lang,
                token=markdown_token(candidates.actual_token or ""),
                prob=f"{candidates.actual_prob:.2%}",
                rank=f"{candidates.actual_rank:,}",
            )
        )
    return "\n".join(f"- {line}" for line in lines)
