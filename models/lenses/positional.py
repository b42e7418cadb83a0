"""Where position comes from: learned tables, the sinusoidal formula, rotary frequencies.

- Learned absolute positions (BERT, GPT-2, BART): a [P, D] table added to the
  token embeddings before block 1.
- Sinusoidal ("Attention Is All You Need", section 3.5):
  PE[pos, 2i] = sin(pos / 10000^(2i/D)), PE[pos, 2i+1] = cos(pos / 10000^(2i/D)).
- Rotary (Llama, SmolLM2, Gemma): nothing is added; inside attention each pair
  of query/key dimensions i is rotated by the angle pos * theta^(-2i/head_dim).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.analysis import position_embedding_module
from models.device import to_numpy
from models.loading.load import load_model


def sinusoidal_table(n_positions: int, width: int, base: float = 10000.0) -> np.ndarray:
    """[P, D] the fixed sinusoidal encoding; even columns sin, odd columns cos."""
    positions = np.arange(n_positions, dtype=np.float64)[:, None]
    pair = np.arange(0, width, 2, dtype=np.float64)
    angles = positions / base ** (pair / width)  # [P, ceil(D/2)]
    table = np.zeros((n_positions, width))
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : width // 2])
    return table


def learned_position_table(model_id: str, n_positions: int) -> np.ndarray | None:
    """[P, D] the first P rows of the model's learned position table, or None (rotary)."""
    module = position_embedding_module(load_model(model_id).model)
    if module is None:
        return None
    weight = to_numpy(module.weight)
    return weight[: min(n_positions, len(weight))].astype(np.float64)


@dataclass(frozen=True)
class Rotary:
    """Rotary settings read from the model's config."""

    kind: str  # "default", or the attention kind ("sliding_attention" ...) for Gemma
    theta: float  # base of the frequencies
    head_dim: int
    frequencies: np.ndarray  # [head_dim / 2] radians per position, pair 0 fastest

    @property
    def wavelengths(self) -> np.ndarray:
        """[head_dim / 2] positions one full turn takes for each pair."""
        return 2 * np.pi / self.frequencies


def rotary_frequencies(theta: float, head_dim: int) -> np.ndarray:
    """[head_dim / 2] theta^(-2i/head_dim) for i = 0 .. head_dim/2 - 1."""
    return theta ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)


def _text_config(config):
    return getattr(config, "text_config", None) or config


def rotary_settings(model_id: str) -> list[Rotary]:
    """The model's rotary frequencies, one entry per kind of attention ([] if none)."""
    config = _text_config(load_model(model_id).config)
    if position_embedding_module(load_model(model_id).model) is not None:
        return []
    params = getattr(config, "rope_parameters", None) or {}
    if "rope_theta" in params:
        params = {"default": params}
    legacy = getattr(config, "rope_theta", None)
    if not params and legacy:
        params = {"default": {"rope_theta": legacy}}
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return [
        Rotary(
            kind,
            float(p["rope_theta"]),
            int(head_dim),
            rotary_frequencies(float(p["rope_theta"]), int(head_dim)),
        )
        for kind, p in params.items()
        if isinstance(p, dict) and "rope_theta" in p
    ]
