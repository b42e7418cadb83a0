"""Direct logit attribution: the parts sum to the model's own logit, heads to their
layer, and every part equals a forward-hook computation written here from
transformers' modules (not from the code under test)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import Gemma3ForCausalLM, Gemma3TextConfig, T5Config, T5ForConditionalGeneration

from models.analysis import analyze
from models.errors import AnatomyError
from models.lenses.attribution import resolve_target, split_logit, unavailable_reason
from models.loading.catalog import DECODER, ENCODER_DECODER, GEMMA3, MINILM, SMOLLM2
from models.loading.load import LoadedModel, load_model
from tests import tiny_models

TEXT = "The capital of France is"
PAIR = "La capitale"  # decoder input of the encoder-decoders


def _tiny_t5() -> LoadedModel:
    tokenizer = tiny_models._byte_bpe()
    eos = tokenizer.eos_token_id
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        decoder_start_token_id=eos,
        pad_token_id=eos,
        eos_token_id=eos,
        attn_implementation="eager",
    )
    model = T5ForConditionalGeneration(config).eval()
    return LoadedModel("tiny-t5", ENCODER_DECODER, model, tokenizer, True, 0, False)


def _tiny_gemma_capped() -> LoadedModel:
    """Gemma 3 layout (post-norms, √d embeddings) with final logit soft-capping set."""
    tokenizer = tiny_models._byte_bpe()
    eos = tokenizer.eos_token_id
    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        final_logit_softcapping=3.0,
        layer_types=["sliding_attention", "full_attention"],
        sliding_window=4,
        pad_token_id=eos,
        bos_token_id=eos,
        eos_token_id=eos,
        attn_implementation="eager",
    )
    with torch.no_grad():  # random norm weights, so that 1 + w is exercised
        model = Gemma3ForCausalLM(config).eval()
        for name, param in model.named_parameters():
            if "norm" in name:
                param.normal_(0, 0.3)
    return LoadedModel("tiny-gemma-capped", DECODER, model, tokenizer, True, 0, False)


@pytest.fixture(scope="module")
def models(tiny) -> dict[str, LoadedModel]:
    loaded = {name: load_model(name) for name in (SMOLLM2, GEMMA3)}
    loaded |= {name: load_model(tiny[name]) for name in ("tiny-gpt2", "tiny-llama-gqa")}
    loaded["tiny-t5"] = _tiny_t5()
    loaded["tiny-gemma-capped"] = _tiny_gemma_capped()
    return loaded


DECOMPOSING = (SMOLLM2, GEMMA3, "tiny-gpt2", "tiny-llama-gqa", "tiny-t5", "tiny-gemma-capped")


def _analysis(loaded: LoadedModel):
    return analyze(loaded, TEXT, PAIR if loaded.family == ENCODER_DECODER else None)


def _inputs(loaded: LoadedModel) -> dict:
    inputs = dict(loaded.tokenizer(TEXT, return_tensors="pt"))
    inputs.pop("token_type_ids", None)
    if loaded.family == ENCODER_DECODER:
        ids = [loaded.config.decoder_start_token_id]
        ids += loaded.tokenizer(text_target=PAIR, add_special_tokens=False)["input_ids"]
        inputs["decoder_input_ids"] = torch.tensor([ids])
    return inputs


def _modules(loaded: LoadedModel):
    """Per layer: (modules whose output is added to the stream, (o-proj, its norm));
    and (final norm, its gain, eps, is LayerNorm, output scale). Written per family."""
    model, kind = loaded.model, type(loaded.model).__name__
    if kind == "T5ForConditionalGeneration":
        layers = []
        for block in model.decoder.block:
            attn, cross = block.layer[0].SelfAttention, block.layer[1].EncDecAttention
            layers.append(
                {
                    "attention": attn,
                    "cross_attention": cross,
                    "ffn": block.layer[2].DenseReluDense,
                    "heads": (attn.o, None),
                    "cross_heads": (cross.o, None),
                }
            )
        norm = model.decoder.final_layer_norm
        scale = model.model_dim**-0.5 if model.config.scale_decoder_outputs else 1.0
        return layers, (norm, norm.weight, norm.variance_epsilon, False, scale)
    if kind == "GPT2LMHeadModel":
        layers = [
            {"attention": b.attn, "ffn": b.mlp, "heads": (b.attn.c_proj, None)}
            for b in model.transformer.h
        ]
        norm = model.transformer.ln_f
        return layers, (norm, norm.weight, norm.eps, True, 1.0)
    if kind == "Gemma3ForCausalLM":
        layers = [
            {
                "attention": b.post_attention_layernorm,
                "ffn": b.post_feedforward_layernorm,
                "heads": (b.self_attn.o_proj, b.post_attention_layernorm),
            }
            for b in model.model.layers
        ]
        norm = model.model.norm
        return layers, (norm, 1.0 + norm.weight, norm.eps, False, 1.0)
    layers = [  # Llama / SmolLM2
        {"attention": b.self_attn, "ffn": b.mlp, "heads": (b.self_attn.o_proj, None)}
        for b in model.model.layers
    ]
    norm = model.model.norm
    return layers, (norm, norm.weight, norm.variance_epsilon, False, 1.0)


def _last(value) -> torch.Tensor:
    value = value[0] if isinstance(value, tuple) else value
    return value[0, -1].detach().to(torch.float32)


@torch.no_grad()
def reference(loaded: LoadedModel, token_id: int) -> dict:
    """The split computed here: hooks record what each module added at the last
    position; the final norm's scale is frozen by its formula; per head, the output
    projection's columns of that head times its input slice."""
    layers, (norm, gain, eps, is_layer_norm, out_scale) = _modules(loaded)
    n_heads = loaded.config.num_attention_heads
    seen: dict = {}
    hooks = []

    def keep(module, key, pre=False):
        if pre:
            hooks.append(
                module.register_forward_pre_hook(lambda m, a: seen.__setitem__(key, _last(a[0])))
            )
        else:
            hooks.append(
                module.register_forward_hook(lambda m, a, o: seen.__setitem__(key, _last(o)))
            )

    for n, layer in enumerate(layers):
        for kind in ("attention", "cross_attention", "ffn"):
            if kind in layer:
                keep(layer[kind], (kind, n))
        for kind in ("heads", "cross_heads"):
            if kind in layer:
                keep(layer[kind][0], (kind, "z", n), pre=True)
                keep(layer[kind][0], (kind, "o", n))
    keep(norm, "final", pre=True)
    try:
        out = loaded.model(**_inputs(loaded), output_hidden_states=True)
    finally:
        for hook in hooks:
            hook.remove()
    x = seen["final"]
    w_u = loaded.model.get_output_embeddings().weight[token_id].detach().float()
    if is_layer_norm:
        r = gain.detach().float() / torch.sqrt(x.var(unbiased=False) + eps) * w_u * out_scale
        r = r - r.mean()  # centring is folded into the direction
        constant = float(norm.bias.detach().float() @ w_u) * out_scale
    else:
        r = gain.detach().float() / torch.sqrt(x.pow(2).mean() + eps) * w_u * out_scale
        constant = 0.0
    hidden = out.decoder_hidden_states if loaded.family == ENCODER_DECODER else out.hidden_states
    result = {"embeddings": float(_last(hidden[0]) @ r), "constant": constant}
    for kind in ("attention", "cross_attention", "ffn"):
        if (kind, 0) in seen:
            result[kind] = np.array([float(seen[(kind, n)] @ r) for n in range(len(layers))])
    for kind in ("heads", "cross_heads"):
        if (kind, "z", 0) not in seen:
            continue
        rows = []
        for n, layer in enumerate(layers):
            projection, post_norm = layer[kind]
            weight = projection.weight.detach().float()
            weight = weight if type(projection).__name__ != "Conv1D" else weight.T  # [D, H·d]
            z = seen[(kind, "z", n)].view(n_heads, -1)
            columns = weight.view(weight.shape[0], n_heads, -1)
            per_head = torch.stack([columns[:, h] @ z[h] for h in range(n_heads)])  # [H, D]
            if getattr(projection, "bias", None) is not None:
                per_head = per_head + projection.bias.detach().float() / n_heads
            if post_norm is not None:  # Gemma: (1 + w) / rms(o), frozen at this o
                o = seen[(kind, "o", n)]
                per_head = (
                    per_head
                    * (1 + post_norm.weight.float())
                    / torch.sqrt(o.pow(2).mean() + post_norm.eps)
                )
            rows.append((per_head @ r).numpy())
        result[kind] = np.array(rows)
    result["logit"] = float(out.logits[0, -1, token_id])
    return result


