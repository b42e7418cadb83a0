"""Step-by-step generation, readable token text, logit lens and surprise fields,
compared with transformers itself (generate, direct forward passes, log_softmax)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from models.errors import AnatomyError
from models.lenses.generation import generate, group_ids, readable_token, step_logits
from models.lenses.logit_lens import final_norm, lens_logits, logit_lens
from models.loading.catalog import GEMMA3, SMOLLM2
from models.loading.load import load_model
from models.results import get_analysis

ENGLISH = "The capital of France is"
KOREAN = "나는 최근 파리 여행을"


def reference_greedy(model_id: str, text: str, n: int) -> list[int]:
    loaded = load_model(model_id)
    enc = loaded.tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        out = loaded.model.generate(**enc, do_sample=False, max_new_tokens=n)
    return out[0, enc["input_ids"].shape[1] :].tolist()


def direct_logits(model_id: str, ids) -> np.ndarray:
    loaded = load_model(model_id)
    with torch.no_grad():
        return loaded.model(input_ids=torch.tensor([list(ids)])).logits[0, -1].numpy()


@pytest.mark.parametrize(
    ("name", "text", "n"),
    [("tiny-gpt2", KOREAN, 6), ("tiny-llama-gqa", KOREAN, 6), ("tiny-gpt2", ENGLISH, 6)],
)
def test_greedy_steps_equal_generate_on_tiny_models(tiny, name, text, n):
    model_id = tiny[name]
    steps = generate(get_analysis(model_id, text), n, 1.0, 0, 1.0, greedy=True, seed=0)
    assert [s.chosen for s in steps] == reference_greedy(model_id, text, n)


@pytest.mark.parametrize(("model_id", "text", "n"), [(SMOLLM2, ENGLISH, 6), (GEMMA3, KOREAN, 4)])
def test_greedy_steps_equal_generate_on_bundled_models(model_id, text, n):
    steps = generate(get_analysis(model_id, text), n, 0.7, 0, 1.0, greedy=True, seed=0)
    assert [s.chosen for s in steps] == reference_greedy(model_id, text, n)
    if model_id == SMOLLM2:
        assert readable_token(load_model(model_id).tokenizer, steps[0].chosen) == " Paris"


def test_every_step_reads_the_logits_of_its_own_context(tiny):
    """Both paths (a cached Analysis of the longer text, or a pass on ids when no text
    reproduces them, e.g. half a Korean character) give the model's own logits."""
    model_id = tiny["tiny-gpt2"]
    analysis = get_analysis(model_id, KOREAN)
    steps = generate(analysis, 5, 1.0, 0, 1.0, greedy=False, seed=3)
    sources = set()
    for n, step in enumerate(steps):
        generated = [s.chosen for s in steps[:n]]
        logits, from_analysis = step_logits(analysis, generated)
        sources.add(from_analysis)
        np.testing.assert_allclose(logits, direct_logits(model_id, step.context), atol=1e-4)
        np.testing.assert_array_equal(logits, step.logits)
    assert True in sources


def test_sampled_generation_is_reproducible_and_seed_dependent(tiny):
    analysis = get_analysis(tiny["tiny-llama-gqa"], ENGLISH)
    first = [s.chosen for s in generate(analysis, 5, 1.0, 0, 1.0, greedy=False, seed=7)]
    again = [s.chosen for s in generate(analysis, 5, 1.0, 0, 1.0, greedy=False, seed=7)]
    other = [s.chosen for s in generate(analysis, 5, 1.0, 0, 1.0, greedy=False, seed=8)]
    assert first == again
    assert first != other


def test_generation_continues_from_earlier_steps(tiny):
    analysis = get_analysis(tiny["tiny-gpt2"], ENGLISH)
    whole = [s.chosen for s in generate(analysis, 4, 1.0, 0, 1.0, greedy=True, seed=0)]
    half = [s.chosen for s in generate(analysis, 2, 1.0, 0, 1.0, greedy=True, seed=0)]
    rest = generate(analysis, 2, 1.0, 0, 1.0, greedy=True, seed=0, generated=half)
    assert half + [s.chosen for s in rest] == whole


@pytest.mark.parametrize("n", [0, 51, -3])
def test_token_count_out_of_range_is_refused(tiny, n):
    with pytest.raises(AnatomyError) as raised:
        generate(get_analysis(tiny["tiny-gpt2"], ENGLISH), n, 1.0, 0, 1.0, True, 0)
    assert raised.value.key == "error.n_tokens"


