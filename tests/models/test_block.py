"""One block re-run for one token: every vector equals transformers' own, caught by hooks.

The reference is an independent forward pass of the whole model with hooks on
the modules of each modeling file, named here per family (not read from the
layout under test). The residual-stream norms recorded in the analysis pass are
checked against the same hooks.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from models.analysis import analyze
from models.errors import AnatomyError
from models.lenses.block import block_steps, residual_stream
from models.loading.catalog import GEMMA3, MINILM, SMOLLM2
from models.loading.layout import find_layout
from models.loading.load import load_model

SENTENCE = "The quick brown fox jumps over the lazy dog. 고양이가 잔다."
TARGET = "Der schnelle braune Fuchs"  # the decoder's input so far (encoder-decoders)

# What each step is, in each modeling file: ("out" | "in", module path in the block).
# "out" = the module's (first) output, "in" = its first input; "block" = the block itself.
LLAMA = {
    "input": ("in", "block"),
    "attention_in": ("out", "input_layernorm"),
    "attention": ("out", "self_attn"),
    "after_attention": ("in", "post_attention_layernorm"),
    "ffn_in": ("out", "post_attention_layernorm"),
    "ffn_hidden": ("in", "mlp.down_proj"),
    "ffn": ("out", "mlp"),
    "output": ("out", "block"),
}
GEMMA = {
    **LLAMA,
    "attention": ("out", "post_attention_layernorm"),
    "after_attention": ("in", "pre_feedforward_layernorm"),
    "ffn_in": ("out", "pre_feedforward_layernorm"),
    "ffn": ("out", "post_feedforward_layernorm"),
}
GPT2 = {
    "input": ("in", "block"),
    "attention_in": ("out", "ln_1"),
    "attention": ("out", "attn"),
    "after_attention": ("in", "ln_2"),
    "ffn_in": ("out", "ln_2"),
    "ffn_hidden": ("in", "mlp.c_proj"),
    "ffn": ("out", "mlp"),
    "output": ("out", "block"),
}
BERT = {
    "input": ("in", "block"),
    "attention_in": ("in", "block"),
    "attention": ("out", "attention.output.dense"),
    "after_attention": ("out", "attention.output.LayerNorm"),
    "ffn_in": ("in", "intermediate.dense"),
    "ffn_hidden": ("in", "output.dense"),
    "ffn": ("out", "output.dense"),
    "output": ("out", "block"),
}
DISTILBERT = {
    "input": ("in", "block"),
    "attention_in": ("in", "block"),
    "attention": ("out", "attention"),
    "after_attention": ("out", "sa_layer_norm"),
    "ffn_in": ("in", "ffn.lin1"),
    "ffn_hidden": ("in", "ffn.lin2"),
    "ffn": ("out", "ffn"),
    "output": ("out", "output_layer_norm"),
}
BART_ENCODER = {
    "input": ("in", "block"),
    "attention_in": ("in", "block"),
    "attention": ("out", "self_attn"),
    "after_attention": ("out", "self_attn_layer_norm"),
    "ffn_in": ("in", "fc1"),
    "ffn_hidden": ("in", "fc2"),
    "ffn": ("out", "fc2"),
    "output": ("out", "final_layer_norm"),
}
BART_DECODER = {
    **BART_ENCODER,
    "cross_in": ("out", "self_attn_layer_norm"),
    "cross_attention": ("out", "encoder_attn"),
    "after_cross": ("out", "encoder_attn_layer_norm"),
}
T5_ENCODER = {
    "input": ("in", "block"),
    "attention_in": ("out", "layer.0.layer_norm"),
    "attention": ("out", "layer.0.SelfAttention"),
    "after_attention": ("in", "layer.1.layer_norm"),
    "ffn_in": ("out", "layer.1.layer_norm"),
    "ffn_hidden": ("in", "layer.1.DenseReluDense.wo"),
    "ffn": ("out", "layer.1.DenseReluDense"),
    "output": ("out", "block"),
}
T5_DECODER = {
    "input": ("in", "block"),
    "attention_in": ("out", "layer.0.layer_norm"),
    "attention": ("out", "layer.0.SelfAttention"),
    "after_attention": ("in", "layer.1.layer_norm"),
    "cross_in": ("out", "layer.1.layer_norm"),
    "cross_attention": ("out", "layer.1.EncDecAttention"),
    "after_cross": ("in", "layer.2.layer_norm"),
    "ffn_in": ("out", "layer.2.layer_norm"),
    "ffn_hidden": ("in", "layer.2.DenseReluDense.wo"),
    "ffn": ("out", "layer.2.DenseReluDense"),
    "output": ("out", "block"),
}
# name -> [(part, path of the block list, hook table)]
MODELS = {
    "tiny-llama-gqa": [("encoder", "model.layers", LLAMA)],
    "tiny-qwen3": [("encoder", "model.layers", LLAMA)],
    "tiny-gemma3": [("encoder", "model.layers", GEMMA)],
    "tiny-gpt2": [("encoder", "transformer.h", GPT2)],
    "tiny-bert": [("encoder", "bert.encoder.layer", BERT)],
    "tiny-distilbert": [("encoder", "distilbert.transformer.layer", DISTILBERT)],
    "tiny-bart": [
        ("encoder", "model.encoder.layers", BART_ENCODER),
        ("decoder", "model.decoder.layers", BART_DECODER),
    ],
    "tiny-t5": [("encoder", "encoder.block", T5_ENCODER), ("decoder", "decoder.block", T5_DECODER)],
    SMOLLM2: [("encoder", "model.layers", LLAMA)],
    GEMMA3: [("encoder", "model.layers", GEMMA)],
    MINILM: [("encoder", "encoder.layer", BERT)],
}
CONTRIBUTIONS = {"attention": "attention", "cross": "cross_attention", "ffn": "ffn"}


def _first(value):
    return value[0] if isinstance(value, (tuple, list)) else value


def reference(loaded, analysis, blocks_path: str, table: dict, layer: int) -> dict:
    """step -> [T, width] caught on transformers' own modules in a fresh forward pass."""
    block = loaded.model.get_submodule(blocks_path)[layer]
    caught, handles = {}, []

    def keep(step, kind):
        def hook(_module, args, kwargs, output=None):
            if step in caught:
                return
            value = output if kind == "out" else (args[0] if args else kwargs["hidden_states"])
            caught[step] = _first(value)[0].detach().clone()

        return hook

    for step, (kind, path) in table.items():
        module = block if path == "block" else block.get_submodule(path)
        if kind == "out":
            handles.append(module.register_forward_hook(keep(step, kind), with_kwargs=True))
        else:
            handles.append(module.register_forward_pre_hook(keep(step, kind), with_kwargs=True))
    inputs = {"input_ids": torch.from_numpy(analysis.input_ids).unsqueeze(0)}
    if analysis.token_type_ids is not None and "token_type_ids" in (
        loaded.tokenizer.model_input_names
    ):
        inputs["token_type_ids"] = torch.from_numpy(analysis.token_type_ids).unsqueeze(0)
    if analysis.decoder_input_ids is not None:
        inputs["decoder_input_ids"] = torch.from_numpy(analysis.decoder_input_ids).unsqueeze(0)
    try:
        with torch.inference_mode():
            loaded.model(**inputs)
    finally:
        for handle in handles:
            handle.remove()
    return {step: value.numpy() for step, value in caught.items()}


