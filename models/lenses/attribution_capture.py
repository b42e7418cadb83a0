"""What the main forward pass keeps for "why this token?": the last position's
residual stream, split into the vector each part of the model added to it.

For a pre-norm model (GPT-2, Llama / SmolLM2, Gemma 3, the T5 decoder) the
residual entering the final norm is a plain sum:

    x_final = embeddings + Σ_layers (attention_l + ffn_l)   (+ cross-attention_l, T5)

and each attention output is itself a sum over heads through the output
projection W_O (o_proj / c_proj / dense / o): W_O z = Σ_h W_O[:, h] z_h + b.
Hooks record, at the last output position only (small: a few vectors per layer):
- the input z of every output projection (per-head split; grouped-query attention
  included, as z holds one slice per *query* head);
- what every attention and FFN block added to the stream: for Gemma 2/3 that is
  the output of the post-attention / post-feedforward norm, whose 1/RMS is frozen
  at its value here so that the heads still split that vector exactly;
- the input and output of the final norm and the input of the unembedding,
  from which the frozen read-out (final norm scale, T5's d^-0.5) is derived.
Post-norm models (BERT, MiniLM, BART) normalise *after* adding, so their
residual does not decompose: the capture says so instead.
Shapes: L layers, H query heads, D model width.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import nn

from models.loading.catalog import DECODER, ENCODER, ENCODER_DECODER

BLOCK_LISTS = ("layers", "layer", "h", "block")
SELF_PATHS = ("self_attn", "attn", "attention", "self_attention", "layer.0.SelfAttention")
CROSS_PATHS = ("encoder_attn", "crossattention", "layer.1.EncDecAttention")
FFN_PATHS = ("mlp", "feed_forward", "ffn", "layer.2.DenseReluDense", "layer.1.DenseReluDense")
OUT_PROJECTIONS = ("o_proj", "c_proj", "dense", "out_proj", "o")
POST_NORM_LAYOUTS = ("self_attn_layer_norm", "attention.output.LayerNorm", "output.LayerNorm")
ADD_UP_TOLERANCE = 1e-3  # relative: beyond this the split is refused rather than shown wrong

OK, POST_NORM, UNSUPPORTED = "ok", "post_norm", "unsupported"


@dataclass(frozen=True)
class LogitParts:
    """The last position's residual stream as a sum of parts, and its frozen read-out.

    logit(t) = Σ_parts (part · r_t) + offset · W_U[t] + bias_U[t], with
    r_t = readout ⊙ W_U[t] (centred over D first when the final norm is a LayerNorm).
    Arrays are None unless `status` is "ok".
    """

    status: str  # ok | post_norm | unsupported
    position: int  # the output position explained (the last one)
    embeddings: np.ndarray | None = None  # [D] the embedding output (token + position)
    attention: np.ndarray | None = None  # [L, D] what each layer's self-attention added
    heads: np.ndarray | None = None  # [L, H, D] per query head; sums over H to `attention`
    ffn: np.ndarray | None = None  # [L, D] what each layer's feed-forward block added
    cross_attention: np.ndarray | None = None  # [L, D] cross-attention (encoder-decoder)
    cross_heads: np.ndarray | None = None  # [L, H, D]
    residual: np.ndarray | None = None  # [D] the model's own final-norm input
    readout: np.ndarray | None = None  # [D] frozen final-norm scale (× output scale)
    offset: np.ndarray | None = None  # [D] final-norm bias (× output scale); zeros for RMSNorm
    centred: bool = False  # final norm subtracts the mean (LayerNorm)
    post_norm_parts: bool = False  # Gemma 2/3: parts are post-norm outputs (1/RMS frozen)
    head_bias_shared: bool = False  # the output projection has a bias, split equally over heads
    max_error: float = 0.0  # relative |Σ parts - residual| / |residual|

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def nbytes(self) -> int:
        arrays = (getattr(self, f.name) for f in fields(self))
        return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))


@dataclass
class _Layer:
    attention: nn.Module
    projection: nn.Module
    added: nn.Module  # the module whose output enters the stream (attention or its post-norm)
    ffn_added: nn.Module
    cross: nn.Module | None = None
    cross_projection: nn.Module | None = None


def _vector(tensor: torch.Tensor) -> torch.Tensor:
    """[B, T, D] (or a tuple starting with it) -> the last position's [D], float32."""
    tensor = tensor[0] if isinstance(tensor, tuple) else tensor
    return tensor[0, -1].detach().to(torch.float32)


def _first(block: nn.Module, paths: tuple[str, ...]) -> nn.Module | None:
    for path in paths:
        try:
            return block.get_submodule(path)
        except AttributeError:
            continue
    return None


def _projection(attention: nn.Module) -> nn.Module | None:
    return next((getattr(attention, n) for n in OUT_PROJECTIONS if hasattr(attention, n)), None)


