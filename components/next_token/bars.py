"""Pure render functions of the next-token panel: candidates -> bar chart and summary.

`Candidates` holds the N most likely tokens at one point of the text, with
their probabilities before and after the sampling knobs. It is built either
from the full logits [V] (the last position, every generation step: the knobs
apply exactly) or from the top-100 the Analysis stored for an earlier position
(temperature 1, no cuts: the exact probabilities of those 100 tokens).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go

from components.page.context import escape
from components.page.i18n import t
from components.page.theme import CATEGORICAL, MASKED, style, title_margin, wrap_title
from models.analysis import Analysis
from models.lenses.sampling import Distribution, distribution, ranked_ids

KEPT_COLOUR = CATEGORICAL[0]  # blue
FINAL_COLOUR = CATEGORICAL[1]  # orange
ACTUAL_COLOUR = CATEGORICAL[3]  # vermillion
VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥"}
MARKDOWN_SYNTAX = set("\\`*_{}[]()#+-.!|~")
LEGEND_ROOM = 110  # bottom margin: the axis title and a legend of up to two rows

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
    order = ranked_ids(logits, dist, shown)
    log_total = float(np.logaddexp.reduce(logits.astype(np.float64)))
    return Candidates(
        ids=order,
        tokens=tuple(decode(int(i)) for i in order),
        logits=logits[order].astype(np.float64),
        base_probs=np.exp(logits[order].astype(np.float64) - log_total),
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


@lru_cache(maxsize=1)
def _themed_layout() -> dict:
    """The shared theme's layout as plain JSON, resolved once (the named template is
    expanded here, so figures built from it skip plotly's slow validation)."""
    return style(go.Figure(), "-").layout.to_plotly_json()


def fast_figure(traces: list[dict], title: str, height: int, **layout) -> go.Figure:
    """A themed figure from plain trace dicts, without per-property validation: the
    bars re-render on every slider move and validation cost ~0.3 s a figure."""
    title = wrap_title(title)
    merged = {**_themed_layout(), "title": {"text": title}, "height": height, **layout}
    merged["margin"] = {**merged.get("margin", {}), "t": title_margin(title)}
    return go.Figure({"data": traces, "layout": merged}, _validate=False)


def percent_format(top: float, ticks: int = 6) -> str:
    """A d3 percent format with the decimals the axis needs up to `top` (a fraction):
    at temperature 2.5 the bars end near 1.5%, and '.0%' wrote 0%, 0%, 1%, 1%."""
    step = max(float(top), 1e-12) / ticks  # about the tick spacing plotly picks
    decimals = max(0, -math.floor(math.log10(step * 100)))
    return f".{min(decimals, 4)}%"


def bar_text(prob: float) -> str:
    """The number at a bar's end: 12.3%, 0.42%, 0.0031% (never a bare 0.0%)."""
    if prob >= 0.001 or prob == 0:
        return f"{prob:.1%}"
    return f"{prob * 100:.2g}%"


def _pick(values, mask) -> list:
    return [v for v, m in zip(values, mask, strict=True) if m]


def bar_figure(candidates: Candidates, lang: str, title: str) -> go.Figure:
    """Horizontal bars [N]: kept (blue) vs removed (grey, hatched), the renormalised
    probability (orange diamond) and the temperature-1 probability (black tick)."""
    labels = _labels(candidates)
    hover = _hover(candidates, lang)
    kept = candidates.kept
    traces = []
    for mask, colour, pattern, name in (
        (kept, KEPT_COLOUR, "", t("nt.legend_kept", lang)),
        (~kept, MASKED, "/", t("nt.legend_removed", lang)),
    ):
        if mask.any() or colour == KEPT_COLOUR:
            traces.append(
                {
                    "type": "bar",
                    "x": candidates.probs[mask].tolist(),
                    "y": _pick(labels, mask),
                    "orientation": "h",
                    "name": name,
                    "marker": {"color": colour, "pattern": {"shape": pattern}},
                    "text": [bar_text(p) for p in candidates.probs[mask]],
                    "textposition": "outside",
                    "hovertext": _pick(hover, mask),
                    "hoverinfo": "text",
                }
            )
    if candidates.exact_knobs:
        traces.append(
            _markers(
                candidates.final[kept],
                _pick(labels, kept),
                t("nt.legend_final", lang),
                {"color": FINAL_COLOUR, "symbol": "diamond", "size": 11},
            )
        )
        traces.append(
            _markers(
                candidates.base_probs,
                labels,
                t("nt.legend_t1", lang),
                {"color": "#000000", "symbol": "line-ns-open", "size": 16, "line": {"width": 2}},
            )
        )
    traces += _actual_marker(candidates, labels, lang)
    top = max(float(candidates.probs.max(initial=0)), float(candidates.final.max(initial=0)))
    return fast_figure(
        traces,
        title,
        height=200 + 30 * len(labels),
        barmode="overlay",
        xaxis={
            "title": {"text": t("nt.axis_prob", lang)},
            "tickformat": percent_format(top * 1.2),
            "range": [0, top * 1.2],
        },
        yaxis={"autorange": "reversed", "automargin": True},
        # under the axis title, clear of the chart's title whatever the knobs add
        legend={
            "orientation": "h",
            "x": 0,
            "y": 0,
            "xanchor": "left",
            "yanchor": "bottom",
            "yref": "container",
        },
        margin={"l": 10, "r": 20, "b": LEGEND_ROOM},
    )


def _markers(x, y, name: str, marker: dict) -> dict:
    return {
        "type": "scatter",
        "x": [float(v) for v in x],
        "y": list(y),
        "mode": "markers",
        "name": name,
        "marker": marker,
        "hoverinfo": "skip",
    }


def _actual_marker(candidates: Candidates, labels: list[str], lang: str) -> list[dict]:
    if candidates.actual_id is None:
        return []
    where = np.flatnonzero(candidates.ids == candidates.actual_id)
    if not where.size:
        return []
    marker = {"color": ACTUAL_COLOUR, "symbol": "star", "size": 16}
    n = int(where[0])
    return [_markers([candidates.probs[n]], [labels[n]], t("nt.legend_actual", lang), marker)]


def summary(candidates: Candidates, lang: str) -> str:
    """Markdown under the chart: mass outside the shown tokens, entropy, what came next."""
    lines = [
        t(
            "nt.summary_mass",
            lang,
            shown=len(candidates.ids),
            n=len(candidates.ids),
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
        lines.append(t("nt.summary_kept", lang, kept=f"{candidates.n_kept:,}", n=candidates.n_kept))
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
