"""One forward pass -> Analysis: invariants checked against transformers itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.analysis import analyze
from models.errors import AnatomyError
from models.loading.catalog import DECODER, GEMMA3, MINILM, SMOLLM2
from models.loading.load import load_model
from models.results import AnalysisCache, AnalysisKey

TINY = ("tiny-bert", "tiny-gpt2", "tiny-llama-gqa", "tiny-bart")
BUNDLED = (SMOLLM2, GEMMA3, MINILM)
SENTENCE = "The quick brown fox jumps over the lazy dog."


def _model_ids(tiny):
    return [tiny[name] for name in TINY] + list(BUNDLED)


@pytest.fixture(params=list(TINY) + list(BUNDLED))
def loaded(request, tiny):
    return load_model(tiny.get(request.param, request.param))


def test_attention_shapes_rows_and_causal_mask(loaded):
    analysis = analyze(loaded, SENTENCE)
    config = loaded.config
    n_layers = getattr(config, "num_hidden_layers", None) or config.encoder_layers
    t = analysis.n_tokens
    assert analysis.attentions.shape[0] == n_layers
    assert analysis.attentions.shape[2:] == (t, t)
    assert analysis.hidden_states.shape[:2] == (n_layers + 1, t)
    np.testing.assert_allclose(analysis.attentions.sum(-1), 1.0, atol=1e-4)
    if loaded.family == DECODER:
        upper = np.triu(np.ones((t, t), dtype=bool), k=1)
        assert np.all(analysis.attentions[:, :, upper] == 0.0)
    else:
        assert np.any(analysis.attentions[:, :, 0, -1] > 0)


@pytest.mark.parametrize("name", ["tiny-bert", "tiny-gpt2", "tiny-llama-gqa", SMOLLM2, GEMMA3])
def test_lm_logits_equal_a_direct_transformers_call(tiny, name):
    loaded = load_model(tiny.get(name, name))
    analysis = analyze(loaded, SENTENCE)
    encoding = loaded.tokenizer(SENTENCE, return_tensors="pt")
    with torch.inference_mode():
        logits = loaded.model(**encoding).logits[0]
    assert analysis.input_ids.tolist() == encoding["input_ids"][0].tolist()
    np.testing.assert_allclose(analysis.logits_last, logits[-1].numpy(), atol=1e-4)
    ours = torch.softmax(torch.from_numpy(analysis.logits_last), -1)
    theirs = torch.softmax(logits[-1], -1)
    assert torch.max(torch.abs(ours - theirs)) < 1e-6
    assert analysis.top_ids[-1, 0] == int(torch.argmax(logits[-1]))


# Over 32 tokens (the summary works in blocks of rows) with a few unlikely words,
# so some next tokens fall outside the stored top 100 and need their whole row.
SURPRISING = (
    "The capital of France is Paris, and the capital of Korea is Seoul. "
    "Zebras juggle marmalade quietly under purple thunder while accountants hum, "
    "and seventeen lighthouses argue about cheese with a bewildered octopus."
)


@pytest.mark.parametrize("name", [SMOLLM2, GEMMA3])
def test_every_position_summary_equals_the_full_softmax(name):
    loaded = load_model(name)
    analysis = analyze(loaded, SURPRISING)
    with torch.inference_mode():
        logits = loaded.model(torch.from_numpy(analysis.input_ids)[None]).logits[0].float()
    assert logits.shape[0] > 32
    lse = torch.logsumexp(logits, dim=-1)
    np.testing.assert_allclose(analysis.logsumexp, lse.numpy(), rtol=1e-5, atol=1e-4)
    top = torch.topk(logits, analysis.top_ids.shape[1], dim=-1)
    np.testing.assert_allclose(analysis.top_logits, top.values.numpy(), atol=1e-4)
    fed = torch.from_numpy(analysis.input_ids)
    chosen = logits[:-1].gather(1, fed[1:, None])
    expected_ranks = ((logits[:-1] > chosen).sum(-1) + 1).numpy()
    assert analysis.target_ranks[:-1].tolist() == expected_ranks.tolist()
    assert expected_ranks.max() > analysis.top_ids.shape[1] >= expected_ranks.min()
    expected = (chosen[:, 0] - lse[:-1]).numpy()
    np.testing.assert_allclose(analysis.target_logprobs[:-1], expected, atol=1e-4)


def test_encoder_decoder_has_cross_attention(tiny):
    loaded = load_model(tiny["tiny-bart"])
    analysis = analyze(loaded, SENTENCE, "Der schnelle")
    t_dec = len(analysis.decoder_tokens)
    assert t_dec > 1
    assert analysis.cross_attentions.shape[2:] == (t_dec, analysis.n_tokens)
    np.testing.assert_allclose(analysis.cross_attentions.sum(-1), 1.0, atol=1e-4)
    upper = np.triu(np.ones((t_dec, t_dec), dtype=bool), k=1)
    assert np.all(analysis.decoder_attentions[:, :, upper] == 0.0)
    assert analysis.logits_last.shape == (loaded.model.config.vocab_size,)


def test_smollm2_says_paris():
    analysis = analyze(load_model(SMOLLM2), "The capital of France is")
    tokenizer = load_model(SMOLLM2).tokenizer
    assert tokenizer.decode([int(np.argmax(analysis.logits_last))]) == " Paris"


@pytest.mark.parametrize(
    "text", ["나는 최근 파리 여행을 다녀왔다", "emoji 👩‍👩‍👧 and café", "日本語のテキスト"]
)
@pytest.mark.parametrize("model_id", [SMOLLM2, GEMMA3])
def test_offsets_reproduce_korean_and_emoji(model_id, text):
    analysis = analyze(load_model(model_id), text)
    covered = {i for t in analysis.tokens if not t.special for i in range(t.start, t.end)}
    assert "".join(text[i] for i in sorted(covered)) == text
    starts = [t.start for t in analysis.tokens if not t.special]
    assert starts == sorted(starts)


def test_position_embeddings_where_absolute(tiny):
    for name in ("tiny-bert", "tiny-gpt2"):
        loaded = load_model(tiny[name])
        analysis = analyze(loaded, SENTENCE)
        assert analysis.position_embeddings is not None
        assert analysis.position_embeddings.shape == analysis.token_embeddings.shape
    rotary = analyze(load_model(tiny["tiny-llama-gqa"]), SENTENCE)
    assert rotary.position_embeddings is None


def test_sentence_pair_sets_token_type_ids(tiny):
    analysis = analyze(load_model(tiny["tiny-bert"]), "First sentence.", "Second one.")
    assert set(analysis.token_type_ids.tolist()) == {0, 1}
    assert analysis.tokens[-1].special and analysis.tokens[-1].sentence == 1


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_refused(tiny, text):
    with pytest.raises(AnatomyError) as info:
        analyze(load_model(tiny["tiny-gpt2"]), text)
    assert info.value.key == "error.empty_text"


def test_token_cap(tiny, monkeypatch):
    monkeypatch.setenv("ANATOMY_MAX_TOKENS", "16")
    with pytest.raises(AnatomyError) as info:
        analyze(load_model(tiny["tiny-gpt2"]), "word " * 40)
    assert info.value.key == "error.too_many_tokens"


def test_result_cache_runs_one_forward_pass_per_input(tiny, monkeypatch):
    cache = AnalysisCache()
    key = AnalysisKey.of(tiny["tiny-gpt2"], SENTENCE)
    first = cache.get(key)
    assert cache.get(key) is first
    assert cache.forward_passes == 1
    monkeypatch.setenv("ANATOMY_MAX_ANALYSES", "2")
    for i in range(3):
        cache.get(AnalysisKey.of(tiny["tiny-gpt2"], f"{SENTENCE} {i}"))
    assert cache.peek(key) is None
    assert cache.forward_passes == 4


def test_analysis_is_frozen(tiny):
    analysis = analyze(load_model(tiny["tiny-gpt2"]), SENTENCE)
    with pytest.raises(AttributeError):
        analysis.text = "changed"
