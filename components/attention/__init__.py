"""The Attention tab: every head of every layer, the overview, Q·K step by step, bertviz."""

from components.attention.panel import build

__all__ = ["build"]
