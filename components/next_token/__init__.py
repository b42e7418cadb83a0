"""The Next-token tab: logits, softmax, sampling knobs, generation and fill-mask."""

from components.next_token.panel import build

__all__ = ["build"]
