"""Q·K walk-through: its softmax row equals the model's attention, its vectors the model's own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from components.attention import walkthrough as qk_walkthrough
from models.analysis import analyze
from models.errors import AnatomyError
from models.lenses.walkthrough import head_steps
from models.loading.catalog import GEMMA3, MINILM, SMOLLM2
from models.loading.load import LoadedModel, load_model

TINY = ("tiny-bert", "tiny-gpt2", "tiny-llama-gqa", "tiny-bart")
BUNDLED = (SMOLLM2, GEMMA3, MINILM)
SENTENCE = "The quick brown fox jumps over the lazy dog. 고양이가 잔다."


@pytest.fixture(scope="module")
def analysed(tiny):
    """name -> (LoadedModel, Analysis) of SENTENCE, for every tiny and bundled model."""
    out = {}
    for name in TINY + BUNDLED:
        loaded = load_model(tiny.get(name, name))
        out[name] = (loaded, analyze(loaded, SENTENCE))
    return out


@pytest.mark.parametrize("name", TINY + BUNDLED)
def test_softmax_row_equals_the_models_attention_row(analysed, name):
    loaded, analysis = analysed[name]
    t = analysis.n_tokens
    worst = 0.0
    for layer in range(analysis.n_layers):
        for head in range(analysis.n_heads):
            query = (layer * analysis.n_heads + head) % t  # a different row for each head
            for q in {query, t - 1}:
                steps = head_steps(loaded, analysis, layer, head, q)
                own_row = analysis.attentions[layer, head, q]
                worst = max(worst, float(np.max(np.abs(steps.weights - own_row))))
                assert steps.weights.sum() == pytest.approx(1.0, abs=1e-5)
    assert worst < 1e-5


def _attention_output_per_head(loaded, analysis, layer):
    """[T, H, d] concatenated head outputs, caught where the model feeds its output
    projection (an independent forward pass of the whole model)."""
    model = loaded.model
    block_lists = [
        m
        for n, m in model.named_modules()
        if isinstance(m, nn.ModuleList) and n.endswith(("layers", "layer", ".h"))
    ]
    block = block_lists[0][layer]  # the encoder's first, for BART
    if hasattr(block, "attention"):  # BERT: BertSelfOutput.dense follows the heads
        projection = block.attention.output.dense
    else:
        projection = next(
            getattr(m, n)
            for m in block.modules()
            for n in ("o_proj", "c_proj", "out_proj")
            if isinstance(getattr(m, n, None), nn.Module)
        )
    caught = {}
    handle = projection.register_forward_pre_hook(lambda _m, args: caught.setdefault("x", args[0]))
    inputs = {"input_ids": torch.from_numpy(analysis.input_ids).unsqueeze(0)}
    if analysis.decoder_input_ids is not None:
        inputs["decoder_input_ids"] = torch.from_numpy(analysis.decoder_input_ids).unsqueeze(0)
    try:
        with torch.inference_mode():
            model(**inputs)
    finally:
        handle.remove()
    return caught["x"][0].reshape(analysis.n_tokens, analysis.n_heads, -1).numpy()


@pytest.mark.parametrize("name", TINY + (SMOLLM2, GEMMA3))
def test_weighted_sum_of_values_equals_the_models_head_output(analysed, name):
    loaded, analysis = analysed[name]
    layer = analysis.n_layers - 1
    per_head = _attention_output_per_head(loaded, analysis, layer)
    for head in range(analysis.n_heads):
        steps = head_steps(loaded, analysis, layer, head, analysis.n_tokens - 1)
        np.testing.assert_allclose(steps.output, per_head[-1, head], atol=1e-4)


def test_gpt2_fused_projection_splits_c_attn_in_three(analysed):
    loaded, analysis = analysed["tiny-gpt2"]
    steps = head_steps(loaded, analysis, 1, 2, 3)
    block = loaded.model.transformer.h[1]
    x = block.ln_1(torch.from_numpy(analysis.hidden_states[1]))[3].detach().numpy()
    weight = block.attn.c_attn.weight.detach().numpy()  # [D, 3D]: q | k | v
    bias = block.attn.c_attn.bias.detach().numpy()
    width, d = weight.shape[0], steps.head_dim
    columns = slice(2 * d, 3 * d)  # query part, head 2
    np.testing.assert_allclose(steps.q_projected, x @ weight[:, columns] + bias[columns], atol=1e-5)
    value_columns = slice(2 * width + 2 * d, 2 * width + 3 * d)
    np.testing.assert_allclose(
        steps.values[3], x @ weight[:, value_columns] + bias[value_columns], atol=1e-5
    )
    assert steps.fused_projection and not steps.rotary


def test_grouped_query_heads_share_keys_and_values(analysed):
    loaded, analysis = analysed["tiny-llama-gqa"]
    steps = [head_steps(loaded, analysis, 0, head, 5) for head in range(4)]
    assert [s.kv_head for s in steps] == [0, 0, 1, 1]
    assert steps[0].shared_heads == (0, 1) and steps[3].shared_heads == (2, 3)
    np.testing.assert_array_equal(steps[0].keys, steps[1].keys)
    np.testing.assert_array_equal(steps[2].values, steps[3].values)
    assert not np.allclose(steps[0].keys, steps[2].keys)
    assert steps[0].rotary and steps[0].n_kv_heads == 2


def test_rotary_is_applied_to_the_query_shown(analysed):
    """For a token past position 0, rotation changes q; at position 0 it is the identity."""
    loaded, analysis = analysed["tiny-llama-gqa"]
    at_start = head_steps(loaded, analysis, 0, 0, 0)
    later = head_steps(loaded, analysis, 0, 0, 6)
    np.testing.assert_allclose(at_start.q, at_start.q_projected, atol=1e-6)
    assert not np.allclose(later.q, later.q_projected, atol=1e-3)
    assert np.linalg.norm(later.q) == pytest.approx(np.linalg.norm(later.q_projected), rel=1e-5)


def test_gemma_uses_query_pre_attn_scalar_and_qk_norms(analysed):
    loaded, analysis = analysed[GEMMA3]
    steps = head_steps(loaded, analysis, 0, 1, 4)
    config = loaded.config.get_text_config()
    assert steps.scale == pytest.approx(config.query_pre_attn_scalar**-0.5)
    assert steps.qk_norm and steps.rotary
    assert steps.n_kv_heads == config.num_key_value_heads


def test_steps_follow_each_other(analysed):
    loaded, analysis = analysed[SMOLLM2]
    q = 7
    steps = head_steps(loaded, analysis, 4, 3, q)
    np.testing.assert_allclose(steps.scores, steps.keys @ steps.q, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(steps.scaled, steps.scores * steps.scale, rtol=1e-6)
    assert np.all(np.isinf(steps.mask[q + 1 :])) and np.all(steps.mask[: q + 1] == 0)
    assert np.all(steps.weights[q + 1 :] == 0.0)
    np.testing.assert_allclose(steps.output, steps.weights @ steps.values, atol=1e-5)


def test_encoder_is_not_masked(analysed):
    loaded, analysis = analysed[MINILM]
    steps = head_steps(loaded, analysis, 2, 5, 0)
    assert np.all(steps.mask == 0) and np.all(steps.weights > 0)


def test_out_of_range_and_unknown_architectures_are_user_errors(analysed):
    loaded, analysis = analysed["tiny-gpt2"]
    with pytest.raises(AnatomyError):
        head_steps(loaded, analysis, analysis.n_layers, 0, 0)
    with pytest.raises(AnatomyError):
        head_steps(loaded, analysis, 0, 0, analysis.n_tokens)
    odd = LoadedModel("odd", "decoder", nn.Linear(2, 2), None, False, 6, False)
    with pytest.raises(AnatomyError) as caught:
        head_steps(odd, analysis, 0, 0, 0)
    assert caught.value.key == "walk.unsupported"


def test_rendered_rows_figure_and_escaped_summary(tiny):
    loaded = load_model(tiny["tiny-gpt2"])
    analysis = analyze(loaded, 'a <b>bold</b> "quote" & <script>x</script>')
    labels = qk_walkthrough.token_labels(analysis)
    query = next(i for i, label in enumerate(labels) if "<" in label and i > 0)
    steps = head_steps(loaded, analysis, 1, 0, query)
    rows = qk_walkthrough.step_rows(steps, labels)
    assert len(rows) == analysis.n_tokens
    assert sum(float(r[4]) for r in rows) == pytest.approx(1.0, abs=1e-3)
    assert all(r[3] == "−∞" for r in rows[query + 1 :])
    text = qk_walkthrough.summary(steps, labels, "ko")
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;" in text and "층" in text
    figure = qk_walkthrough.steps_figure(steps, labels, "en")
    vectors, bars = figure.data
    assert np.asarray(vectors.z).shape == (2 + 2 * qk_walkthrough.TOP_KEYS, steps.head_dim)
    np.testing.assert_allclose(np.asarray(bars.y), steps.weights, atol=1e-7)
    assert not any("<" in label for label in bars.x)
    assert "&lt;" in bars.x[query]


def test_mask_sentence_fits_the_family_and_position(analysed):
    loaded, analysis = analysed[SMOLLM2]
    labels = qk_walkthrough.token_labels(analysis)
    last = head_steps(loaded, analysis, 0, 0, analysis.n_tokens - 1)
    early = head_steps(loaded, analysis, 0, 0, 2)
    assert last.causal and early.causal
    assert "last token" in qk_walkthrough.summary(last, labels, "en")
    assert f"{analysis.n_tokens - 3} later tokens" in qk_walkthrough.summary(early, labels, "en")
    loaded, analysis = analysed[MINILM]
    steps = head_steps(loaded, analysis, 0, 0, analysis.n_tokens - 1)
    text = qk_walkthrough.summary(steps, qk_walkthrough.token_labels(analysis), "en")
    assert not steps.causal and "No mask" in text