def _body(loaded) -> nn.Module:
    return loaded.model.get_decoder() if loaded.family == ENCODER_DECODER else loaded.model


def _blocks(body: nn.Module) -> nn.ModuleList | None:
    for name, module in body.named_modules():
        if isinstance(module, nn.ModuleList) and name.rsplit(".", 1)[-1] in BLOCK_LISTS:
            return module
    return None


def _is_post_norm(block: nn.Module, config) -> bool:
    if getattr(config, "normalize_before", False):
        return False
    return any(_first(block, (path,)) is not None for path in POST_NORM_LAYOUTS)


def _layout(loaded) -> tuple[str, list[_Layer]]:
    """(status, layers): which modules to hook in each block of the explained stack."""
    if loaded.family == ENCODER or not loaded.has_lm_head:
        return POST_NORM, []
    blocks = _blocks(_body(loaded))
    if blocks is None or loaded.family not in (DECODER, ENCODER_DECODER):
        return UNSUPPORTED, []
    layers = []
    for block in blocks:
        if _is_post_norm(block, loaded.config):
            return POST_NORM, []
        attention, ffn = _first(block, SELF_PATHS), _first(block, FFN_PATHS)
        projection = _projection(attention) if attention is not None else None
        if ffn is None or projection is None:
            return UNSUPPORTED, []
        gemma = hasattr(block, "post_feedforward_layernorm")
        layer = _Layer(
            attention=attention,
            projection=projection,
            added=block.post_attention_layernorm if gemma else attention,
            ffn_added=block.post_feedforward_layernorm if gemma else ffn,
        )
        if loaded.family == ENCODER_DECODER:
            layer.cross = _first(block, CROSS_PATHS)
            layer.cross_projection = _projection(layer.cross) if layer.cross else None
            if layer.cross_projection is None:
                return UNSUPPORTED, []
        layers.append(layer)
    return OK, layers


def final_norm(loaded) -> nn.Module | None:
    """The norm before the unembedding (model.norm, transformer.ln_f, decoder.final_layer_norm)."""
    from models.lenses.logit_lens import final_norm as lens_final_norm  # imports Analysis

    try:
        return lens_final_norm(loaded.model)
    except ValueError:
        return None


