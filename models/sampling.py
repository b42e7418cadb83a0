"""Logits -> probabilities, with the sampling knobs of `generate`.

Conventions follow transformers' `generate`: divide by the temperature, then
keep the top-k, then keep the smallest set whose probability reaches top-p, then
renormalise. top_k 0 and top_p 1.0 mean no cut; temperature 0 means greedy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.errors import AnatomyError

MAX_TEMPERATURE = 100.0


@dataclass(frozen=True)
class Distribution:
    """The next-token distribution after the knobs, over the whole vocabulary."""

    probs: np.ndarray  # [V] softmax(logits / T) before any cut
    kept: np.ndarray  # [V] bool, survived top-k and top-p
    final: np.ndarray  # [V] renormalised over the kept tokens (0 elsewhere)
    entropy: float  # of `probs`, in nats


def check_knobs(temperature: float, top_k: int, top_p: float) -> None:
    """Raise AnatomyError for values `generate` would not accept."""
    if temperature is None or not 0 <= float(temperature) <= MAX_TEMPERATURE:
        raise AnatomyError(
            f"Temperature must be between 0 and {MAX_TEMPERATURE:g}.", key="error.temperature"
        )
    if top_k is None or int(top_k) < 0:
        raise AnatomyError("top-k must be 0 (no cut) or a positive number.", key="error.top_k")
    if top_p is None or not 0 < float(top_p) <= 1:
        raise AnatomyError("top-p must be above 0 and at most 1.", key="error.top_p")


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - np.max(logits)
    exp = np.exp(shifted)
    return exp / exp.sum()


def distribution(logits: np.ndarray, temperature: float, top_k: int, top_p: float) -> Distribution:
    """Apply temperature, top-k, top-p to `logits` [V] as `generate` does."""
    check_knobs(temperature, top_k, top_p)
    if float(temperature) == 0:  # greedy: all mass on the arg-max
        probs = np.zeros(logits.shape, dtype=np.float64)
        probs[int(np.argmax(logits))] = 1.0
    else:
        probs = softmax(logits / float(temperature))
    kept = np.ones(logits.shape, dtype=bool)
    order = np.argsort(-probs, kind="stable")
    if int(top_k) > 0:
        kept[order[int(top_k) :]] = False
    if float(top_p) < 1.0:
        sorted_probs = probs[order] * kept[order]
        cumulative = np.cumsum(sorted_probs)
        # keep tokens until the mass before them already reaches top_p
        drop = (cumulative - sorted_probs) >= float(top_p)
        kept[order[drop]] = False
    final = np.where(kept, probs, 0.0)
    final = final / final.sum()
    nonzero = probs[probs > 0]
    entropy = float(-(nonzero * np.log(nonzero)).sum())
    return Distribution(probs, kept, final, entropy)
