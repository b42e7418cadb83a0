"""The Embeddings tab: token, position and per-layer vectors in a stable 3D space."""

from components.embeddings.panel import build

__all__ = ["build"]
