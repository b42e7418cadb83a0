"""Where a model keeps its parts, and how its block is put together.

Read from the module tree and the config, never by running the model. A block is
recognised by the names its modeling file gives its parts, so every model written
the same way shares one recipe:
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
Any other arrangement raises an AnatomyError rather than showing wrong numbers.
Paths are dotted module names (`model.get_submodule(path)`); block paths are
relative to one block.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from torch import nn

from models.errors import AnatomyError
from models.loading.catalog import ENCODER_DECODER

PRE = "pre"
POST = "post"
SANDWICH = "sandwich"
BLOCK_LISTS = ("layers", "layer", "h", "block")
# BART-style seq2seq models (same module names): which normalise after each add (post-norm)
# and which before each sub-layer (pre-norm). Others with these names (OPT ...) are unknown.
POST_NORM_SEQ2SEQ = ("bart", "marian", "plbart", "blenderbot-small")
PRE_NORM_SEQ2SEQ = ("mbart", "pegasus", "m2m_100", "blenderbot")
POSITION_TABLES = ("wpe", "position_embeddings", "embed_positions")
ACTIVATION_KEYS = ("hidden_act", "hidden_activation", "activation_function", "activation")


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


@dataclass(frozen=True)
class StackLayout:
    """A stack of identical blocks (the model body, or one side of an encoder-decoder)."""

    blocks: str  # path of the nn.ModuleList of blocks, from the model root
    n_layers: int
    block: BlockParts
    final_norm: str | None  # applied after the last block, if any (path from the root)


@dataclass(frozen=True)
class ModelLayout:
    """Everything the Block tab needs to know about where a model's parts are."""

    model_type: str
    family: str  # encoder | decoder | encoder-decoder
    stack: StackLayout  # the encoder, for an encoder-decoder
    decoder: StackLayout | None
    token_embedding: str
    position_embedding: str | None
    lm_head: str | None
    tied_embeddings: bool
    positions: str  # learned | sinusoidal | rotary | relative | none
    norm_kind: str  # layernorm | rmsnorm
    activation: str  # the config's name of the FFN activation
    gated_ffn: bool

    @property
    def norm_placement(self) -> str:
        return self.stack.block.placement

    def stack_of(self, part: str) -> StackLayout:
        """ "encoder" (or the only stack) / "decoder"."""
        if part == "decoder" and self.decoder is not None:
            return self.decoder
        return self.stack


def unknown_layout(model_id: str, what: str = "") -> AnatomyError:
    detail = f" ({what})" if what else ""
    return AnatomyError(
        f"The Block view does not know how the blocks of '{model_id}' are built{detail}; "
        "it shows nothing rather than wrong numbers.",
        key="block.unknown_layout",
        model=model_id,
    )


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


def _path_of(model: nn.Module, target: nn.Module | None) -> str | None:
    if target is None:
        return None
    return next((name for name, module in model.named_modules() if module is target), None)


def is_norm(module: nn.Module) -> bool:
    """LayerNorm, RMSNorm and their model-specific classes (T5LayerNorm, Gemma3RMSNorm ...)."""
    return isinstance(module, nn.LayerNorm) or "Norm" in type(module).__name__


def norm_kind(module: nn.Module) -> str:
    """layernorm (subtracts the mean, has a bias) or rmsnorm (divides by the RMS only)."""
    if isinstance(module, nn.LayerNorm):
        return "layernorm"
    name = type(module).__name__
    return "rmsnorm" if "RMS" in name or name == "T5LayerNorm" else "layernorm"


