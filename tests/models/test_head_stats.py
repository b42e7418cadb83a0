"""Head statistics on hand-made attention matrices whose answers are known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.lenses.head_stats import (
    BROAD,
    FIRST_TOKEN,
    MIXED,
    PREVIOUS_TOKEN,
    SELF,
    head_stats,
    label_heads,
    row_entropy,
    visible_keys,
)

T = 8


def previous_token(t: int = T) -> np.ndarray:
    """Every query looks only at the token just before it (row 0 at itself)."""
    w = np.zeros((t, t))
    w[0, 0] = 1.0
    w[np.arange(1, t), np.arange(t - 1)] = 1.0
    return w


def first_token(t: int = T) -> np.ndarray:
    w = np.zeros((t, t))
    w[:, 0] = 1.0
    return w


def causal_uniform(t: int = T) -> np.ndarray:
    """Row i spreads its weight evenly over keys 0..i."""
    return np.tril(np.ones((t, t))) / np.arange(1, t + 1)[:, None]


def test_a_pure_previous_token_matrix_is_labelled_previous_token():
    stats = head_stats(previous_token())
    assert stats.previous_share == pytest.approx(1.0)
    assert stats.mean_distance == pytest.approx(1.0)
    assert stats.self_share == pytest.approx(0.0)
    assert stats.first_share == pytest.approx(1 / (T - 1))  # only row 1's previous is key 0
    assert stats.entropy == pytest.approx(0.0)
    assert stats.labels == PREVIOUS_TOKEN


def test_a_first_token_matrix_is_a_sink_with_distance_growing_with_position():
    stats = head_stats(first_token())
    assert stats.first_share == pytest.approx(1.0)
    assert stats.mean_distance == pytest.approx(np.mean(np.arange(1, T)))
    assert stats.labels == FIRST_TOKEN


def test_the_identity_is_a_self_head():
    stats = head_stats(np.eye(T))
    assert stats.self_share == pytest.approx(1.0)
    assert stats.mean_distance == pytest.approx(0.0)
    assert stats.labels == SELF


def test_uniform_causal_rows_have_full_normalised_entropy_and_are_broad():
    stats = head_stats(causal_uniform())
    expected_bits = np.mean([math.log2(i + 1) for i in range(1, T)])
    assert stats.entropy == pytest.approx(expected_bits)
    assert stats.normalized_entropy == pytest.approx(1.0)
    assert stats.labels == BROAD


def test_uniform_bidirectional_rows_are_broad_with_the_textbook_mean_distance():
    w = np.full((T, T), 1.0 / T)
    stats = head_stats(w)
    assert stats.entropy == pytest.approx(math.log2(T))
    # mean |i - j| over rows 1..T-1, each averaged over all T keys
    expected = np.mean([np.mean(np.abs(i - np.arange(T))) for i in range(1, T)])
    assert stats.mean_distance == pytest.approx(expected)
    assert stats.labels == BROAD


def test_a_head_split_between_two_habits_is_mixed():
    half = 0.5 * previous_token() + 0.5 * np.eye(T)
    half *= 0.9  # below the 0.5 share threshold for both habits ...
    half[:, -1] += 0.1  # ... with the rest on the last key (rows still sum to 1)
    np.testing.assert_allclose(half.sum(1), 1.0)
    assert head_stats(half).labels == MIXED


def test_stats_keep_the_leading_axes_and_measure_each_head_on_its_own():
    heads = np.stack([previous_token(), first_token(), np.eye(T), causal_uniform()])
    model = np.stack([heads, heads[::-1]])  # [L=2, H=4, T, T]
    stats = head_stats(model, chunk=3)  # chunks cross the layer boundary on purpose
    assert stats.labels.shape == (2, 4)
    assert list(stats.labels[0]) == [PREVIOUS_TOKEN, FIRST_TOKEN, SELF, BROAD]
    assert list(stats.labels[1]) == [BROAD, SELF, FIRST_TOKEN, PREVIOUS_TOKEN]
    assert stats.row(1, 3)["previous_share"] == pytest.approx(1.0)


def test_row_entropy_treats_zero_weights_as_contributing_nothing():
    rows = np.array([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0]])
    np.testing.assert_allclose(row_entropy(rows), [0.0, 2.0, 1.0])


def test_visible_keys_tell_causal_from_bidirectional():
    assert list(visible_keys(causal_uniform(4))) == [1, 2, 3, 4]
    assert list(visible_keys(np.full((4, 4), 0.25))) == [4, 4, 4, 4]


def test_labels_follow_the_documented_order_when_two_rules_match():
    # a head over the 0.5 threshold for both previous-token and first-token: first rule wins
    label = label_heads(
        previous_share=np.array(0.6),
        first_share=np.array(0.6),
        self_share=np.array(0.0),
        normalized_entropy=np.array(0.9),
    )
    assert label == PREVIOUS_TOKEN


def test_a_single_token_has_nothing_to_measure():
    stats = head_stats(np.ones((1, 1)))
    assert math.isnan(stats.entropy) and stats.labels == MIXED


def test_non_square_weights_are_refused():
    with pytest.raises(ValueError, match="square"):
        head_stats(np.ones((3, 4)) / 4)
