"""One block, step by step, for one token: the block re-run from the stored state.

No new forward pass. The block's input for every token is in the Analysis
(`hidden_states[layer]`), and so are its attention weights; only that block's own
modules run again, in the order the model's code runs them:
- the norm before attention (pre-norm, Gemma's sandwich) on every token, then for
  the chosen token Σ_j a_ij · v_j per head (v: GPT-2's is the last third of the
  fused c_attn; a grouped-query head reads its shared k/v head), then the output
  projection; a post-norm model (BERT) normalises after the add;
- the decoder of an encoder-decoder does the same with cross-attention, whose v
  comes from the encoder's output;
- the FFN on this token alone: up (and gate), the activation, down.
The result must equal the model's own next hidden state (the last block's raw
output is kept by models.lenses.residual); beyond a tolerance the view refuses.
Shapes: T tokens, D model width, F FFN width, H heads, H_kv key/value heads, d head width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from models.analysis import Analysis
from models.errors import AnatomyError
from models.loading.catalog import ENCODER_DECODER
from models.loading.layout import (
    POST,
    SANDWICH,
    AttentionParts,
    BlockParts,
    ModelLayout,
    StackLayout,
    layout_of,
    unknown_layout,
)
from models.loading.load import LoadedModel, load_model

ENCODER, DECODER = "encoder", "decoder"
RELATIVE_TOLERANCE = 1e-4  # of the largest |value| in the expected output
TOP_NEURONS = 10


@dataclass(frozen=True)
class NormStep:
    """One norm applied to the chosen token: what went in, what came out, its scale."""

    name: str  # attn_norm | cross_norm | ffn_norm | post_attn_norm | post_ffn_norm
    before: np.ndarray  # [D]
    after: np.ndarray  # [D]
    scale: np.ndarray  # [D] the learned scale the normalised vector is multiplied by
    shift: np.ndarray  # [D] the learned shift added after (zeros for RMSNorm)


@dataclass(frozen=True)
class BlockSteps:
    """The chosen token's vector through one block, every step kept."""

    layer: int
    token: int
    part: str  # encoder | decoder (the only stack of an encoder or decoder model is "encoder")
    placement: str  # pre | post | sandwich
    norm_kind: str  # layernorm | rmsnorm
    order: tuple[str, ...]  # the steps in the block's own order (keys of `vectors`)
    vectors: dict[str, np.ndarray]  # step -> [D] (ffn_hidden: [F])
    norms: tuple[NormStep, ...]  # the norms in the order they apply
    expected: np.ndarray  # [D] the model's own output of this block for this token
    n_heads: int
    n_kv_heads: int
    head_dim: int
    gated: bool

    @property
    def max_difference(self) -> float:
        """Largest |re-run output - model's own output|."""
        return float(np.max(np.abs(self.vectors["output"] - self.expected)))

    @property
    def top_neurons(self) -> list[int]:
        """FFN neurons with the largest activation, largest first."""
        hidden = self.vectors["ffn_hidden"]
        return [int(i) for i in np.argsort(-hidden, kind="stable")[:TOP_NEURONS]]

    @property
    def share_active(self) -> float:
        """Share of the FFN's hidden values above zero."""
        return float(np.mean(self.vectors["ffn_hidden"] > 0))


def step_order(parts: BlockParts) -> tuple[str, ...]:
    """The vectors of a block in the order the block computes them."""
    order = ["input", "attention_in", "attention", "after_attention"]
    if parts.cross is not None:
        order += ["cross_in", "cross_attention", "after_cross"]
    return (*order, "ffn_in", "ffn_hidden", "ffn", "output")


def _first(output) -> torch.Tensor:
    return output[0] if isinstance(output, (tuple, list)) else output


def _in_width(module: nn.Module) -> int:
    """Input width of a Linear ([out, in] weight) or a GPT-2 Conv1D ([in, out] weight)."""
    width = getattr(module, "in_features", None)
    return int(width) if width is not None else int(module.weight.shape[0])


def _values(block: nn.Module, parts: AttentionParts, source: torch.Tensor) -> torch.Tensor:
    """source [T, D] -> v [T, H_kv·d]."""
    module = block.get_submodule(parts.value)
    projected = module(source)
    if parts.fused:  # GPT-2: q | k | v side by side
        return projected.split(block.get_submodule(parts.module).split_size, dim=-1)[2]
    return projected


