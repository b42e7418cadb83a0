"""The /architecture record: sizes as the configs say, parameters that add up, memory."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig

from models.lenses.architecture import (
    architecture,
    attention_weight_bytes,
    block_diagram,
    kv_bytes,
)
from models.loading import bundled
from models.loading.catalog import GEMMA3, MINILM, SMOLLM2
from models.loading.layout import layout_of
from models.loading.load import load_model

NAMES = (
    "tiny-bert",
    "tiny-gpt2",
    "tiny-llama-gqa",
    "tiny-bart",
    "tiny-t5",
    "tiny-gemma3",
    "tiny-qwen3",
    "tiny-distilbert",
    SMOLLM2,
    GEMMA3,
    MINILM,
)
# What the model cards and papers say about each design (not read from our code).
EXPECTED = {
    "tiny-bert": ("learned", "post", "layernorm", False),
    "tiny-gpt2": ("learned", "pre", "layernorm", False),
    "tiny-llama-gqa": ("rotary", "pre", "rmsnorm", True),
    "tiny-bart": ("learned", "post", "layernorm", False),
    "tiny-t5": ("relative", "pre", "rmsnorm", False),
    "tiny-gemma3": ("rotary", "sandwich", "rmsnorm", True),
    "tiny-qwen3": ("rotary", "pre", "rmsnorm", True),
    "tiny-distilbert": ("learned", "post", "layernorm", False),
    SMOLLM2: ("rotary", "pre", "rmsnorm", True),
    GEMMA3: ("rotary", "sandwich", "rmsnorm", True),
    MINILM: ("learned", "post", "layernorm", False),
}
CONFIG_NAMES = {  # field -> config attributes that hold it, in any family
    "d_ff": ("intermediate_size", "n_inner", "d_ff", "encoder_ffn_dim", "hidden_dim"),
    "activation": (
        "hidden_act",
        "hidden_activation",
        "activation_function",
        "activation",
        "dense_act_fn",
    ),
}


@pytest.fixture(scope="module")
def records(tiny):
    """name -> (LoadedModel, the folder its config.json was read from)."""
    out = {}
    for name in NAMES:
        folder = tiny.get(name) or str(bundled.prepared_path(name))
        out[name] = (load_model(tiny.get(name, name)), folder)
    return out


def record_of(records, name):
    loaded, _ = records[name]
    return loaded, architecture(loaded)


def _config_value(config, names):
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return None


@pytest.mark.parametrize("name", NAMES)
def test_parts_add_up_to_the_models_unique_parameters(records, name):
    loaded, record = record_of(records, name)
    unique = {p.data_ptr(): p.numel() for p in loaded.model.parameters()}
    assert record["total_params"] == sum(unique.values()) == loaded.n_params
    assert sum(part["params"] for part in record["parts"]) == record["total_params"]
    assert record["weight_bytes"] == {
        "float32": 4 * record["total_params"],
        "bfloat16": 2 * record["total_params"],
        "int8": record["total_params"],
        "int4": record["total_params"] // 2,
    }


@pytest.mark.parametrize("name", NAMES)
def test_sizes_are_the_configs(records, name):
    loaded, record = record_of(records, name)
    config = AutoConfig.from_pretrained(records[name][1])  # read again from config.json
    heads = config.num_attention_heads
    assert record["n_layers"] == config.num_hidden_layers
    assert record["n_heads"] == heads
    assert record["n_kv_heads"] == (getattr(config, "num_key_value_heads", None) or heads)
    width = config.hidden_size
    assert record["d_model"] == width
    head_dim = getattr(config, "head_dim", None) or getattr(config, "d_kv", None)
    assert record["head_dim"] == (head_dim or width // heads)
    d_ff = _config_value(config, CONFIG_NAMES["d_ff"]) or 4 * width  # GPT-2: n_inner None
    assert record["d_ff"] == d_ff
    assert record["vocab_size"] == config.vocab_size
    assert record["activation"] == _config_value(config, CONFIG_NAMES["activation"])
    positions, placement, norm, gated = EXPECTED[name]
    assert (record["positions"], record["norm_placement"], record["norm_kind"]) == (
        positions,
        placement,
        norm,
    )
    assert record["gated_ffn"] is gated
    if loaded.has_lm_head:
        assert record["tied_embeddings"] is bool(config.tie_word_embeddings)
    assert record["config"]["model_type"] == config.model_type


@pytest.mark.parametrize("name", NAMES)
def test_kv_cache_per_token_is_k_and_v_of_every_layer(records, name):
    _, record = record_of(records, name)
    layers = record["n_kv_layers"]
    per_value = record["n_kv_heads"] * record["head_dim"]
    assert record["kv_cache_bytes_per_token"] == {
        "float32": 2 * layers * per_value * 4,
        "bfloat16": 2 * layers * per_value * 2,
    }


def test_gemma_local_layers_keep_only_their_window(records):
    _, record = record_of(records, GEMMA3)
    window = record["sliding_window"]
    full = record["layer_types"].count("full_attention")
    assert window == 512 and 0 < full < record["n_layers"]
    per_layer = 2 * record["n_kv_heads"] * record["head_dim"] * 2
    assert kv_bytes(record, 100) == record["n_layers"] * per_layer * 100
    long = 4 * window
    local = record["n_layers"] - full
    assert kv_bytes(record, long) == per_layer * (full * long + local * window)
    assert attention_weight_bytes(record, long) == record["n_layers"] * 4 * long * long * 4


def test_the_block_is_drawn_in_each_models_own_order(records):
    def kinds(name):
        return [item["kind"] for item in block_diagram(layout_of(records[name][0]).stack.block)]

    assert kinds(SMOLLM2) == ["norm", "attention", "add", "norm", "ffn", "add"]
    assert kinds(MINILM) == ["attention", "add", "norm", "ffn", "add", "norm"]
    assert kinds(GEMMA3) == [
        "norm", "attention", "norm", "add", "norm", "ffn", "norm", "add"
    ]  # fmt: skip
    t5 = layout_of(records["tiny-t5"][0])
    decoder = [item["kind"] for item in block_diagram(t5.decoder.block)]
    assert decoder == [
        "norm", "attention", "add", "norm", "cross_attention", "add", "norm", "ffn", "add"
    ]  # fmt: skip


def test_tied_weights_are_counted_once_under_the_embeddings(records):
    loaded, record = record_of(records, SMOLLM2)
    parts = {p["name"]: p["params"] for p in record["parts"]}
    embedding = loaded.model.get_input_embeddings().weight
    assert loaded.model.get_output_embeddings().weight is embedding
    assert parts["lm_head"] == 0 and parts["embeddings"] == embedding.numel()
    loaded, record = record_of(records, "tiny-llama-gqa")  # untied: the head has its own matrix
    parts = {p["name"]: p["params"] for p in record["parts"]}
    assert parts["lm_head"] == loaded.model.lm_head.weight.numel()


def test_a_bigger_ffn_shows_up_in_the_ffn_part(records):
    """Counting by part follows the modules: the FFN holds 3 · D · F weights per layer."""
    loaded, record = record_of(records, SMOLLM2)
    parts = {p["name"]: p["params"] for p in record["parts"]}
    per_layer = 3 * record["d_model"] * record["d_ff"]
    assert parts["ffn"] == record["n_layers"] * per_layer
    attention = sum(p.numel() for n, p in loaded.model.named_parameters() if ".self_attn." in n)
    assert parts["attention"] == attention
    assert isinstance(loaded.model.model.layers[0].mlp.gate_proj, torch.nn.Linear)


def test_gemma_scales_its_embeddings_by_the_root_of_its_width(records):
    _, gemma = record_of(records, GEMMA3)
    _, smollm2 = record_of(records, SMOLLM2)
    assert gemma["embedding_scale"] == pytest.approx(gemma["d_model"] ** 0.5, rel=1e-3)
    assert smollm2["embedding_scale"] == 1.0
