"""How each modeling style builds its block, recognised by the names of its parts.

A recipe reads one block module and returns where its attention, FFN and norms
live (paths relative to the block), or None when the block is not written its way:
- Llama style (SmolLM2, Llama, Qwen, Mistral ...): input_layernorm -> self_attn ->
  add -> post_attention_layernorm -> mlp (gate/up/down) -> add (pre-norm);
  Gemma 2/3 add post-attention and post-feedforward norms (a sandwich of four);
- GPT-2: ln_1 -> attn (one fused c_attn) -> add -> ln_2 -> mlp (c_fc, c_proj);
- BERT / RoBERTa / MiniLM: attention -> add -> LayerNorm -> intermediate -> output
  -> add -> LayerNorm (post-norm); DistilBERT the same with other names;
- BART / Marian (post-norm) and mBART / Pegasus (pre-norm): self_attn, fc1, fc2,
  and in the decoder encoder_attn (cross-attention);
- T5: block.layer = [self-attention, (cross-attention,) feed-forward], RMS norms
  before each, relative position buckets inside attention.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

PRE = "pre"
POST = "post"
SANDWICH = "sandwich"
# BART-style seq2seq models (same module names): which normalise after each add (post-norm)
# and which before each sub-layer (pre-norm). Others with these names (OPT ...) are unknown.
POST_NORM_SEQ2SEQ = ("bart", "marian", "plbart", "blenderbot-small")
PRE_NORM_SEQ2SEQ = ("mbart", "pegasus", "m2m_100", "blenderbot")


@dataclass(frozen=True)
class AttentionParts:
    """One attention sub-layer, paths relative to the block."""

    module: str  # the attention module (its parameters count as attention)
    value: str  # the module whose output holds v (the fused q|k|v one when `fused`)
    out: str  # the output projection, [H·d] -> [D]
    contribution: str  # the module whose (first) output is what is added to the stream
    fused: bool = False  # q, k and v from one matrix (GPT-2 c_attn): v is its last third


@dataclass(frozen=True)
class FfnParts:
    """The feed-forward sub-layer: down(act(up(x))), or down(act(gate(x)) · up(x))."""

    up: str
    down: str
    act: str
    contribution: str  # the module whose output is what is added to the stream
    gate: str | None = None


@dataclass(frozen=True)
class BlockParts:
    """One block: its sub-layers and norms (paths relative to the block)."""

    recipe: str  # which modeling style matched (llama, gpt2, bert, distilbert, bart, t5)
    placement: str  # pre | post | sandwich
    attention: AttentionParts
    ffn: FfnParts
    attn_norm: str  # before attention (pre, sandwich) or after its residual add (post)
    ffn_norm: str  # before the FFN (pre, sandwich) or after its residual add (post)
    post_attn_norm: str | None = None  # sandwich: on the attention output, before the add
    post_ffn_norm: str | None = None  # sandwich: on the FFN output, before the add
    cross: AttentionParts | None = None  # decoder of an encoder-decoder
    cross_norm: str | None = None


def _has(module: nn.Module, *paths: str) -> bool:
    for path in paths:
        try:
            module.get_submodule(path)
        except AttributeError:
            return False
    return True


def _llama(block: nn.Module, model_type: str) -> BlockParts | None:
    if not _has(block, "self_attn.v_proj", "self_attn.o_proj", "input_layernorm", "mlp"):
        return None
    if not _has(block, "post_attention_layernorm"):
        return None
    if _has(block, "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"):
        ffn = dict(gate="mlp.gate_proj", up="mlp.up_proj", down="mlp.down_proj")
    elif _has(block, "mlp.up_proj", "mlp.down_proj"):
        ffn = dict(up="mlp.up_proj", down="mlp.down_proj")
    elif _has(block, "mlp.fc1", "mlp.fc2"):
        ffn = dict(up="mlp.fc1", down="mlp.fc2")
    else:
        return None
    act = next(
        (f"mlp.{n}" for n in ("act_fn", "activation_fn", "act") if _has(block, f"mlp.{n}")), None
    )
    if act is None:
        return None
    sandwich = _has(block, "pre_feedforward_layernorm", "post_feedforward_layernorm")
    attention = AttentionParts(
        "self_attn",
        "self_attn.v_proj",
        "self_attn.o_proj",
        "post_attention_layernorm" if sandwich else "self_attn",
    )
    if sandwich:
        return BlockParts(
            "llama",
            SANDWICH,
            attention,
            FfnParts(act=act, contribution="post_feedforward_layernorm", **ffn),
            attn_norm="input_layernorm",
            ffn_norm="pre_feedforward_layernorm",
            post_attn_norm="post_attention_layernorm",
            post_ffn_norm="post_feedforward_layernorm",
        )
    return BlockParts(
        "llama",
        PRE,
        attention,
        FfnParts(act=act, contribution="mlp", **ffn),
        attn_norm="input_layernorm",
        ffn_norm="post_attention_layernorm",
    )


def _gpt2(block: nn.Module, model_type: str) -> BlockParts | None:
    if not _has(block, "ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"):
        return None
    return BlockParts(
        "gpt2",
        PRE,
        AttentionParts("attn", "attn.c_attn", "attn.c_proj", "attn", fused=True),
        FfnParts(up="mlp.c_fc", down="mlp.c_proj", act="mlp.act", contribution="mlp"),
        attn_norm="ln_1",
        ffn_norm="ln_2",
    )


def _bert(block: nn.Module, model_type: str) -> BlockParts | None:
    needed = ("attention.self.value", "attention.output.dense", "attention.output.LayerNorm")
    needed += ("intermediate.dense", "intermediate.intermediate_act_fn")
    if not _has(block, *needed, "output.dense", "output.LayerNorm"):
        return None
    return BlockParts(
        "bert",
        POST,
        AttentionParts(
            "attention", "attention.self.value", "attention.output.dense", "attention.output.dense"
        ),
        FfnParts(
            up="intermediate.dense",
            down="output.dense",
            act="intermediate.intermediate_act_fn",
            contribution="output.dense",
        ),
        attn_norm="attention.output.LayerNorm",
        ffn_norm="output.LayerNorm",
    )


def _distilbert(block: nn.Module, model_type: str) -> BlockParts | None:
    needed = ("attention.v_lin", "attention.out_lin", "sa_layer_norm", "ffn.lin1", "ffn.lin2")
    if not _has(block, *needed, "ffn.activation", "output_layer_norm"):
        return None
    return BlockParts(
        "distilbert",
        POST,
        AttentionParts("attention", "attention.v_lin", "attention.out_lin", "attention"),
        FfnParts(up="ffn.lin1", down="ffn.lin2", act="ffn.activation", contribution="ffn"),
        attn_norm="sa_layer_norm",
        ffn_norm="output_layer_norm",
    )


def _bart(block: nn.Module, model_type: str) -> BlockParts | None:
    needed = ("self_attn.v_proj", "self_attn.out_proj", "self_attn_layer_norm", "fc1", "fc2")
    if model_type not in POST_NORM_SEQ2SEQ + PRE_NORM_SEQ2SEQ:
        return None
    if not _has(block, *needed, "activation_fn", "final_layer_norm"):
        return None
    cross = None
    if _has(block, "encoder_attn.v_proj", "encoder_attn.out_proj", "encoder_attn_layer_norm"):
        cross = AttentionParts(
            "encoder_attn", "encoder_attn.v_proj", "encoder_attn.out_proj", "encoder_attn"
        )
    return BlockParts(
        "bart",
        PRE if model_type in PRE_NORM_SEQ2SEQ else POST,
        AttentionParts("self_attn", "self_attn.v_proj", "self_attn.out_proj", "self_attn"),
        FfnParts(up="fc1", down="fc2", act="activation_fn", contribution="fc2"),
        attn_norm="self_attn_layer_norm",
        ffn_norm="final_layer_norm",
        cross=cross,
        cross_norm="encoder_attn_layer_norm" if cross else None,
    )


def _t5(block: nn.Module, model_type: str) -> BlockParts | None:
    layers = getattr(block, "layer", None)
    if not isinstance(layers, nn.ModuleList) or len(layers) not in (2, 3):
        return None
    last = f"layer.{len(layers) - 1}"
    if not _has(block, "layer.0.SelfAttention.v", "layer.0.SelfAttention.o", "layer.0.layer_norm"):
        return None
    dense = f"{last}.DenseReluDense"
    if not _has(block, f"{last}.layer_norm", f"{dense}.wo", f"{dense}.act"):
        return None
    if _has(block, f"{dense}.wi_0", f"{dense}.wi_1"):
        ffn = FfnParts(
            gate=f"{dense}.wi_0",
            up=f"{dense}.wi_1",
            down=f"{dense}.wo",
            act=f"{dense}.act",
            contribution=dense,
        )
    elif _has(block, f"{dense}.wi"):
        ffn = FfnParts(up=f"{dense}.wi", down=f"{dense}.wo", act=f"{dense}.act", contribution=dense)
    else:
        return None
    cross = None
    if len(layers) == 3:
        if not _has(block, "layer.1.EncDecAttention.v", "layer.1.EncDecAttention.o"):
            return None
        cross = AttentionParts(
            "layer.1.EncDecAttention",
            "layer.1.EncDecAttention.v",
            "layer.1.EncDecAttention.o",
            "layer.1.EncDecAttention",
        )
    return BlockParts(
        "t5",
        PRE,
        AttentionParts(
            "layer.0.SelfAttention",
            "layer.0.SelfAttention.v",
            "layer.0.SelfAttention.o",
            "layer.0.SelfAttention",
        ),
        ffn,
        attn_norm="layer.0.layer_norm",
        ffn_norm=f"{last}.layer_norm",
        cross=cross,
        cross_norm="layer.1.layer_norm" if cross else None,
    )


RECIPES = (_llama, _gpt2, _bert, _distilbert, _bart, _t5)