def _attend(
    block: nn.Module, parts: AttentionParts, source: torch.Tensor, weights: np.ndarray
) -> tuple[torch.Tensor, int, int]:
    """One query's attention output [D] from the keys' source [T, D] and its weights [H, T].

    Σ_j a_hj · v_j is computed as v(Σ_j a_hj · x_j): the value projection is affine and
    each row of weights sums to 1, so mixing the T inputs first and projecting H mixes
    gives the same vectors for a fraction of the work. Returns (output, H_kv, d)."""
    n_heads = weights.shape[0]
    out = block.get_submodule(parts.out)
    head_dim = _in_width(out) // n_heads
    rows = torch.from_numpy(weights).to(source.dtype)  # [H, T]
    v = _values(block, parts, rows @ source)  # [H, H_kv·d]: head h's mix, every k/v head
    n_kv = v.shape[-1] // head_dim
    group = n_heads // n_kv  # repeat_kv: query head h reads k/v head h // group
    v = v.reshape(n_heads, n_kv, head_dim)
    heads = v[torch.arange(n_heads), torch.arange(n_heads) // group]  # [H, d]
    return out(heads.reshape(1, -1))[0], n_kv, head_dim


def _norm_step(name: str, module: nn.Module, before: torch.Tensor) -> NormStep:
    """The norm on one vector, and its learned scale and shift read by probing it with
    ±1 (mean 0, RMS 1: the normalised probe is the probe, so out = ±scale + shift)."""
    after = _first(module(before[None]))[0]
    probe = torch.ones_like(before)
    probe[1::2] = -1.0
    plus, minus = module(probe[None])[0], module(-probe[None])[0]
    # the probe's mean square is 1, so the norm divides it by sqrt(1 + eps), not by 1
    eps = getattr(module, "eps", None) or getattr(module, "variance_epsilon", 0.0)
    scale = (plus - minus) / 2 * probe * (1.0 + float(eps or 0.0)) ** 0.5
    shift = (plus + minus) / 2
    return NormStep(name, *(x.numpy().copy() for x in (before, after, scale, shift)))


def _ffn(block: nn.Module, parts: BlockParts, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """x [D] -> (hidden [F] after the activation (× up, if gated), output [D])."""
    ffn = parts.ffn
    act = block.get_submodule(ffn.act)
    up = block.get_submodule(ffn.up)(x[None])[0]
    if ffn.gate is not None:
        hidden = act(block.get_submodule(ffn.gate)(x[None])[0]) * up
    else:
        hidden = act(up)
    return hidden, block.get_submodule(ffn.down)(hidden[None])[0]


def _check_choice(n_layers: int, n_tokens: int, layer: int, token: int) -> tuple[int, int]:
    token = n_tokens - 1 if token == -1 else token
    for name, value, count in (("layer", layer, n_layers), ("token", token, n_tokens)):
        if not 0 <= value < count:
            raise AnatomyError(
                f"{name} must be between 0 and {count - 1}"
                + (" (or -1 for the last token)." if name == "token" else "."),
                key="block.out_of_range",
                name=name,
                high=count - 1,
            )
    return layer, token


@dataclass(frozen=True)
class _Side:
    """The arrays of one stack in the Analysis."""

    stack: StackLayout
    hidden: np.ndarray  # [L+1, T, D]
    last_output: np.ndarray | None  # [T, D]
    self_weights: np.ndarray  # [L, H, T, T]
    cross_weights: np.ndarray | None  # [L, H, T, T_enc]


def _side(layout: ModelLayout, analysis: Analysis, part: str) -> _Side:
    if part == DECODER and analysis.family == ENCODER_DECODER:
        return _Side(
            layout.decoder,
            analysis.decoder_hidden_states,
            analysis.decoder_last_block_output,
            analysis.decoder_attentions,
            analysis.cross_attentions,
        )
    if part not in (ENCODER, DECODER):
        raise AnatomyError(
            f"part must be '{ENCODER}' or '{DECODER}'.", key="block.bad_part", part=str(part)
        )
    return _Side(
        layout.stack, analysis.hidden_states, analysis.last_block_output, analysis.attentions, None
    )


def _encoder_output(loaded: LoadedModel, layout: ModelLayout, analysis: Analysis) -> torch.Tensor:
    """[T_enc, D] what the decoder's cross-attention reads: the encoder's last block
    output, through the encoder's final norm where it has one."""
    last = torch.from_numpy(analysis.last_block_output)
    if layout.stack.final_norm is None:
        return last
    return _first(loaded.model.get_submodule(layout.stack.final_norm)(last[None]))[0]


def block_steps(
    loaded: LoadedModel, analysis: Analysis, layer: int, token: int, part: str = ENCODER
) -> BlockSteps:
    """Re-run block `layer` for position `token` (-1 = last) from the stored input."""
    layout = layout_of(loaded)
    side = _side(layout, analysis, part)
    if side.last_output is None:
        raise unknown_layout(loaded.model_id, "no residual record in this analysis")
    n_layers, n_tokens = side.self_weights.shape[0], side.self_weights.shape[2]
    layer, token = _check_choice(n_layers, n_tokens, int(layer), int(token))
    parts = side.stack.block
    block = loaded.model.get_submodule(side.stack.blocks)[layer]
    post = parts.placement == POST
    v: dict[str, torch.Tensor] = {}
    norms: list[NormStep] = []

    def norm(name: str, path: str, x: torch.Tensor) -> torch.Tensor:
        step = _norm_step(name, block.get_submodule(path), x)
        norms.append(step)
        return torch.from_numpy(step.after)

    with loaded.lock, torch.inference_mode():
        states = torch.from_numpy(side.hidden[layer])  # [T, D] the block's input, every token
        v["input"] = x = states[token]
        source = states if post else _first(block.get_submodule(parts.attn_norm)(states[None]))[0]
        v["attention_in"] = x if post else norm("attn_norm", parts.attn_norm, x)
        weights = side.self_weights[layer][:, token]  # [H, T]
        attended, n_kv, head_dim = _attend(block, parts.attention, source, weights)
        if parts.placement == SANDWICH:
            attended = norm("post_attn_norm", parts.post_attn_norm, attended)
        v["attention"] = attended
        h = x + attended
        v["after_attention"] = h = norm("attn_norm", parts.attn_norm, h) if post else h
        if parts.cross is not None:
            encoder = _encoder_output(loaded, layout, analysis)
            v["cross_in"] = h if post else norm("cross_norm", parts.cross_norm, h)
            crossed, _, _ = _attend(
                block, parts.cross, encoder, side.cross_weights[layer][:, token]
            )
            v["cross_attention"] = crossed
            h = h + crossed
            v["after_cross"] = h = norm("cross_norm", parts.cross_norm, h) if post else h
        v["ffn_in"] = f_in = h if post else norm("ffn_norm", parts.ffn_norm, h)
        v["ffn_hidden"], f_out = _ffn(block, parts, f_in)
        if parts.placement == SANDWICH:
            f_out = norm("post_ffn_norm", parts.post_ffn_norm, f_out)
        v["ffn"] = f_out
        out = h + f_out
        v["output"] = norm("ffn_norm", parts.ffn_norm, out) if post else out
    expected = side.hidden[layer + 1] if layer + 1 < n_layers else side.last_output
    steps = BlockSteps(
        layer=layer,
        token=token,
        part=part if analysis.family == ENCODER_DECODER else ENCODER,
        placement=parts.placement,
        norm_kind=layout.norm_kind,
        order=step_order(parts),
        vectors={name: tensor.numpy().copy() for name, tensor in v.items()},
        norms=tuple(norms),
        expected=expected[token].copy(),
        n_heads=int(weights.shape[0]),
        n_kv_heads=int(n_kv),
        head_dim=int(head_dim),
        gated=parts.ffn.gate is not None,
    )
    tolerance = RELATIVE_TOLERANCE * max(1.0, float(np.max(np.abs(steps.expected))))
    if not steps.max_difference <= tolerance:
        raise AnatomyError(
            f"Re-running block {layer} of '{loaded.model_id}' gave a different output "
            f"(largest difference {steps.max_difference:.2g}); the Block view refuses to "
            "show numbers that are not the model's own.",
            key="block.mismatch",
            model=loaded.model_id,
            diff=f"{steps.max_difference:.2g}",
        )
    return steps


def steps_for(analysis: Analysis, layer: int, token: int, part: str = ENCODER) -> BlockSteps:
    """`block_steps` for a cached Analysis, with its (cached) model."""
    return block_steps(load_model(analysis.model_id), analysis, layer, token, part)


def stats(vector: np.ndarray) -> dict[str, float]:
    """{mean, std, rms, norm} of one vector (std over its values, not across tokens)."""
    vector = vector.astype(np.float64)
    return {
        "mean": float(vector.mean()),
        "std": float(vector.std()),
        "rms": float(np.sqrt(np.mean(vector**2))),
        "norm": float(np.linalg.norm(vector)),
    }


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """cos(a, b); 0 when either is zero."""
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / denominator) if denominator else 0.0


@dataclass(frozen=True)
class StreamView:
    """What each block adds to the residual stream, for every token (from the one pass)."""

    kinds: tuple[str, ...]  # attention, (cross,) ffn
    stream: np.ndarray  # [L, T] |x|: the length of the stream entering each block
    added: np.ndarray  # [L, S, T] |what each sub-layer adds|

    @property
    def relative(self) -> np.ndarray:
        """[L, S, T] |added| / |stream entering the block|."""
        return self.added / np.maximum(self.stream[:, None, :], 1e-12)

    @property
    def share(self) -> np.ndarray:
        """[L, S, T] each sub-layer's share of the block's change (sums to 1 over S)."""
        return self.added / np.maximum(self.added.sum(axis=1, keepdims=True), 1e-12)


def residual_stream(analysis: Analysis, part: str = ENCODER) -> StreamView | None:
    """The stream record of the encoder (or only) stack, or of the decoder; None when the
    pass recorded none (a model whose block layout is unknown)."""
    decoder = part == DECODER and analysis.family == ENCODER_DECODER
    added = analysis.decoder_contribution_norms if decoder else analysis.contribution_norms
    if added is None:
        return None
    hidden = analysis.decoder_hidden_states if decoder else analysis.hidden_states
    stream = np.linalg.norm(hidden[:-1], axis=-1)  # [L, T] the input of each block
    kinds = ("attention", "cross", "ffn") if added.shape[1] == 3 else ("attention", "ffn")
    return StreamView(kinds, stream, added)
