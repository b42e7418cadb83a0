"""Logits -> probabilities, with the sampling knobs of `generate`.

Conventions follow transformers' `generate` (its logits warpers, in order):
divide by the temperature, then keep the top-k (ties with the k-th logit stay,
as in `TopKLogitsWarper`), then keep the smallest set of the remaining tokens
whose renormalised probability reaches top-p (`TopPLogitsWarper`, at least one
token kept), then renormalise. top_k 0 and top_p 1.0 mean no cut; temperature 0
means greedy (all mass on the arg-max).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.errors import AnatomyError

MAX_TEMPERATURE = 100.0
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Distribution:
    """The next-token distribution after the knobs, over the whole vocabulary [V]."""

    probs: np.ndarray  # [V] softmax(logits / T) before any cut (one-hot at T = 0)
    kept: np.ndarray  # [V] bool, survived top-k and top-p
    final: np.ndarray  # [V] renormalised over the kept tokens (0 elsewhere)
    entropy: float  # of `probs`, in nats

    @property
    def greedy_id(self) -> int:
        """The arg-max: what greedy decoding picks (the cuts never remove it)."""
        return int(np.argmax(self.probs))

    def sample_id(self, seed: int, step: int = 0) -> int:
        """A draw from `final`, reproducible from (seed, step): a class sees the same pick."""
        rng = np.random.default_rng([check_seed(seed), int(step)])
        kept = np.flatnonzero(self.final > 0)
        return int(rng.choice(kept, p=self.final[kept]))


def _number(value, key: str, message: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AnatomyError(message, key=key) from None
    if not math.isfinite(number):
        raise AnatomyError(message, key=key)
    return number


def check_knobs(temperature, top_k, top_p) -> tuple[float, int, float]:
    """The knobs as (float, int, float); AnatomyError for values `generate` would refuse."""
    t_message = f"Temperature must be between 0 and {MAX_TEMPERATURE:g}."
    temperature = _number(temperature, "error.temperature", t_message)
    if not 0 <= temperature <= MAX_TEMPERATURE:
        raise AnatomyError(t_message, key="error.temperature")
    k_message = "top-k must be 0 (no cut) or a positive whole number."
    k = _number(top_k, "error.top_k", k_message)
    if k < 0 or k != int(k):
        raise AnatomyError(k_message, key="error.top_k")
    p_message = "top-p must be above 0 and at most 1."
    p = _number(top_p, "error.top_p", p_message)
    if not 0 < p <= 1:
        raise AnatomyError(p_message, key="error.top_p")
    return temperature, int(k), p


def check_seed(seed) -> int:
    message = f"The seed must be a whole number between 0 and {MAX_SEED}."
    value = _number(seed, "error.seed", message)
    if not 0 <= value <= MAX_SEED or value != int(value):
        raise AnatomyError(message, key="error.seed")
    return int(value)


def softmax(logits: np.ndarray) -> np.ndarray:
    """softmax over the last axis, in float64."""
    shifted = logits.astype(np.float64) - np.max(logits, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def entropy_of(probs: np.ndarray) -> float:
    """Shannon entropy in nats (0 log 0 = 0)."""
    nonzero = probs[probs > 0]
    return float(max(0.0, -(nonzero * np.log(nonzero)).sum()))


def top_k_mask(probs: np.ndarray, top_k: int) -> np.ndarray:
    """[V] bool: tokens whose probability is at least the k-th largest (0 = keep all)."""
    if top_k <= 0 or top_k >= probs.shape[0]:
        return np.ones(probs.shape, dtype=bool)
    kth = np.partition(probs, -top_k)[-top_k]
    return probs >= kth


def top_p_mask(probs: np.ndarray, top_p: float) -> np.ndarray:
    """[V] bool: the most likely tokens until their mass reaches top_p (at least one)."""
    if top_p >= 1.0:
        return np.ones(probs.shape, dtype=bool)
    order = _most_likely_first(probs, top_p)
    sorted_probs = probs[order]
    mass_before = np.cumsum(sorted_probs) - sorted_probs
    keep_sorted = mass_before < top_p
    keep_sorted[0] = True
    kept = np.zeros(probs.shape, dtype=bool)
    kept[order[keep_sorted]] = True
    return kept


def _most_likely_first(probs: np.ndarray, mass: float) -> np.ndarray:
    """Ids by falling probability, at least until `mass` is reached: a partial sort of
    the few most likely tokens usually suffices (a 262k vocabulary costs ~1 ms)."""
    size = 256
    while size < probs.shape[0]:
        head = np.argpartition(-probs, size)[:size]
        head = head[np.argsort(-probs[head], kind="stable")]
        if probs[head].sum() >= mass:
            return head
        size *= 8
    return np.argsort(-probs, kind="stable")


def ranked_ids(logits: np.ndarray, dist: Distribution, n: int) -> np.ndarray:
    """[n] ids of the n most likely tokens, kept ones first, then by falling logit.

    Temperature and the cuts never reorder the logits, so ranking by the logit keeps
    the runners-up meaningful even where their probability is 0 (temperature 0:
    one-hot, every other token ties at 0 and would come back in arbitrary order).
    """
    n = max(1, min(int(n), logits.shape[0]))
    head = np.argpartition(-logits, n - 1)[:n]  # the cuts keep the highest logits
    return head[np.lexsort((-logits[head], -dist.final[head]))]


def distribution(logits: np.ndarray, temperature, top_k, top_p) -> Distribution:
    """Apply temperature, top-k, top-p to `logits` [V] as `generate` does."""
    temperature, top_k, top_p = check_knobs(temperature, top_k, top_p)
    if temperature == 0:  # greedy: all mass on the arg-max
        probs = np.zeros(logits.shape, dtype=np.float64)
        probs[int(np.argmax(logits))] = 1.0
    else:
        probs = softmax(logits.astype(np.float64) / temperature)
    kept = top_k_mask(probs, top_k) & (probs > 0 if temperature == 0 else True)
    after_k = np.where(kept, probs, 0.0)
    kept &= top_p_mask(after_k / after_k.sum(), top_p)
    final = np.where(kept, probs, 0.0)
    final = final / final.sum()
    return Distribution(probs, kept, final, entropy_of(probs))