@pytest.fixture(scope="module")
def analysed(tiny):
    out = {}
    for name in MODELS:
        loaded = load_model(tiny.get(name, name))
        pair = TARGET if loaded.family == "encoder-decoder" else None
        out[name] = (loaded, analyze(loaded, SENTENCE, pair))
    return out


def _close(mine: np.ndarray, theirs: np.ndarray, what: str) -> None:
    scale = max(1.0, float(np.max(np.abs(theirs))))
    np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=2e-5 * scale, err_msg=what)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_step_equals_the_models_own_modules(analysed, name):
    loaded, analysis = analysed[name]
    for part, blocks_path, table in MODELS[name]:
        n_layers = len(loaded.model.get_submodule(blocks_path))
        n_tokens = analysis.n_tokens if part == "encoder" else len(analysis.decoder_tokens)
        for layer in sorted({0, n_layers - 1}):
            theirs = reference(loaded, analysis, blocks_path, table, layer)
            for token in sorted({0, n_tokens // 2, n_tokens - 1}):
                steps = block_steps(loaded, analysis, layer, token, part)
                assert set(steps.vectors) == set(table), (part, set(steps.vectors) ^ set(table))
                for step in table:
                    _close(steps.vectors[step], theirs[step][token], f"{part} {layer} {step}")
                assert steps.max_difference <= 2e-5 * max(1.0, float(np.abs(steps.expected).max()))


@pytest.mark.parametrize("name", list(MODELS))
def test_stream_norms_of_the_pass_equal_the_hooked_contributions(analysed, name):
    loaded, analysis = analysed[name]
    for part, blocks_path, table in MODELS[name]:
        view = residual_stream(analysis, part)
        last = len(loaded.model.get_submodule(blocks_path)) - 1
        theirs = reference(loaded, analysis, blocks_path, table, last)
        for index, kind in enumerate(view.kinds):
            expected = np.linalg.norm(theirs[CONTRIBUTIONS[kind]], axis=-1)
            np.testing.assert_allclose(view.added[last, index], expected, rtol=1e-4)
        np.testing.assert_allclose(view.share.sum(axis=1), 1.0, atol=1e-5)
        stored = analysis.last_block_output if part == "encoder" else None
        if stored is not None:
            _close(stored, theirs["output"], "last block output")


def test_pre_norm_gemma_and_post_norm_bert_keep_their_own_order(analysed):
    gemma = block_steps(*analysed["tiny-gemma3"], 1, -1)
    assert gemma.placement == "sandwich"
    assert [n.name for n in gemma.norms] == [
        "attn_norm",
        "post_attn_norm",
        "ffn_norm",
        "post_ffn_norm",
    ]
    bert = block_steps(*analysed["tiny-bert"], 1, -1)
    assert bert.placement == "post" and [n.name for n in bert.norms] == ["attn_norm", "ffn_norm"]
    np.testing.assert_array_equal(bert.vectors["attention_in"], bert.vectors["input"])


def test_norm_scale_is_the_modules_learned_weight(analysed):
    loaded, _ = analysed["tiny-gpt2"]
    norm = loaded.model.transformer.h[1].ln_1
    original = norm.weight.detach().clone(), norm.bias.detach().clone()
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():  # a learned scale and shift that are not ones and zeros
        norm.weight.copy_(torch.rand(32, generator=generator) + 0.5)
        norm.bias.copy_(torch.randn(32, generator=generator) * 0.1)
    try:
        first = block_steps(loaded, analyze(loaded, SENTENCE), 1, 2).norms[0]
        np.testing.assert_allclose(first.scale, norm.weight.detach().numpy(), rtol=1e-5)
        np.testing.assert_allclose(first.shift, norm.bias.detach().numpy(), atol=1e-6)
        centred = first.before - first.before.mean()
        normalised = centred / np.sqrt(first.before.var() + norm.eps)
        np.testing.assert_allclose(first.after, normalised * first.scale + first.shift, atol=1e-4)
    finally:
        with torch.no_grad():
            norm.weight.copy_(original[0])
            norm.bias.copy_(original[1])


def test_gemma_scale_is_one_plus_the_stored_weight(analysed):
    loaded, analysis = analysed["tiny-gemma3"]
    steps = block_steps(loaded, analysis, 0, 1)
    weight = loaded.model.model.layers[0].input_layernorm.weight.detach().numpy()
    np.testing.assert_allclose(steps.norms[0].scale, 1.0 + weight, rtol=1e-4)


def test_a_wrong_stored_state_is_refused_not_shown(analysed):
    loaded, analysis = analysed["tiny-llama-gqa"]
    hidden = analysis.hidden_states.copy()
    hidden[1] += 0.5  # the "model's own" output of block 0 no longer matches
    broken = dataclasses.replace(analysis, hidden_states=hidden)
    with pytest.raises(AnatomyError) as error:
        block_steps(loaded, broken, 0, 3)
    assert error.value.key == "block.mismatch"


@pytest.mark.parametrize(("layer", "token"), [(2, 0), (-1, 0), (0, 99), (0, -2)])
def test_out_of_range_choices_get_a_clear_error(analysed, layer, token):
    loaded, analysis = analysed["tiny-gpt2"]
    with pytest.raises(AnatomyError, match="between 0 and") as error:
        block_steps(loaded, analysis, layer, token)
    assert error.value.key == "block.out_of_range"


def test_token_minus_one_is_the_last_token(analysed):
    loaded, analysis = analysed["tiny-gpt2"]
    last = block_steps(loaded, analysis, 0, -1)
    assert last.token == analysis.n_tokens - 1
    np.testing.assert_array_equal(last.vectors["input"], analysis.hidden_states[0][-1])


def test_an_unknown_block_layout_says_so_and_the_pass_still_works(tiny):
    loaded = load_model(tiny["tiny-phi"])  # attention and MLP in parallel
    with pytest.raises(AnatomyError) as error:
        find_layout(loaded.model, loaded.family, loaded.model_id)
    assert error.value.key == "block.unknown_layout"
    analysis = analyze(loaded, SENTENCE)
    assert analysis.contribution_norms is None and residual_stream(analysis) is None
    with pytest.raises(AnatomyError) as error:
        block_steps(loaded, analysis, 0, 0)
    assert error.value.key == "block.unknown_layout"


def test_the_hooks_leave_the_pass_unchanged(analysed):
    """Recording the stream does not alter what the model computes."""
    loaded, analysis = analysed["tiny-llama-gqa"]
    inputs = {"input_ids": torch.from_numpy(analysis.input_ids).unsqueeze(0)}
    with torch.inference_mode():
        plain = loaded.model(**inputs, output_hidden_states=True)
    np.testing.assert_allclose(analysis.hidden_states[1], plain.hidden_states[1][0].numpy())
    np.testing.assert_allclose(analysis.logits_last, plain.logits[0, -1].numpy(), atol=1e-5)

    def hooks() -> int:  # transformers keeps a few output recorders of its own
        return sum(len(m._forward_hooks) for m in loaded.model.modules())

    before = hooks()
    analyze(loaded, SENTENCE)
    assert hooks() == before
