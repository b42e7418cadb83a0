"""The Block tab: the model's architecture, one block step by step, the residual stream."""

from components.block.panel import build

__all__ = ["build"]
