"""Temperature, top-k, top-p as `generate` applies them, checked against the definitions
and against transformers' own logits warpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers.generation.logits_process import (
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from models.errors import AnatomyError
from models.lenses.sampling import distribution, ranked_ids

KNOBS = [
    (1.0, 0, 1.0),
    (0.7, 5, 1.0),
    (1.3, 0, 0.9),
    (0.5, 20, 0.5),
    (2.0, 3, 0.99),
    (1.0, 1, 1.0),
    (0.9, 50, 0.05),
]


def random_logits(seed: int, vocab: int = 200) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 3, vocab).astype(np.float32)


def reference_mask(logits: np.ndarray, temperature: float, top_k: int, top_p: float) -> np.ndarray:
    """Straight from the definitions: keep the k highest logits (ties with the k-th stay),
    then, renormalised over those, the fewest most likely tokens reaching mass top_p."""
    scaled = logits.astype(np.float64) / temperature
    keep = np.ones(len(logits), dtype=bool)
    if top_k > 0:
        kth = sorted(scaled, reverse=True)[min(top_k, len(scaled)) - 1]
        keep = scaled >= kth
    probs = np.exp(scaled - scaled.max()) * keep
    probs /= probs.sum()
    if top_p < 1.0:
        nucleus = np.zeros(len(logits), dtype=bool)
        mass = 0.0
        for i in sorted(np.flatnonzero(keep), key=lambda i: -probs[i]):
            nucleus[i] = True
            mass += probs[i]
            if mass >= top_p:
                break
        keep &= nucleus
    return keep


def transformers_mask(logits: np.ndarray, temperature: float, top_k: int, top_p: float):
    scores = torch.tensor(logits)[None, :]
    scores = TemperatureLogitsWarper(temperature)(None, scores)
    if top_k > 0:
        scores = TopKLogitsWarper(top_k)(None, scores)
    if top_p < 1.0:
        scores = TopPLogitsWarper(top_p)(None, scores)
    return torch.isfinite(scores[0]).numpy()


@pytest.mark.parametrize(("temperature", "top_k", "top_p"), KNOBS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_masks_match_the_definitions_and_transformers(seed, temperature, top_k, top_p):
    logits = random_logits(seed)
    dist = distribution(logits, temperature, top_k, top_p)
    np.testing.assert_array_equal(dist.kept, reference_mask(logits, temperature, top_k, top_p))
    np.testing.assert_array_equal(dist.kept, transformers_mask(logits, temperature, top_k, top_p))


@pytest.mark.parametrize(("temperature", "top_k", "top_p"), KNOBS)
def test_probabilities_equal_torch_softmax_and_renormalise(temperature, top_k, top_p):
    logits = random_logits(7, vocab=5000)
    dist = distribution(logits, temperature, top_k, top_p)
    expected = torch.softmax(torch.tensor(logits) / temperature, dim=-1).numpy()
    np.testing.assert_allclose(dist.probs, expected, atol=1e-6)
    assert dist.final.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all(dist.final[~dist.kept] == 0)
    kept_probs = dist.probs[dist.kept]
    np.testing.assert_allclose(dist.final[dist.kept], kept_probs / kept_probs.sum(), rtol=1e-9)
    expected_entropy = float(-(expected * np.log(expected)).sum())
    assert dist.entropy == pytest.approx(expected_entropy, rel=1e-5)


def test_temperature_sharpens_and_flattens():
    logits = random_logits(3)
    entropies = [distribution(logits, t, 0, 1.0).entropy for t in (0.3, 1.0, 3.0)]
    assert entropies[0] < entropies[1] < entropies[2]
    assert entropies[2] < np.log(len(logits))


def test_temperature_zero_is_greedy():
    logits = random_logits(4)
    dist = distribution(logits, 0, 0, 1.0)
    best = int(np.argmax(logits))
    assert dist.greedy_id == best
    assert dist.final[best] == 1.0 and dist.final.sum() == 1.0
    assert dist.kept.sum() == 1
    assert all(dist.sample_id(seed) == best for seed in range(5))
    assert dist.entropy == 0.0


def test_sampling_is_reproducible_from_the_seed_and_only_draws_kept_tokens():
    logits = random_logits(5, vocab=50)
    dist = distribution(logits, 1.5, 10, 0.9)
    draws = [dist.sample_id(42, step) for step in range(300)]
    assert draws == [dist.sample_id(42, step) for step in range(300)]
    assert draws != [dist.sample_id(43, step) for step in range(300)]
    assert all(dist.kept[d] for d in draws)
    counts = np.bincount(draws, minlength=50) / len(draws)
    top = int(np.argmax(dist.final))
    assert abs(counts[top] - dist.final[top]) < 0.1


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p", "key"),
    [
        (-0.5, 0, 1.0, "error.temperature"),
        (float("nan"), 0, 1.0, "error.temperature"),
        (float("inf"), 0, 1.0, "error.temperature"),
        (1e6, 0, 1.0, "error.temperature"),
        ("hot", 0, 1.0, "error.temperature"),
        (None, 0, 1.0, "error.temperature"),
        (1.0, -1, 1.0, "error.top_k"),
        (1.0, 2.5, 1.0, "error.top_k"),
        (1.0, 0, 0.0, "error.top_p"),
        (1.0, 0, 1.5, "error.top_p"),
        (1.0, 0, -0.1, "error.top_p"),
    ],
)
def test_bad_knobs_give_a_clear_error(temperature, top_k, top_p, key):
    with pytest.raises(AnatomyError) as raised:
        distribution(random_logits(0), temperature, top_k, top_p)
    assert raised.value.key == key
    assert "must" in str(raised.value)


def test_bad_seed_gives_a_clear_error():
    dist = distribution(random_logits(0), 1.0, 0, 1.0)
    for seed in (-1, 1.5, "x", 2**40):
        with pytest.raises(AnatomyError) as raised:
            dist.sample_id(seed)
        assert raised.value.key == "error.seed"


def test_top_k_larger_than_the_vocabulary_keeps_everything():
    logits = random_logits(1, vocab=30)
    assert distribution(logits, 1.0, 1000, 1.0).kept.all()


@pytest.mark.parametrize(("temperature", "top_k", "top_p"), [(0, 0, 1.0), (0, 5, 0.5), *KNOBS])
def test_ranked_ids_follow_the_logits_even_where_the_probability_is_zero(temperature, top_k, top_p):
    logits = random_logits(8, vocab=5000)
    dist = distribution(logits, temperature, top_k, top_p)
    ids = ranked_ids(logits, dist, 10)
    np.testing.assert_array_equal(ids, np.argsort(-logits, kind="stable")[:10])
    assert list(dist.kept[ids]) == sorted(dist.kept[ids], reverse=True)
