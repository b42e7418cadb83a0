"""Q·K walk-through: the real q, k, v of one head of one layer, step by step.

No new forward pass: the hidden state that entered the layer is already in the
Analysis (`hidden_states[layer]`), so only that layer's attention projections
run again, following each model's own code in transformers:
- GPT-2: one fused Conv1D (`c_attn`) gives q, k and v side by side;
- BERT / BART: separate query/key/value (q_proj/k_proj/v_proj) linears;
- Llama / SmolLM2 / Gemma 3: q_proj/k_proj/v_proj, then (Gemma 3) per-head
  RMS norms on q and k, then rotary position applied to q and k; fewer k/v
  heads than query heads (grouped-query attention);
- the scale is the module's own (`scaling`): 1/sqrt(d) for most models,
  1/sqrt(query_pre_attn_scalar) for Gemma 3, 1/(sqrt(d)·(layer+1)) for GPT-2
  variants that scale by the layer index.
Shapes: T tokens, D model width, d head width, H query heads, H_kv k/v heads.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from models.analysis import Analysis
from models.device import gpu_task, to_model, to_numpy
from models.errors import AnatomyError
from models.loading.catalog import DECODER, ENCODER_DECODER
from models.loading.load import LoadedModel, load_model

BLOCK_LISTS = ("layers", "layer", "h")
ATTENTION_PATHS = ("self_attn", "attn", "attention.self")
PRE_NORMS = ("input_layernorm", "ln_1")
PROJECTION_NAMES = (("q_proj", "k_proj", "v_proj"), ("query", "key", "value"))
MATCH_TOLERANCE = 1e-4  # beyond this the walk-through refuses rather than show wrong numbers
HALF_TOLERANCE = 2e-2  # the same for weights in bfloat16 / float16 (on CUDA)


@dataclass(frozen=True)
class HeadSteps:
    """Scaled dot-product attention of one query token in one head, every step kept."""

    layer: int
    head: int  # query head
    kv_head: int  # the key/value head this query head reads
    query: int  # position of the query token
    n_heads: int  # H
    n_kv_heads: int  # H_kv (< H under grouped-query attention)
    shared_heads: tuple[int, ...]  # query heads that read the same k/v head (this one included)
    x: np.ndarray  # [D] the query token's attention input (after the block's pre-norm, if any)
    q_projected: np.ndarray  # [d] x·Wq (+ bias), before q-norm and rotary
    q: np.ndarray  # [d] the query as used: after q-norm and rotary where the model has them
    keys: np.ndarray  # [T, d] keys of every token, as used (after k-norm and rotary)
    values: np.ndarray  # [T, d] values of every token
    scores: np.ndarray  # [T] q·k_j
    scale: float  # what the scores are multiplied by
    scaled: np.ndarray  # [T] scores × scale (then soft-capped, if the model caps)
    mask: np.ndarray  # [T] 0 where the query may look, -inf where it may not
    causal: bool  # a causal (decoder) mask applies: no token may look at later ones
    masked: np.ndarray  # [T] scaled + mask
    weights: np.ndarray  # [T] softmax(masked): this token's attention row
    output: np.ndarray  # [d] Σ_j weights_j · v_j
    model_row: np.ndarray  # [T] the model's own attention row, from the forward pass
    rotary: bool  # rotary position applied to q and k
    qk_norm: bool  # per-head norms applied to q and k (Gemma 3)
    fused_projection: bool  # q, k, v come out of one fused matrix (GPT-2 c_attn)
    softcap: float | None  # attention logit soft-capping (Gemma 2 style), if any

    @property
    def head_dim(self) -> int:
        return int(self.q.shape[0])

    @property
    def max_difference(self) -> float:
        """Largest |walk-through softmax - model's attention row|."""
        return float(np.max(np.abs(self.weights - self.model_row)))


@dataclass(frozen=True)
class _LayerParts:
    attention: nn.Module
    pre_norm: nn.Module | None
    base: nn.Module  # the model body holding `rotary_emb`, if any


