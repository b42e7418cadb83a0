"""Head patterns: a few measured numbers per attention head, and a label from them.

Pure numpy, no model. Every function takes attention weights shaped
[..., T, T] (rows = queries, columns = keys, each row sums to 1) and returns
one number per head, shaped [...] (e.g. [L, H] for a whole model).

Row 0 is left out of every statistic: in a causal model the first query can
only see itself, so it says nothing about the head. With a single token there
is nothing to measure and every statistic is NaN.

Labels and their thresholds (checked in this order, first match wins):

=====================  ==============================================  =========
label                  rule                                            threshold
=====================  ==============================================  =========
``previous-token``     mean weight on the key just before the query    >= 0.5
``first-token sink``   mean weight on the first key (position 0)       >= 0.5
``self``               mean weight on the query's own position         >= 0.5
``broad``              normalised entropy (1 = spread evenly over      >= 0.75
                       every key the query may see)
``mixed``              anything else
=====================  ==============================================  =========

0.5 means "more than half of the weight, on average over the queries": a head
that does this is doing one thing most of the time. For ``broad``: a row spread
evenly over k of its n visible keys has normalised entropy log k / log n, so
0.75 means "as spread as an even split over n**0.75 keys" (22 of 64); a row
with half its weight on one key of 64 and the rest spread evenly scores 0.67.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHARE_THRESHOLD = 0.5  # previous-token, first-token and self labels
BROAD_THRESHOLD = 0.75  # normalised entropy for "broad"

PREVIOUS_TOKEN = "previous-token"
FIRST_TOKEN = "first-token sink"
SELF = "self"
BROAD = "broad"
MIXED = "mixed"
LABELS = (PREVIOUS_TOKEN, FIRST_TOKEN, SELF, BROAD, MIXED)


@dataclass(frozen=True)
class HeadStats:
    """Per-head numbers, each shaped like the leading axes of the weights ([L, H] ...)."""

    entropy: np.ndarray  # mean row entropy, in bits
    normalized_entropy: np.ndarray  # entropy / log2(keys the query may see), in [0, 1]
    mean_distance: np.ndarray  # mean |query - key| in tokens, weighted by attention
    previous_share: np.ndarray  # mean weight on key = query - 1
    first_share: np.ndarray  # mean weight on key 0
    self_share: np.ndarray  # mean weight on key = query
    labels: np.ndarray  # str, one of LABELS

    def row(self, *index: int) -> dict:
        """All numbers of one head as a plain dict (for tables and JSON)."""
        return {
            "entropy": float(self.entropy[index]),
            "normalized_entropy": float(self.normalized_entropy[index]),
            "mean_distance": float(self.mean_distance[index]),
            "previous_share": float(self.previous_share[index]),
            "first_share": float(self.first_share[index]),
            "self_share": float(self.self_share[index]),
            "label": str(self.labels[index]),
        }


def visible_keys(weights: np.ndarray, chunk: int = 16) -> np.ndarray:
    """[T] how many keys each query may see: i+1 if the weights look causal, else T."""
    t = weights.shape[-1]
    flat = weights.reshape(-1, t, t)
    future = (np.triu(flat[i : i + chunk], k=1).any() for i in range(0, len(flat), chunk))
    causal = t > 1 and not any(future)
    return np.arange(1, t + 1) if causal else np.full(t, t)


def row_entropy(weights: np.ndarray) -> np.ndarray:
    """[..., T] entropy of each row in bits (0 log 0 = 0), summed in float64."""
    w = np.asarray(weights)
    w = w if w.dtype in (np.float32, np.float64) else w.astype(np.float64)
    logs = np.zeros_like(w)
    np.log2(w, out=logs, where=w > 0)
    return -np.einsum("...j,...j->...", w, logs, dtype=np.float64)


def head_stats(weights: np.ndarray, chunk: int = 16) -> HeadStats:
    """Measure every head of `weights` [..., T, T]; see the module docstring for the rules.

    Heads are measured `chunk` at a time (sums in float64), so a whole 512-token
    model ([30, 9, 512, 512]) never needs more than a few tens of MB extra.
    """
    t = weights.shape[-1]
    if weights.ndim < 2 or weights.shape[-2] != t:
        raise ValueError(f"head_stats needs square [..., T, T] weights, got {weights.shape}")
    lead = weights.shape[:-2]
    if t < 2:
        nan = np.full(lead, np.nan)
        return HeadStats(nan, nan, nan, nan, nan, nan, np.full(lead, MIXED, dtype=object))
    flat = weights.reshape(-1, t, t)
    most = np.log2(visible_keys(weights)[1:])
    parts = [_measure(flat[i : i + chunk], most) for i in range(0, len(flat), chunk)]
    stats = {name: np.concatenate([p[name] for p in parts]).reshape(lead) for name in parts[0]}
    return HeadStats(**stats, labels=label_heads(**stats))


def _measure(heads: np.ndarray, most: np.ndarray) -> dict[str, np.ndarray]:
    """Numbers for a stack of heads [N, T, T]; `most` [T-1] = log2(visible keys), rows 1.."""
    w = np.asarray(heads)  # float32 stays float32; sums below are taken in float64
    t = w.shape[-1]
    rows = np.arange(1, t)
    entropy = row_entropy(w)[:, 1:]
    distance = np.abs(np.arange(t)[:, None] - np.arange(t)[None, :]).astype(w.dtype)
    return dict(
        entropy=entropy.mean(axis=-1),
        normalized_entropy=(entropy / most).mean(axis=-1),
        mean_distance=np.einsum("nij,ij->ni", w, distance, dtype=np.float64)[:, 1:].mean(axis=-1),
        previous_share=w[:, rows, rows - 1].mean(axis=-1),
        first_share=w[:, 1:, 0].mean(axis=-1),
        self_share=w[:, rows, rows].mean(axis=-1),
    )


def label_heads(
    previous_share: np.ndarray,
    first_share: np.ndarray,
    self_share: np.ndarray,
    normalized_entropy: np.ndarray,
    **_unused: np.ndarray,
) -> np.ndarray:
    """One label per head from its numbers (first matching rule of the table wins)."""
    rules = [
        (previous_share >= SHARE_THRESHOLD, PREVIOUS_TOKEN),
        (first_share >= SHARE_THRESHOLD, FIRST_TOKEN),
        (self_share >= SHARE_THRESHOLD, SELF),
        (normalized_entropy >= BROAD_THRESHOLD, BROAD),
    ]
    labels = np.full(np.shape(previous_share), MIXED, dtype=object)
    for condition, label in reversed(rules):
        labels = np.where(condition, label, labels)
    return labels
