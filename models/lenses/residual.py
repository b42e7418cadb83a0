"""The residual stream, recorded inside the one forward pass.

Forward hooks on every block keep, per token, the norm of what attention, the
cross-attention (decoder of an encoder-decoder) and the FFN add to the stream,
and the last block's output itself (transformers 5 puts the final norm's output
in `hidden_states[-1]` for Llama and Gemma, so the raw output of the last block
is not there). That is [L, S, T] floats and one [T, D] array per stack: small
next to the [L+1, T, D] hidden states the pass keeps anyway.

This module imports no Analysis: models.analysis calls it.
"""

from __future__ import annotations

import numpy as np
import torch

from models.loading.layout import ModelLayout, StackLayout, layout_or_none

ATTENTION, CROSS, FFN = "attention", "cross", "ffn"


def kinds_of(stack: StackLayout) -> tuple[str, ...]:
    """The sub-layers that add to the stream, in order: attention, (cross,) ffn."""
    return (ATTENTION, CROSS, FFN) if stack.block.cross is not None else (ATTENTION, FFN)


def _first(output) -> torch.Tensor:
    return output[0] if isinstance(output, (tuple, list)) else output


class StreamRecorder:
    """Hooks registered on construction, removed by `remove()`; `fields()` gives the
    Analysis fields (numpy) once the pass has run. A model whose layout is unknown
    gets no hooks and no fields."""

    def __init__(self, loaded) -> None:
        self.layout: ModelLayout | None = layout_or_none(loaded)
        self._norms: dict[tuple[str, int, str], torch.Tensor] = {}
        self._last: dict[str, torch.Tensor] = {}
        self._handles = []
        if self.layout is None:
            return
        model = loaded.model
        sides = [("encoder", self.layout.stack)]
        if self.layout.decoder is not None:
            sides.append(("decoder", self.layout.decoder))
        for side, stack in sides:
            blocks = model.get_submodule(stack.blocks)
            parts = stack.block
            paths = {ATTENTION: parts.attention.contribution, FFN: parts.ffn.contribution}
            if parts.cross is not None:
                paths[CROSS] = parts.cross.contribution
            for index, block in enumerate(blocks):
                for kind, path in paths.items():
                    module = block.get_submodule(path)
                    self._handles.append(
                        module.register_forward_hook(self._norm(side, index, kind))
                    )
            self._handles.append(blocks[-1].register_forward_hook(self._output(side)))

    def _norm(self, side: str, index: int, kind: str):
        def hook(_module, _inputs, output):
            vectors = _first(output)[0].to(torch.float32)  # [T, D]
            self._norms.setdefault((side, index, kind), torch.linalg.vector_norm(vectors, dim=-1))

        return hook

    def _output(self, side: str):
        def hook(_module, _inputs, output):
            self._last.setdefault(side, _first(output)[0].detach().to(torch.float32).clone())

        return hook

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _side(self, side: str, stack: StackLayout) -> tuple[np.ndarray, np.ndarray] | None:
        kinds = kinds_of(stack)
        keys = [(side, i, k) for i in range(stack.n_layers) for k in kinds]
        if side not in self._last or any(key not in self._norms for key in keys):
            return None
        norms = torch.stack([self._norms[key] for key in keys])  # [L·S, T]
        norms = norms.reshape(stack.n_layers, len(kinds), -1)
        return norms.cpu().numpy(), self._last[side].cpu().numpy()

    def fields(self) -> dict:
        """{contribution_norms [L, S, T], last_block_output [T, D], and the decoder's}."""
        if self.layout is None:
            return {}
        out = {}
        encoder = self._side("encoder", self.layout.stack)
        if encoder is not None:
            out["contribution_norms"], out["last_block_output"] = encoder
        if self.layout.decoder is not None:
            decoder = self._side("decoder", self.layout.decoder)
            if decoder is not None:
                names = ("decoder_contribution_norms", "decoder_last_block_output")
                out.update(zip(names, decoder, strict=True))
        return out