def _unsupported(model_id: str) -> AnatomyError:
    return AnatomyError(
        f"The Q·K walk-through does not know the attention code of '{model_id}'.",
        key="walk.unsupported",
        model=model_id,
    )


def _layer_parts(loaded: LoadedModel, layer: int) -> _LayerParts:
    """The self-attention module of block `layer` (the encoder's, for seq2seq)."""
    body = loaded.model.get_encoder() if loaded.family == ENCODER_DECODER else loaded.model
    for name, module in body.named_modules():
        if isinstance(module, nn.ModuleList) and name.rsplit(".", 1)[-1] in BLOCK_LISTS:
            block = module[layer]
            base = body.get_submodule(name.rsplit(".", 1)[0]) if "." in name else body
            break
    else:
        raise _unsupported(loaded.model_id)
    for path in ATTENTION_PATHS:
        try:
            attention = block.get_submodule(path)
        except AttributeError:
            continue
        pre_norm = next((getattr(block, n) for n in PRE_NORMS if hasattr(block, n)), None)
        return _LayerParts(attention, pre_norm, base)
    raise _unsupported(loaded.model_id)


def _project(attention: nn.Module, x: torch.Tensor, model_id: str) -> tuple[torch.Tensor, ...]:
    """x [1, T, D] -> q [1, T, H·d], k [1, T, H_kv·d], v [1, T, H_kv·d]."""
    if hasattr(attention, "c_attn"):  # GPT-2: one Conv1D, then split in three equal parts
        return attention.c_attn(x).split(attention.split_size, dim=2)
    for names in PROJECTION_NAMES:
        if all(hasattr(attention, n) for n in names):
            return tuple(getattr(attention, n)(x) for n in names)
    raise _unsupported(model_id)


def _heads(states: torch.Tensor, head_dim: int) -> torch.Tensor:
    """[1, T, n·d] -> [1, n, T, d], as every modeling file does."""
    return states.view(*states.shape[:2], -1, head_dim).transpose(1, 2)


def _rotate(parts: _LayerParts, q: torch.Tensor, k: torch.Tensor):
    """Rotary position on q and k [1, n, T, d], with the model's own functions."""
    rotary = getattr(parts.base, "rotary_emb", None)
    apply = getattr(sys.modules[type(parts.attention).__module__], "apply_rotary_pos_emb", None)
    if rotary is None or apply is None:
        return q, k, False
    positions = torch.arange(q.shape[2], device=q.device).unsqueeze(0)
    layer_type = getattr(parts.attention, "layer_type", None)
    if layer_type is not None and hasattr(rotary, f"{layer_type}_inv_freq"):
        cos, sin = rotary(q, positions, layer_type)  # Gemma 3: local and global rotary bases
    else:
        cos, sin = rotary(q, positions)
    q, k = apply(q, k, cos, sin)
    return q, k, True


def _is_causal(attention: nn.Module, family: str) -> bool:
    return family == DECODER and bool(getattr(attention, "is_causal", True))


def _mask_row(attention: nn.Module, family: str, query: int, n_tokens: int) -> torch.Tensor:
    """[T] additive mask for one query row: causal and sliding window where the model has them."""
    keys = torch.arange(n_tokens)
    allowed = torch.ones(n_tokens, dtype=torch.bool)
    if _is_causal(attention, family):
        allowed &= keys <= query
    window = getattr(attention, "sliding_window", None)
    if window and family == DECODER:
        allowed &= keys > query - int(window)
    return torch.where(allowed, 0.0, float("-inf"))


def _check_choice(analysis: Analysis, layer: int, head: int, query: int) -> None:
    limits = (("layer", layer, analysis.n_layers), ("head", head, analysis.n_heads))
    for name, value, count in (*limits, ("query", query, analysis.n_tokens)):
        if not 0 <= value < count:
            raise AnatomyError(
                f"{name} must be between 0 and {count - 1}.",
                key="walk.out_of_range",
                name=name,
                high=count - 1,
            )