@pytest.mark.parametrize("name", DECOMPOSING)
def test_parts_sum_to_the_models_own_logit(models, name):
    loaded = models[name]
    analysis = _analysis(loaded)
    split = split_logit(analysis, "", loaded=loaded)
    with torch.no_grad():
        logits = loaded.model(**_inputs(loaded)).logits[0, -1]
    assert split.target.id == int(logits.argmax())
    model_logit = float(logits[split.target.id])
    cap = loaded.config.get_text_config().__dict__.get("final_logit_softcapping")
    if cap:  # the split is of z; the model says cap·tanh(z / cap)
        assert split.softcap == cap
        assert cap * np.tanh(split.reconstructed / cap) == pytest.approx(model_logit, rel=1e-3)
        assert abs(split.reconstructed - model_logit) > 1e-3  # the cap really bites here
    else:
        assert split.reconstructed == pytest.approx(model_logit, rel=1e-3, abs=1e-5)
    assert split.adds_up


@pytest.mark.parametrize("name", DECOMPOSING)
def test_head_parts_sum_to_their_layers_attention(models, name):
    split = split_logit(_analysis(models[name]), "", loaded=models[name])
    np.testing.assert_allclose(split.heads.sum(axis=1), split.attention, rtol=1e-4, atol=1e-5)
    if split.cross_heads is not None:
        np.testing.assert_allclose(
            split.cross_heads.sum(axis=1), split.cross_attention, rtol=1e-4, atol=1e-5
        )
    kinds = [p.kind for p in split.parts()]
    assert kinds.count("embeddings") == 1
    assert kinds.count("attention") == kinds.count("ffn") == split.n_layers
    assert kinds.count("head") == split.heads.size


