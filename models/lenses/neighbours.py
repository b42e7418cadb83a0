"""Cosine neighbours: which vocabulary tokens point the same way as a vector.

Input view: the query against the whole input-embedding matrix [V, D].
Contextual view: a hidden state after block l against the background words,
each read alone, at the same layer (`models.lenses.background.context_free_states`),
so both sides live in the same space.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from models.lenses.background import context_free_states, embedding_matrix, word_text


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    """[T, D] -> [T, T] cosine similarity of every pair of rows (diagonal 1)."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    unit = vectors / np.maximum(norms, 1e-12)
    return np.clip(unit @ unit.T, -1.0, 1.0)


def top_cosine(
    query: np.ndarray, matrix: np.ndarray, k: int, row_norms: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(rows [k], cosines [k]) of the k rows of matrix [N, D] closest in angle to query [D]."""
    if row_norms is None:
        row_norms = np.linalg.norm(matrix, axis=-1)
    scores = (matrix @ query) / (np.maximum(row_norms, 1e-12) * max(np.linalg.norm(query), 1e-12))
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    order = top[np.lexsort((top, -scores[top]))]  # best first, ties by lower id
    return order, scores[order]


@lru_cache(maxsize=4)
def _vocabulary_norms(model_id: str) -> np.ndarray:
    return np.linalg.norm(embedding_matrix(model_id), axis=-1)


def vocabulary_neighbours(model_id: str, vector: np.ndarray, k: int = 10) -> list[dict]:
    """[D] input-embedding vector -> the k nearest vocabulary tokens by cosine."""
    matrix = embedding_matrix(model_id)
    rows, scores = top_cosine(vector.astype(np.float32), matrix, k, _vocabulary_norms(model_id))
    return [
        {"id": int(i), "text": word_text(model_id, int(i)), "cosine": float(s)}
        for i, s in zip(rows, scores, strict=True)
    ]


def contextual_neighbours(model_id: str, layer: int, vector: np.ndarray, k: int = 10) -> list:
    """[D] hidden state after block `layer` -> nearest background words at that layer."""
    states, ids = context_free_states(model_id)
    rows, scores = top_cosine(vector.astype(np.float32), states[layer], k)
    return [
        {"id": int(ids[r]), "text": word_text(model_id, int(ids[r])), "cosine": float(s)}
        for r, s in zip(rows, scores, strict=True)
    ]
