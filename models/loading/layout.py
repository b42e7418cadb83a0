"""Where a model keeps its parts, and how its block is put together.

Read from the module tree and the config, never by running the model: the first
list of blocks whose block a recipe of models.loading.block_recipes recognises
(Llama / Gemma / Qwen, GPT-2, BERT, DistilBERT, BART, T5 styles), the final norm
after it, the embeddings, the LM head and whether it is tied, the kind of
positions. Any other arrangement raises an AnatomyError rather than showing wrong
numbers. Paths are dotted module names (`model.get_submodule(path)`); block paths
are relative to one block.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from torch import nn

from models.errors import AnatomyError
from models.loading.block_recipes import (  # noqa: F401 - re-exported for the lenses
    POST,
    PRE,
    RECIPES,
    SANDWICH,
    AttentionParts,
    BlockParts,
    FfnParts,
)
from models.loading.catalog import ENCODER_DECODER

BLOCK_LISTS = ("layers", "layer", "h", "block")
POSITION_TABLES = ("wpe", "position_embeddings", "embed_positions")
ACTIVATION_KEYS = ("hidden_act", "hidden_activation", "activation_function", "activation")


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