def frozen_norm(norm: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """norm(x) as a linear map frozen at x [D]: (scale [D], offset [D], centred).

    RMSNorm (Llama, Gemma's 1 + w, T5): norm(x) = g ⊙ x / rms(x), with the gain g
    read by feeding the norm a vector of ones. LayerNorm: w ⊙ (x - mean) / std + b.
    """
    x = x.to(torch.float32)
    if isinstance(norm, nn.LayerNorm):
        std = torch.sqrt(x.var(unbiased=False) + norm.eps)
        weight = norm.weight.to(torch.float32) if norm.weight is not None else torch.ones_like(x)
        bias = norm.bias.to(torch.float32) if norm.bias is not None else torch.zeros_like(x)
        return weight / std, bias, True
    eps = float(getattr(norm, "eps", getattr(norm, "variance_epsilon", 1e-6)))
    ones = torch.ones(1, x.shape[-1], dtype=next(norm.parameters()).dtype, device=x.device)
    gain = norm(ones)[0].to(torch.float32) * (1.0 + eps) ** 0.5
    rms = torch.sqrt(x.pow(2).mean() + eps)
    return gain / rms, torch.zeros_like(x), False


def _head_vectors(projection: nn.Module, z: torch.Tensor, n_heads: int) -> tuple:
    """z [H·d] -> (per-head outputs [H, D] with the bias shared equally, has bias)."""
    weight = projection.weight.to(torch.float32)
    if type(projection).__name__ == "Conv1D":  # GPT-2 stores [in, out]
        weight = weight.T
    head_dim = z.shape[0] // n_heads
    per_head = torch.einsum("dhk,hk->hd", weight.view(-1, n_heads, head_dim), z.view(n_heads, -1))
    bias = getattr(projection, "bias", None)
    if bias is not None:
        per_head = per_head + bias.to(torch.float32) / n_heads
    return per_head, bias is not None


def _query_heads(loaded, out) -> int:
    """H: from the attention weights of the pass, else from the config."""
    weights = out.decoder_attentions if loaded.family == ENCODER_DECODER else out.attentions
    if weights and weights[0] is not None:
        return int(weights[0].shape[1])
    config = loaded.config
    return int(getattr(config, "decoder_attention_heads", None) or config.num_attention_heads)


class PartsCapture:
    """Hooks for one forward pass; `finish(out)` turns what they saw into LogitParts.

    Register and run only while holding the model's lock (like every hook here).
    """

    def __init__(self, loaded) -> None:
        self.loaded = loaded
        self.status, self.layers = _layout(loaded)
        self.norm = final_norm(loaded) if self.status == OK else None
        if self.status == OK and self.norm is None:
            self.status = UNSUPPORTED
        self.seen: dict[tuple, torch.Tensor] = {}
        self.hooks: list = []
        if self.status == OK:
            self._register()

    def _keep(self, module: nn.Module, key: tuple, inputs: bool = False) -> None:
        if inputs:  # a pre-hook must return None, or it replaces the module's input

            def pre_hook(_module, args):
                self.seen[key] = _vector(args[0])

            self.hooks.append(module.register_forward_pre_hook(pre_hook))
            return

        def hook(_module, _args, output):
            self.seen[key] = _vector(output)

        self.hooks.append(module.register_forward_hook(hook))

    def _register(self) -> None:
        for n, layer in enumerate(self.layers):
            self._keep(layer.projection, ("z", n), inputs=True)
            self._keep(layer.attention, ("o", n))
            if layer.added is not layer.attention:
                self._keep(layer.added, ("attention", n))
            self._keep(layer.ffn_added, ("ffn", n))
            if layer.cross is not None:
                self._keep(layer.cross_projection, ("cross_z", n), inputs=True)
                self._keep(layer.cross, ("cross", n))
        self._keep(self.norm, ("final_in",), inputs=True)
        self._keep(self.norm, ("final_out",))
        self._keep(self.loaded.model.get_output_embeddings(), ("unembed_in",), inputs=True)

    def remove(self) -> None:
        for hook in self.hooks:
            hook.remove()
        self.hooks = []

    def finish(self, out, embeddings: torch.Tensor | None, position: int) -> LogitParts:
        """LogitParts from the hooks' records, `out` (for the head count) and the
        embedding output at the explained position ([D]); call inside the pass's lock."""
        self.remove()
        if self.status != OK:
            return LogitParts(self.status, position)
        try:
            return self._assemble(out, embeddings, position)
        except (KeyError, IndexError, RuntimeError, ValueError):  # a layout the hooks misread
            return LogitParts(UNSUPPORTED, position)

    def _assemble(self, out, embeddings, position: int) -> LogitParts:
        seen = self.seen
        n_heads = _query_heads(self.loaded, out)
        heads, attention, ffn, cross, cross_heads = [], [], [], [], []
        gemma = any(layer.added is not layer.attention for layer in self.layers)
        has_bias = False
        for n, layer in enumerate(self.layers):
            per_head, bias = _head_vectors(layer.projection, seen[("z", n)], n_heads)
            has_bias |= bias
            added = seen.get(("attention", n), seen[("o", n)])
            if layer.added is not layer.attention:  # post-norm: freeze its 1/RMS
                scale, _, _ = frozen_norm(layer.added, seen[("o", n)])
                per_head = per_head * scale
            heads.append(per_head)
            attention.append(added)
            ffn.append(seen[("ffn", n)])
            if layer.cross is not None:
                cross_per_head, bias = _head_vectors(
                    layer.cross_projection, seen[("cross_z", n)], n_heads
                )
                cross_heads.append(cross_per_head)
                cross.append(seen[("cross", n)])
        residual = seen[("final_in",)]
        scale, offset, centred = frozen_norm(self.norm, residual)
        normed = seen[("final_out",)]
        unembed_in = seen[("unembed_in",)]
        output_scale = float(unembed_in @ normed / (normed @ normed).clamp_min(1e-30))
        parts = [embeddings.to(torch.float32), *attention, *ffn, *cross]
        error = float((torch.stack(parts).sum(0) - residual).norm() / residual.norm())
        centred_residual = residual - residual.mean() if centred else residual
        norm_error = float((scale * centred_residual + offset - normed).norm())
        head_error = max(
            float((h.sum(0) - a).norm() / a.norm().clamp_min(1e-12))
            for h, a in zip(heads + cross_heads, attention + cross, strict=True)
        )
        if max(error, head_error, norm_error / normed.norm()) > ADD_UP_TOLERANCE:
            return LogitParts(UNSUPPORTED, position, max_error=error)

        def stack(vectors):
            return torch.stack(vectors).cpu().numpy() if vectors else None

        return LogitParts(
            status=OK,
            position=position,
            embeddings=embeddings.to(torch.float32).cpu().numpy(),
            attention=stack(attention),
            heads=stack(heads),
            ffn=stack(ffn),
            cross_attention=stack(cross),
            cross_heads=stack(cross_heads),
            residual=residual.cpu().numpy(),
            readout=(scale * output_scale).cpu().numpy(),
            offset=(offset * output_scale).cpu().numpy(),
            centred=centred,
            post_norm_parts=gemma,
            head_bias_shared=has_bias,
            max_error=error,
        )
