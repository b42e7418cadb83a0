"""The Tokenization tab: tokens, ids, offsets, byte pieces and comparisons."""

from components.tokenization.panel import build

__all__ = ["build"]