@pytest.mark.parametrize("name", DECOMPOSING)
def test_each_part_equals_a_forward_hook_computation(models, name):
    loaded = models[name]
    analysis = _analysis(loaded)
    second = int(analysis.top_ids[-1][1])  # not only the top token
    for token_id in (int(analysis.top_ids[-1][0]), second):
        split = split_logit(analysis, token_id, loaded=loaded)
        expected = reference(loaded, token_id)
        scale = max(1.0, abs(expected["logit"]))
        tolerance = {"rtol": 1e-4, "atol": 1e-4 * scale}
        assert split.embeddings == pytest.approx(expected["embeddings"], abs=1e-4 * scale)
        assert split.constant == pytest.approx(expected["constant"], abs=1e-4 * scale)
        np.testing.assert_allclose(split.attention, expected["attention"], **tolerance)
        np.testing.assert_allclose(split.ffn, expected["ffn"], **tolerance)
        np.testing.assert_allclose(split.heads, expected["heads"], **tolerance)
        if "cross_attention" in expected:
            np.testing.assert_allclose(
                split.cross_attention, expected["cross_attention"], **tolerance
            )
            np.testing.assert_allclose(split.cross_heads, expected["cross_heads"], **tolerance)


def test_gemma_has_post_norm_parts_and_a_large_embedding_share(models):
    split = split_logit(_analysis(models[GEMMA3]), "", loaded=models[GEMMA3])
    assert split.post_norm_parts and not split.head_bias_shared
    assert split.softcap is None  # gemma-3-270m sets no final soft-cap


def test_comparing_two_tokens_splits_the_difference(models):
    loaded = models[SMOLLM2]
    analysis = _analysis(loaded)
    paris, the = " Paris", " the"
    both = split_logit(analysis, paris, the, loaded=loaded)
    first = split_logit(analysis, paris, loaded=loaded)
    second = split_logit(analysis, the, loaded=loaded)
    np.testing.assert_allclose(both.attention, first.attention - second.attention, atol=1e-6)
    np.testing.assert_allclose(both.heads, first.heads - second.heads, atol=1e-6)
    logits = analysis.logits_last
    assert both.model_value == pytest.approx(float(logits[both.target.id] - logits[both.other.id]))
    assert both.reconstructed == pytest.approx(both.model_value, rel=1e-3)
    assert (both.target.token, both.other.token) == (paris, the)


def test_targets_are_read_as_text_or_id(models):
    loaded = models[SMOLLM2]
    analysis = _analysis(loaded)
    position = analysis.top_ids.shape[0] - 1
    paris = loaded.tokenizer(" Paris", add_special_tokens=False)["input_ids"][0]
    assert resolve_target(loaded, analysis, "", position) == int(analysis.top_ids[-1][0])
    assert resolve_target(loaded, analysis, " Paris", position) == paris
    assert resolve_target(loaded, analysis, str(paris), position) == paris
    assert resolve_target(loaded, analysis, paris, position) == paris
    assert resolve_target(loaded, analysis, "ĠParis", position) == paris  # the raw piece


@pytest.mark.parametrize(
    ("target", "key"),
    [("Parisian capital", "why.error.multi_token"), ("99999999", "why.error.bad_id")],
)
def test_bad_targets_get_a_clear_error(models, target, key):
    analysis = _analysis(models[SMOLLM2])
    with pytest.raises(AnatomyError) as raised:
        split_logit(analysis, target, loaded=models[SMOLLM2])
    assert raised.value.key == key
    assert "token" in str(raised.value).lower()


@pytest.mark.parametrize("name", ("tiny-bart", "tiny-bert", MINILM))
def test_post_norm_models_say_the_residual_does_not_decompose(tiny, name):
    loaded = load_model(tiny.get(name, name))
    analysis = analyze(loaded, "The capital of [MASK] is")
    assert analysis.logit_parts is None or not analysis.logit_parts.ok
    assert unavailable_reason(analysis) == "why.post_norm"
    if analysis.has_lm_head:
        with pytest.raises(AnatomyError) as raised:
            split_logit(analysis, "", loaded=loaded)
        assert raised.value.key == "why.post_norm"


def test_choosing_another_target_runs_no_forward_pass(models):
    loaded = models[SMOLLM2]
    analysis = _analysis(loaded)
    calls = []
    hook = loaded.model.register_forward_hook(lambda *args: calls.append(1))
    try:
        for token_id in analysis.top_ids[-1][:20]:
            split_logit(analysis, int(token_id), loaded=loaded)
    finally:
        hook.remove()
    assert calls == []
    assert analysis.logit_parts.nbytes < 1024**2  # small, and counted by the result cache
    assert analysis.nbytes > analysis.logit_parts.nbytes
