"""Input saliency: gradient × input equals a direct autograd computation, integrated
gradients pass their completeness check, results are cached and bounded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.analysis import analyze
from models.errors import AnatomyError
from models.lenses import saliency
from models.loading.catalog import ENCODER_DECODER, GEMMA3, SMOLLM2
from models.loading.load import load_model

TEXT = "The capital of France is"
KOREAN = "대한민국의 수도는"


def autograd_scores(loaded, analysis, target: int, other: int | None = None, position=-1):
    """∂f/∂e · e per token, f the logit at `position`, e the embedding layer's output:
    written with plain autograd (inputs_embeds), independent of captum."""
    ids = torch.tensor([analysis.input_ids.tolist()])
    model = loaded.model
    kwargs = {}
    if analysis.family == ENCODER_DECODER:
        embed = model.get_encoder().get_input_embeddings()
        kwargs["decoder_input_ids"] = torch.tensor([analysis.decoder_input_ids.tolist()])
    else:
        embed = model.get_input_embeddings()
    with torch.no_grad():
        embedded = embed(ids)
    embedded = embedded.clone().requires_grad_(True)
    logits = model(inputs_embeds=embedded, **kwargs).logits[0, position]
    value = logits[target] - (logits[other] if other is not None else 0)
    (grad,) = torch.autograd.grad(value, embedded)
    return (grad * embedded).sum(-1)[0].detach().numpy(), float(value.detach())


@pytest.fixture(autouse=True)
def fresh_cache():
    saliency.clear_cache()
    yield
    saliency.clear_cache()


@pytest.mark.parametrize(
    ("name", "text"), [(SMOLLM2, TEXT), (GEMMA3, KOREAN), ("tiny-gpt2", TEXT), ("tiny-bart", TEXT)]
)
def test_gradient_x_input_equals_a_direct_autograd_computation(tiny, name, text):
    loaded = load_model(tiny.get(name, name))
    analysis = analyze(loaded, text)
    target = int(analysis.top_ids[-1][0])
    result = saliency.compute(analysis, saliency.GRADIENT_X_INPUT, target, loaded=loaded)
    expected, value = autograd_scores(loaded, analysis, target)
    assert result.scores.shape == (analysis.n_tokens,)
    np.testing.assert_allclose(result.scores, expected, rtol=1e-3, atol=1e-4)
    assert result.f_input == pytest.approx(value, rel=1e-4, abs=1e-5)
    assert result.f_input == pytest.approx(float(analysis.logits_last[target]), rel=1e-4, abs=1e-5)


def test_gradient_x_input_of_a_difference_is_the_difference(tiny):
    loaded = load_model(tiny["tiny-llama-gqa"])
    analysis = analyze(loaded, TEXT)
    first, second = (int(i) for i in analysis.top_ids[-1][:2])
    both = saliency.compute(analysis, saliency.GRADIENT_X_INPUT, first, second, loaded=loaded)
    expected, _ = autograd_scores(loaded, analysis, first, second)
    np.testing.assert_allclose(both.scores, expected, rtol=1e-3, atol=1e-5)


def test_masked_lm_saliency_reads_the_mask_position(tiny):
    loaded = load_model(tiny["tiny-bert"])
    analysis = analyze(loaded, "The capital of [MASK] is Paris.")
    mask = int(np.flatnonzero(analysis.input_ids == loaded.tokenizer.mask_token_id)[0])
    target = int(analysis.top_ids[mask][0])
    result = saliency.compute(
        analysis, saliency.GRADIENT_X_INPUT, target, position=mask, loaded=loaded
    )
    expected, value = autograd_scores(loaded, analysis, target, position=mask)
    np.testing.assert_allclose(result.scores, expected, rtol=1e-3, atol=1e-5)
    assert result.f_input == pytest.approx(value, rel=1e-4)


@pytest.mark.parametrize(("name", "text"), [(SMOLLM2, TEXT), (GEMMA3, KOREAN)])
def test_integrated_gradients_pass_the_completeness_check(name, text):
    loaded = load_model(name)
    analysis = analyze(loaded, text)
    target = int(analysis.top_ids[-1][0])
    result = saliency.compute(analysis, saliency.INTEGRATED_GRADIENTS, target, loaded=loaded)
    assert result.steps in saliency.IG_STEPS and result.f_baseline is not None
    change = result.f_input - result.f_baseline
    assert abs(change) > 1.0  # the baseline really differs from the input
    assert float(result.scores.sum()) == pytest.approx(change, rel=0.05)
    assert result.completeness_gap < 0.05
    assert result.scores[0] == 0.0  # the first token stays in the baseline
    assert result.f_input == pytest.approx(float(analysis.logits_last[target]), rel=1e-4)


def test_results_are_cached_and_only_computed_on_request(tiny):
    loaded = load_model(tiny["tiny-gpt2"])
    analysis = analyze(loaded, TEXT)
    target = int(analysis.top_ids[-1][0])
    assert saliency.peek(analysis, saliency.GRADIENT_X_INPUT, target) is None
    first = saliency.compute(analysis, saliency.GRADIENT_X_INPUT, target, loaded=loaded)
    calls = []
    hook = loaded.model.register_forward_hook(lambda *args: calls.append(1))
    try:
        again = saliency.compute(analysis, saliency.GRADIENT_X_INPUT, target, loaded=loaded)
    finally:
        hook.remove()
    assert again is first and calls == []
    assert saliency.peek(analysis, saliency.GRADIENT_X_INPUT, target) is first
    assert saliency.peek(analysis, saliency.INTEGRATED_GRADIENTS, target) is None


def test_progress_is_reported_and_the_model_lock_is_free_afterwards(tiny):
    loaded = load_model(tiny["tiny-llama-gqa"])
    analysis = analyze(loaded, TEXT)
    seen = []
    saliency.compute(
        analysis,
        saliency.INTEGRATED_GRADIENTS,
        int(analysis.top_ids[-1][0]),
        progress=seen.append,
        loaded=loaded,
    )
    assert seen and all(0 <= f < 1 for f in seen) and seen == sorted(seen)
    assert not loaded.lock.locked()


def test_long_texts_and_unknown_methods_get_a_clear_error(tiny, monkeypatch):
    loaded = load_model(tiny["tiny-gpt2"])
    analysis = analyze(loaded, TEXT)
    monkeypatch.setenv("ANATOMY_SALIENCY_MAX_TOKENS", "3")
    with pytest.raises(AnatomyError) as raised:
        saliency.compute(analysis, saliency.GRADIENT_X_INPUT, 0, loaded=loaded)
    assert raised.value.key == "why.error.saliency_cap"
    assert "at most 3 tokens" in str(raised.value)
    monkeypatch.delenv("ANATOMY_SALIENCY_MAX_TOKENS")
    with pytest.raises(AnatomyError) as raised:
        saliency.compute(analysis, "occlusion", 0, loaded=loaded)
    assert raised.value.key == "why.error.method"