def head_steps(
    loaded: LoadedModel, analysis: Analysis, layer: int, head: int, query: int
) -> HeadSteps:
    """Recompute one head's attention for one query token from the stored layer input."""
    _check_choice(analysis, layer, head, query)
    parts = _layer_parts(loaded, layer)
    attention = parts.attention
    with loaded.lock, torch.inference_mode():
        hidden = to_model(analysis.hidden_states[layer], loaded.model).unsqueeze(0)  # [1, T, D]
        x = parts.pre_norm(hidden) if parts.pre_norm is not None else hidden
        q_flat, k_flat, v_flat = _project(attention, x, loaded.model_id)
        head_dim = q_flat.shape[-1] // analysis.n_heads
        q_all, k_all, v_all = (_heads(s, head_dim) for s in (q_flat, k_flat, v_flat))
        q_projected = q_all[0, head, query].clone()
        qk_norm = hasattr(attention, "q_norm") and hasattr(attention, "k_norm")
        if qk_norm:
            q_all, k_all = attention.q_norm(q_all), attention.k_norm(k_all)
        q_all, k_all, rotary = _rotate(parts, q_all, k_all)
        n_kv = k_all.shape[1]
        group = analysis.n_heads // n_kv
        kv_head = head // group  # repeat_kv: query head h reads k/v head h // group
        q, keys, values = q_all[0, head, query], k_all[0, kv_head], v_all[0, kv_head]
        # the scores and softmax in float32 on the CPU, as the eager code's softmax
        q, keys, values = (to_cpu32(t) for t in (q, keys, values))
        scale = float(getattr(attention, "scaling", head_dim**-0.5))
        scores = keys @ q
        scaled = scores * scale
        softcap = getattr(attention, "attn_logit_softcapping", None)
        if softcap:
            scaled = torch.tanh(scaled / softcap) * softcap
        mask = _mask_row(attention, loaded.family, query, analysis.n_tokens)
        masked = scaled + mask
        weights = torch.softmax(masked, dim=-1)
        output = weights @ values
    steps = HeadSteps(
        layer=layer,
        head=head,
        kv_head=kv_head,
        query=query,
        n_heads=analysis.n_heads,
        n_kv_heads=n_kv,
        shared_heads=tuple(range(kv_head * group, (kv_head + 1) * group)),
        x=to_numpy(x[0, query]).copy(),
        q_projected=to_numpy(q_projected),
        q=q.numpy().copy(),
        keys=keys.numpy().copy(),
        values=values.numpy().copy(),
        scores=scores.numpy(),
        scale=scale,
        scaled=scaled.numpy(),
        mask=mask.numpy(),
        causal=_is_causal(attention, loaded.family),
        masked=masked.numpy(),
        weights=weights.numpy(),
        output=output.numpy(),
        model_row=analysis.attentions[layer, head, query].copy(),
        rotary=rotary,
        qk_norm=qk_norm,
        fused_projection=hasattr(attention, "c_attn"),
        softcap=float(softcap) if softcap else None,
    )
    half = next(loaded.model.parameters()).dtype != torch.float32
    if not steps.max_difference < (HALF_TOLERANCE if half else MATCH_TOLERANCE):
        raise _unsupported(loaded.model_id)
    return steps


def to_cpu32(tensor: torch.Tensor) -> torch.Tensor:
    """A float32 CPU copy (the same tensor for a float32 CPU one)."""
    return tensor.to(device="cpu", dtype=torch.float32)


@gpu_task
def walk_through(analysis: Analysis, layer: int, head: int, query: int) -> HeadSteps:
    """`head_steps` for a cached Analysis, with its (cached) model; under spaces.GPU
    on ZeroGPU."""
    return head_steps(load_model(analysis.model_id), analysis, layer, head, query)


def bertviz_layers(attentions: np.ndarray, decimals: int = 3) -> list[torch.Tensor]:
    """[L, H, T, T] -> bertviz's input: L tensors [1, H, T, T], rounded.

    float64, so that the rounded weights print short in bertviz's JSON
    (a rounded float32 would print as 0.12300000339746475).
    """
    rounded = np.round(attentions.astype(np.float64), decimals)
    return [torch.from_numpy(layer).unsqueeze(0) for layer in rounded]