def _stack(model: nn.Module, root: str, model_type: str, model_id: str) -> StackLayout:
    """The first list of blocks under `root` ("" = the whole model) that a recipe reads."""
    prefix = f"{root}." if root else ""
    for name, module in model.named_modules():
        if not (isinstance(module, nn.ModuleList) and name.startswith(prefix) and len(module)):
            continue
        if name.rsplit(".", 1)[-1] not in BLOCK_LISTS:
            continue
        parts = next((p for r in RECIPES if (p := r(module[0], model_type)) is not None), None)
        if parts is None:
            raise unknown_layout(model_id, f"block class {type(module[0]).__name__}")
        parent_name = name.rsplit(".", 1)[0] if "." in name else ""
        parent = model.get_submodule(parent_name)
        final = next(
            (
                f"{parent_name}.{child}" if parent_name else child
                for child, sub in parent.named_children()
                if is_norm(sub) and "embed" not in child
            ),
            None,
        )
        return StackLayout(name, len(module), parts, final)
    raise unknown_layout(model_id, "no list of blocks")


def _positions(model: nn.Module, config) -> tuple[str, str | None]:
    """(kind, path of the learned / sinusoidal table)."""
    table = None
    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] in POSITION_TABLES and hasattr(module, "weight"):
            table = name
            break
    names = [type(m).__name__ for m in model.modules()]
    if any("Rotary" in n for n in names):
        return "rotary", None
    if any(name.endswith("relative_attention_bias") for name, _ in model.named_modules()):
        return "relative", None
    if table is not None:
        sinusoidal = "Sinusoidal" in type(model.get_submodule(table)).__name__
        sinusoidal = sinusoidal or bool(getattr(config, "sinusoidal_pos_embds", False))
        return ("sinusoidal" if sinusoidal else "learned"), table
    return "none", None


def activation_name(config) -> str:
    """The config's own name for the FFN activation (T5: dense_act_fn, 'gated-' if gated)."""
    for key in ACTIVATION_KEYS:
        value = getattr(config, key, None)
        if isinstance(value, str):
            return value
    value = getattr(config, "feed_forward_proj", None) or getattr(config, "dense_act_fn", None)
    return str(value) if value else "unknown"


def _tied(model: nn.Module) -> bool:
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    embed = model.get_input_embeddings()
    if head is None or getattr(head, "weight", None) is None:
        return False
    return head.weight is embed.weight or head.weight.data_ptr() == embed.weight.data_ptr()


def find_layout(model: nn.Module, family: str, model_id: str) -> ModelLayout:
    """The layout of `model` (raises the 'unknown layout' AnatomyError if not recognised)."""
    config = model.config
    model_type = str(getattr(config, "model_type", ""))
    if family == ENCODER_DECODER:
        stack = _stack(model, _path_of(model, model.get_encoder()) or "", model_type, model_id)
        decoder = _stack(model, _path_of(model, model.get_decoder()) or "", model_type, model_id)
        if decoder.block.cross is None:
            raise unknown_layout(model_id, "no cross-attention in the decoder")
    else:
        stack, decoder = _stack(model, "", model_type, model_id), None
    positions, table = _positions(model, config)
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    block = model.get_submodule(stack.blocks)[0]
    ffn = stack.block.ffn
    return ModelLayout(
        model_type=model_type,
        family=family,
        stack=stack,
        decoder=decoder,
        token_embedding=_path_of(model, model.get_input_embeddings()),
        position_embedding=table,
        lm_head=_path_of(model, head),
        tied_embeddings=_tied(model),
        positions=positions,
        norm_kind=norm_kind(block.get_submodule(stack.block.attn_norm)),
        activation=activation_name(config),
        gated_ffn=ffn.gate is not None,
    )


_LAYOUTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def layout_of(loaded) -> ModelLayout:
    """The (cached) layout of a LoadedModel; kept as long as the model is."""
    found = _LAYOUTS.get(loaded.model)
    if found is None:
        found = find_layout(loaded.model, loaded.family, loaded.model_id)
        _LAYOUTS[loaded.model] = found
    return found


def layout_or_none(loaded) -> ModelLayout | None:
    """The layout, or None for a model whose blocks are not recognised."""
    try:
        return layout_of(loaded)
    except AnatomyError:
        return None
