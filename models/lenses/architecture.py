"""The model as built: sizes, block order, parameters per part, memory, KV cache.

Everything comes from the config and the module tree of the loaded model (no
text, no forward pass). Parameter counts are over the model's unique parameters
(`named_parameters()` lists a tied weight once, under the embeddings), so the
parts add up to the model's own total.
"""

from __future__ import annotations

import json
import weakref

from torch import nn

from models.loading.catalog import ENCODER, ENCODER_DECODER
from models.loading.layout import (
    POST,
    SANDWICH,
    AttentionParts,
    BlockParts,
    ModelLayout,
    is_norm,
    layout_of,
)

BYTES_PER_PARAM = {"float32": 4.0, "bfloat16": 2.0, "int8": 1.0, "int4": 0.5}
KV_DTYPES = {"float32": 4, "bfloat16": 2}
PARTS = ("embeddings", "attention", "cross_attention", "ffn", "norms", "lm_head", "other")


def block_diagram(parts: BlockParts) -> list[dict]:
    """The sub-layers of one block in the order they run: [{kind, module}], kind one of
    norm | attention | cross_attention | add | ffn (module: its path in the block)."""

    def sub_layer(kind: str, module: str, before: str | None, after: str | None, post_norm=None):
        items = []
        if before:
            items.append({"kind": "norm", "module": before})
        items.append({"kind": kind, "module": module})
        if post_norm:
            items.append({"kind": "norm", "module": post_norm})
        items.append({"kind": "add", "module": ""})
        if after:
            items.append({"kind": "norm", "module": after})
        return items

    post = parts.placement == POST
    sandwich = parts.placement == SANDWICH

    def around(norm: str | None, post_norm: str | None = None):
        return (None, norm, None) if post else (norm, None, post_norm if sandwich else None)

    before, after, extra = around(parts.attn_norm, parts.post_attn_norm)
    items = sub_layer("attention", parts.attention.module, before, after, extra)
    if parts.cross is not None:
        before, after, extra = around(parts.cross_norm)
        items += sub_layer("cross_attention", parts.cross.module, before, after, extra)
    before, after, extra = around(parts.ffn_norm, parts.post_ffn_norm)
    return items + sub_layer("ffn", parts.ffn.contribution, before, after, extra)


def _out_width(module: nn.Module) -> int:
    """Output width of a Linear ([out, in] weight) or a GPT-2 Conv1D ([in, out] weight)."""
    width = getattr(module, "out_features", None)
    return int(width) if width is not None else int(module.weight.shape[1])


def _in_width(module: nn.Module) -> int:
    width = getattr(module, "in_features", None)
    return int(width) if width is not None else int(module.weight.shape[0])


def attention_sizes(block: nn.Module, parts: AttentionParts, n_heads: int) -> tuple[int, int]:
    """(H_kv, d) read from the projections: d = o's input / H, H_kv = v's output / d."""
    head_dim = _in_width(block.get_submodule(parts.out)) // n_heads
    v_width = _out_width(block.get_submodule(parts.value))
    if parts.fused:
        v_width //= 3
    return v_width // head_dim, head_dim


def _within(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + ".") for p in prefixes if p)


def _block_part(layout: ModelLayout, path: str) -> str | None:
    """attention | cross_attention | ffn | other for a module inside a block, else None."""
    for stack in filter(None, (layout.stack, layout.decoder)):
        prefix = stack.blocks + "."
        if not path.startswith(prefix):
            continue
        inner = path[len(prefix) :].partition(".")[2]  # drop the block index
        parts = stack.block
        attention = parts.attention
        if _within(inner, (attention.module, attention.value, attention.out)):
            return "attention"
        if parts.cross is not None and _within(inner, (parts.cross.module, parts.cross.out)):
            return "cross_attention"
        ffn = parts.ffn
        if _within(inner, (ffn.up, ffn.gate, ffn.down, ffn.contribution)):
            return "ffn"
        return "other"
    return None


def parameter_parts(model: nn.Module, layout: ModelLayout) -> dict[str, int]:
    """Unique parameters per part (a tied weight once); the values sum to the total."""
    counts = dict.fromkeys(PARTS, 0)
    head_owner = layout.lm_head.split(".")[0] if layout.lm_head else None
    base = getattr(model, "base_model", model)
    body = next((n for n, m in model.named_modules() if m is base), "") if base is not model else ""
    for name, parameter in model.named_parameters():
        path = name.rsplit(".", 1)[0] if "." in name else ""
        module = model.get_submodule(path)
        if is_norm(module):
            part = "norms"
        elif (inside := _block_part(layout, path)) is not None:
            part = inside
        elif (
            head_owner
            and not isinstance(module, nn.Embedding)
            and (_within(path, (head_owner,)) or (body and not _within(path, (body,))))
        ):
            part = "lm_head"  # the head and what only it uses (BERT's transform, a bias)
        elif isinstance(module, nn.Embedding) or "embed" in path:
            part = "embeddings"
        else:
            part = "other"
        counts[part] += parameter.numel()
    return counts