@pytest.mark.parametrize("text", ["나는 파리에 간다", "Grüße, naïve café 😀", "日本語"])
def test_groups_decode_to_whole_characters(text):
    tokenizer = load_model(SMOLLM2).tokenizer
    ids = tokenizer(text)["input_ids"]
    groups = group_ids(tokenizer, ids)
    assert "".join(g for g, _ in groups) == tokenizer.decode(ids) == text
    assert all("\ufffd" not in g for g, _ in groups)
    assert [i for _, group in groups for i in group] == ids
    assert len(groups) < len(ids)  # some characters span several byte tokens


def test_a_lone_byte_piece_shows_its_byte_not_a_replacement_character():
    tokenizer = load_model(SMOLLM2).tokenizer
    ids = tokenizer("파리")["input_ids"]  # 파 = ED 8C 8C in UTF-8
    labels = [readable_token(tokenizer, i) for i in ids]
    assert all("\ufffd" not in label for label in labels)
    assert any(label.startswith("<ED>") for label in labels)
    shown = bytearray()
    for label in labels:
        hexes = re.findall(r"<([0-9A-F]{2})>", label)
        shown += bytes.fromhex("".join(hexes)) if hexes else label.encode("utf-8")
    assert shown.decode("utf-8") == "파리"


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama-gqa"])
def test_logit_lens_last_layer_is_the_model_prediction(tiny, name):
    analysis = get_analysis(tiny[name], ENGLISH)
    lens = lens_logits(analysis)
    assert lens.shape == (analysis.n_layers + 1, analysis.logits_last.shape[0])
    np.testing.assert_allclose(lens[-1], analysis.logits_last, atol=1e-4)


def test_logit_lens_earlier_layers_use_the_final_norm(tiny):
    """Layer l: ln_f(hidden after block l) @ wte^T, computed here by hand on GPT-2."""
    model_id = tiny["tiny-gpt2"]
    model = load_model(model_id).model
    assert final_norm(model) is model.transformer.ln_f
    enc = load_model(model_id).tokenizer(ENGLISH, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc, output_hidden_states=True).hidden_states
        expected = model.transformer.ln_f(hidden[1][0, -1]) @ model.transformer.wte.weight.T
    lens = lens_logits(get_analysis(model_id, ENGLISH))
    np.testing.assert_allclose(lens[1], expected.numpy(), atol=1e-4)


def test_logit_lens_on_smollm2_ends_with_paris():
    analysis = get_analysis(SMOLLM2, ENGLISH)
    rows = logit_lens(analysis)
    tokenizer = load_model(SMOLLM2).tokenizer
    assert len(rows) == analysis.n_layers + 1
    assert tokenizer.decode([rows[-1].top_ids[0]]) == " Paris"
    assert int(np.argmax(analysis.logits_last)) == rows[-1].top_ids[0]
    assert all(0 <= p <= 1 for row in rows for p in row.top_probs)


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama-gqa", "tiny-bart"])
def test_surprise_fields_equal_log_softmax_of_the_model(tiny, name):
    model_id = tiny[name]
    pair = "Paris is big" if name == "tiny-bart" else None
    analysis = get_analysis(model_id, ENGLISH, pair)
    loaded = load_model(model_id)
    inputs = {"input_ids": torch.from_numpy(analysis.input_ids)[None]}
    fed = analysis.input_ids
    if analysis.decoder_input_ids is not None:
        inputs["decoder_input_ids"] = torch.from_numpy(analysis.decoder_input_ids)[None]
        fed = analysis.decoder_input_ids
    with torch.no_grad():
        logits = loaded.model(**inputs).logits[0]
    logprobs = torch.log_softmax(logits, dim=-1)
    expected = logprobs[torch.arange(len(fed) - 1), torch.tensor(fed[1:])].numpy()
    np.testing.assert_allclose(analysis.target_logprobs[:-1], expected, atol=1e-4)
    assert np.isnan(analysis.target_logprobs[-1])
    for i, target in enumerate(fed[1:]):
        rank = int((logits[i] > logits[i, int(target)]).sum()) + 1
        assert analysis.target_ranks[i] == rank
