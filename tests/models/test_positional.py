"""Positional encodings: the sinusoidal formula, learned tables and rotary frequencies,
each compared with an independent computation or the model's own weights and buffers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.lenses.positional import (
    learned_position_table,
    rotary_frequencies,
    rotary_settings,
    sinusoidal_table,
)
from models.loading.catalog import GEMMA3, SMOLLM2
from models.loading.load import load_model
from models.results import get_analysis


@pytest.mark.parametrize("width", [4, 16, 7])
def test_sinusoidal_table_matches_the_paper_formula(width):
    table = sinusoidal_table(50, width)
    assert table.shape == (50, width)
    for pos in range(50):
        for dim in range(width):
            angle = pos / 10000 ** ((dim - dim % 2) / width)
            expected = math.sin(angle) if dim % 2 == 0 else math.cos(angle)
            assert table[pos, dim] == pytest.approx(expected, abs=1e-12)


def test_sinusoidal_shift_is_a_rotation_of_each_pair():
    # PE[pos + k] is PE[pos] with every (sin, cos) pair rotated by k * frequency:
    # why the paper expected relative positions to be easy to attend to
    table = sinusoidal_table(40, 8)
    frequencies = 1 / 10000 ** (np.arange(0, 8, 2) / 8)
    k = 5
    for pair, freq in enumerate(frequencies):
        sin_now, cos_now = table[:-k, 2 * pair], table[:-k, 2 * pair + 1]
        angle = k * freq
        np.testing.assert_allclose(
            table[k:, 2 * pair], sin_now * math.cos(angle) + cos_now * math.sin(angle), atol=1e-12
        )
    np.testing.assert_allclose(np.linalg.norm(table, axis=1), 2.0, atol=1e-12)


def test_learned_tables_are_the_models_own_weights(tiny):
    gpt2 = load_model(tiny["tiny-gpt2"]).model
    np.testing.assert_array_equal(
        learned_position_table(tiny["tiny-gpt2"], 10),
        gpt2.transformer.wpe.weight.detach().numpy()[:10],
    )
    bert = load_model(tiny["tiny-bert"]).model
    np.testing.assert_array_equal(
        learned_position_table(tiny["tiny-bert"], 10),
        bert.bert.embeddings.position_embeddings.weight.detach().numpy()[:10],
    )
    assert learned_position_table(tiny["tiny-llama-gqa"], 10) is None


def test_token_plus_position_is_what_enters_block_one_in_gpt2(tiny):
    model = tiny["tiny-gpt2"]
    analysis = get_analysis(model, "one two three four")
    table = learned_position_table(model, analysis.n_tokens)
    np.testing.assert_allclose(
        analysis.hidden_states[0], analysis.token_embeddings + table, atol=1e-5
    )


@pytest.mark.parametrize("model_key", ["tiny-llama-gqa", SMOLLM2])
def test_rotary_frequencies_equal_the_models_inv_freq_buffer(tiny, model_key):
    model_id = tiny.get(model_key, model_key)
    (rotary,) = rotary_settings(model_id)
    buffer = load_model(model_id).model.model.rotary_emb.inv_freq.numpy()
    np.testing.assert_allclose(rotary.frequencies, buffer, rtol=1e-6)
    assert rotary.wavelengths[0] == pytest.approx(2 * math.pi)
    assert np.all(np.diff(rotary.wavelengths) > 0)


def test_gemma_reports_both_of_its_rotary_bases():
    settings = {r.kind: r for r in rotary_settings(GEMMA3)}
    rotary_module = load_model(GEMMA3).model.model.rotary_emb
    assert set(settings) == {"full_attention", "sliding_attention"}
    for kind, rotary in settings.items():
        buffer = getattr(rotary_module, f"{kind}_inv_freq").numpy()
        np.testing.assert_allclose(rotary.frequencies, buffer, rtol=1e-6)
    assert settings["full_attention"].theta > settings["sliding_attention"].theta


def test_models_with_learned_positions_report_no_rotary(tiny):
    assert rotary_settings(tiny["tiny-gpt2"]) == []
    frequencies = rotary_frequencies(10000.0, 8)
    np.testing.assert_allclose(frequencies, [1, 10000**-0.25, 10000**-0.5, 10000**-0.75])