def kv_bytes(record: dict, n_tokens: int, dtype: str = "bfloat16") -> int:
    """Bytes of the key/value cache for `n_tokens` tokens: every decoder layer keeps k and v
    [H_kv · d] per token; a sliding-window layer keeps at most `sliding_window` tokens."""
    per_layer = 2 * record["n_kv_heads"] * record["head_dim"] * KV_DTYPES[dtype]
    window = record.get("sliding_window")
    total = 0
    for layer_type in record["layer_types"]:
        kept = min(n_tokens, window) if layer_type == "sliding_attention" and window else n_tokens
        total += per_layer * kept
    return total


def attention_weight_bytes(record: dict, n_tokens: int) -> int:
    """Bytes of the [H, T, T] float32 attention weights of every layer (what this app keeps)."""
    return record["n_layers"] * record["n_heads"] * n_tokens * n_tokens * 4


def _embedding_scale(model: nn.Module) -> float:
    """What the token embedding multiplies its rows by (Gemma: √d_model; most models: 1)."""
    scale = getattr(model.get_input_embeddings(), "embed_scale", 1.0)
    return float(scale.item() if hasattr(scale, "item") else scale)


def _config_dict(config) -> dict:
    return json.loads(config.to_json_string(use_diff=False))


def _layer_types(config, n_layers: int) -> list[str]:
    types = getattr(config, "layer_types", None)
    if isinstance(types, (list, tuple)) and len(types) == n_layers:
        return [str(t) for t in types]
    return ["full_attention"] * n_layers


def architecture(loaded) -> dict:
    """The JSON record of /architecture (see issue 13 for the fields)."""
    layout = layout_of(loaded)
    model, config = loaded.model, loaded.config
    stack = layout.stack
    block = model.get_submodule(stack.blocks)[0]
    n_heads = int(config.num_attention_heads)
    n_kv, head_dim = attention_sizes(block, stack.block.attention, n_heads)
    d_ff = _out_width(block.get_submodule(stack.block.ffn.up))
    counts = parameter_parts(model, layout)
    total = sum(counts.values())
    shown = [p for p in PARTS if counts[p] or p in ("embeddings", "attention", "ffn", "norms")]
    if layout.lm_head:
        shown = [p for p in PARTS if p in shown or p == "lm_head"]
    cache_stack = layout.decoder or stack
    record = {
        "model": loaded.model_id,
        "family": loaded.family,
        "model_type": layout.model_type,
        "n_layers": stack.n_layers,
        "n_heads": n_heads,
        "n_kv_heads": n_kv,
        "head_dim": head_dim,
        "d_model": int(config.hidden_size),
        "d_ff": d_ff,
        "vocab_size": int(config.vocab_size),
        "positions": layout.positions,
        "norm_placement": layout.norm_placement,
        "norm_kind": layout.norm_kind,
        "activation": layout.activation,
        "gated_ffn": layout.gated_ffn,
        "tied_embeddings": layout.tied_embeddings,
        "has_lm_head": bool(loaded.has_lm_head),
        "embedding_scale": _embedding_scale(model),
        "final_norm": stack.final_norm is not None,
        "block": block_diagram(stack.block),
        "parts": [{"name": p, "params": int(counts[p])} for p in shown],
        "total_params": int(total),
        "weight_bytes": {k: int(total * v) for k, v in BYTES_PER_PARAM.items()},
        "sliding_window": getattr(config, "sliding_window", None),
        "layer_types": _layer_types(config, cache_stack.n_layers),
        "max_positions": getattr(config, "max_position_embeddings", None),
        "config": _config_dict(config),
    }
    if layout.decoder is not None:
        record["n_decoder_layers"] = layout.decoder.n_layers
        record["decoder_block"] = block_diagram(layout.decoder.block)
    record["n_kv_layers"] = cache_stack.n_layers
    record["kv_cache_bytes_per_token"] = {
        dtype: kv_bytes({**record, "sliding_window": None}, 1, dtype) for dtype in KV_DTYPES
    }
    record["kv_cache_used"] = loaded.family != ENCODER  # encoders generate nothing, cache nothing
    record["encoder_decoder"] = loaded.family == ENCODER_DECODER
    return record


_RECORDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def architecture_of(loaded) -> dict:
    """`architecture(loaded)`, computed once per loaded model (treat it as read-only)."""
    record = _RECORDS.get(loaded.model)
    if record is None:
        record = architecture(loaded)
        _RECORDS[loaded.model] = record
    return record
