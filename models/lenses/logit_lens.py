"""Logit lens: what the model would predict if it stopped after each layer.

The hidden state of the last position after layer l goes through the model's
own final norm and unembedding, exactly as the last layer's output does. In
transformers the last entry of `hidden_states` is already normed (the final
norm runs before it is recorded), so it goes straight to the unembedding and
reproduces the model's logits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from models.analysis import Analysis
from models.device import gpu_task, to_model, to_numpy
from models.errors import AnatomyError
from models.loading.catalog import DECODER
from models.loading.load import load_model

# where decoder families keep their final norm, on the base model
NORM_NAMES = ("norm", "ln_f", "final_layer_norm", "final_layernorm", "final_norm")
LENS_TOP = 5


@dataclass(frozen=True)
class LensRow:
    """The top predictions after one layer (layer 0 = the embedding output)."""

    layer: int
    top_ids: tuple[int, ...]  # LENS_TOP ids, most likely first
    top_probs: tuple[float, ...]


def final_norm(model: torch.nn.Module) -> torch.nn.Module:
    """The norm a decoder applies before its unembedding (model.norm, transformer.ln_f ...)."""
    base = model.base_model
    for owner in (base, getattr(base, "decoder", None)):
        for name in NORM_NAMES:
            module = getattr(owner, name, None) if owner is not None else None
            if isinstance(module, torch.nn.Module):
                return module
    raise AnatomyError(
        f"The final norm of '{type(model).__name__}' was not found; no logit lens for it.",
        key="error.no_lens",
    )


def _unembed(model: torch.nn.Module, normed: torch.Tensor) -> torch.Tensor:
    logits = model.get_output_embeddings()(normed)
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits.to(torch.float32)


@gpu_task
def lens_logits(analysis: Analysis) -> np.ndarray:
    """[L+1, V] float32 logits read from each layer's hidden state at the last position."""
    if analysis.family != DECODER or not analysis.has_lm_head:
        raise AnatomyError(
            "The logit lens is shown for decoder language models.", key="error.lens_decoder"
        )
    loaded = load_model(analysis.model_id)
    states = np.ascontiguousarray(analysis.hidden_states[:, -1, :])  # [L+1, D]
    states = to_model(states, loaded.model)
    with loaded.lock, torch.inference_mode():
        norm = final_norm(loaded.model)
        earlier = norm(states[:-1])
        logits = _unembed(loaded.model, torch.cat([earlier, states[-1:]], dim=0))
    return to_numpy(logits)


def _rows(logits: np.ndarray) -> tuple[LensRow, ...]:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=-1, keepdims=True)
    top = np.argsort(-logits, axis=-1, kind="stable")[:, :LENS_TOP]
    return tuple(
        LensRow(layer, tuple(int(i) for i in ids), tuple(float(probs[layer, i]) for i in ids))
        for layer, ids in enumerate(top)
    )


_CACHE: OrderedDict[tuple, tuple[LensRow, ...]] = OrderedDict()
_LOCK = threading.Lock()


def logit_lens(analysis: Analysis) -> tuple[LensRow, ...]:
    """The top predictions after every layer for the token after the text (cached)."""
    key = (analysis.model_id, analysis.text, analysis.text_pair)
    with _LOCK:
        if key in _CACHE and len(_CACHE[key]) == analysis.n_layers + 1:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    rows = _rows(lens_logits(analysis))
    with _LOCK:
        _CACHE[key] = rows
        while len(_CACHE) > 32:
            _CACHE.popitem(last=False)
    return rows
