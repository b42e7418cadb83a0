"""Step-by-step generation in the panel: the session keeps only the picked ids.

State is {"key": the AnalysisKey as a list, "ids": [picked ids]}; the logits of
every step live in the server-side caches, so any step can be looked at again.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from components.next_token.bars import Candidates, from_distribution, from_stored
from components.next_token.inside import output_tokens
from components.page.context import escape
from components.page.i18n import t
from models.analysis import Analysis
from models.lenses.generation import generate, group_ids, readable_token, step_logits
from models.lenses.sampling import Distribution, distribution
from models.loading.catalog import ENCODER, ENCODER_DECODER
from models.loading.load import load_model

NEWLINE = "\n"


def generated_ids(state, key) -> list[int]:
    """The ids picked so far for this analysis (none if the text or model changed)."""
    if not state or list(state.get("key") or []) != list(key or []):
        return []
    return [int(i) for i in state.get("ids", [])]


def last_position(analysis: Analysis, n_generated: int) -> int:
    """The position slider's end: the last output token plus the generated ones."""
    return max(0, len(output_tokens(analysis)) - 1 + n_generated)


def extend(analysis: Analysis, state, key, n_tokens, knobs: dict, sample: bool, seed) -> dict:
    """Append up to `n_tokens` ids to the state; returns the new state."""
    ids = generated_ids(state, key)
    steps = generate(
        analysis,
        n_tokens,
        knobs["temperature"],
        knobs["top_k"],
        knobs["top_p"],
        greedy=not sample,
        seed=seed,
        generated=ids,
    )
    return {"key": list(key), "ids": ids + [s.chosen for s in steps]}


def candidates_at(
    analysis: Analysis, generated: list[int], position: int, knobs: dict, shown: int
) -> tuple[Candidates, int | None, Distribution | None]:
    """Candidates after output position `position` of input + generated tokens, the
    generation step it belongs to and its full distribution (None for an earlier
    input position, where only the stored top-100 exist)."""
    tokenizer = load_model(analysis.model_id).tokenizer

    def decode(i: int) -> str:
        return readable_token(tokenizer, i)

    last_input = len(output_tokens(analysis)) - 1
    position = int(np.clip(int(position), 0, last_input + len(generated)))
    if position < last_input or analysis.family == ENCODER:
        return from_stored(analysis, min(position, last_input), shown, decode), None, None
    step = position - last_input
    logits, _ = step_logits(analysis, generated[:step])
    dist = distribution(logits, knobs["temperature"], knobs["top_k"], knobs["top_p"])
    candidates = from_distribution(logits, dist, shown, decode)
    if step < len(generated):
        picked = generated[step]
        candidates = replace(
            candidates,
            actual_id=picked,
            actual_token=decode(picked),
            actual_prob=float(dist.probs[picked]),
            actual_rank=int((logits > logits[picked]).sum()) + 1,
        )
    return candidates, step, dist


def _generated_piece(text: str, step: int) -> str:
    """One generated piece, highlighted and numbered; whitespace and line breaks stay
    visible inside the highlight (the line break itself follows it)."""
    shown = text.replace(NEWLINE, "↵")
    if not shown.strip():
        shown = shown.replace(" ", "␣")
    return (
        '<span style="background:#0072B2;color:#FFFFFF;border-radius:3px;padding:0 2px;'
        f'white-space:pre-wrap">{escape(shown)}<sup>{step}</sup></span>'
        + NEWLINE
        * text.count(NEWLINE)
    )


def continuation_html(analysis: Analysis, generated: list[int], lang: str) -> str:
    """The text so far with the generated pieces highlighted and numbered by step."""
    if not generated:
        return f"<p>{escape(t('nt.gen_empty', lang))}</p>"
    tokenizer = load_model(analysis.model_id).tokenizer
    prompt = analysis.text_pair if analysis.family == ENCODER_DECODER else analysis.text
    if analysis.text_pair and analysis.family != ENCODER_DECODER:
        prompt = f"{analysis.text} {analysis.text_pair}"
    parts = [escape(prompt or "")]
    step = 0
    for text, ids in group_ids(tokenizer, generated):
        step += len(ids)
        parts.append(_generated_piece(text, step))
    note = escape(t("nt.gen_count", lang, n=len(generated)))
    return (
        f'<div id="nt-continuation" style="font-size:1.15em;line-height:1.8;'
        f'white-space:pre-wrap">{"".join(parts)}</div><p><small>{note}</small></p>'
    )
