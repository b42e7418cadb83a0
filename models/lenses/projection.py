"""Stable 3D spaces for embeddings, fitted once and reused (like LIT's projections).

A space is fitted once per (model, representation, method) on a BACKGROUND: a
sample of common, word-like vocabulary tokens. The sentence's vectors are then
placed into that space with the fitted transform, so the same token id lands
on the same point in every sentence and the faint cloud around it has meaning.

Representations: "token" (the input-embedding lookup, no position), "input"
(what enters block 1: token + position where the model adds positions), and
"1".."L" (the hidden state after block l). For "input" and the layers the
background is each sample word passed alone through the model
(`models.lenses.background`). Points are projections of unit-length vectors, so the
picture agrees with cosine similarity. Shapes: N background tokens, T tokens,
D model width.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from models.lenses.background import background_ids, context_free_states, token_vectors

SEED = 0
METHODS = ("pca", "umap", "tsne")
TOKEN = "token"
INPUT = "input"
PATHS = "paths"  # every layer pooled: the one space trajectories are drawn in (PCA only)
TSNE_BACKGROUND = 400  # t-SNE refits with every sentence: keep it small
PATH_WORDS = 150  # words per layer pooled for the trajectory space
MAX_SPACES = 48


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """[N, D] -> [N, D] rows scaled to length 1 (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class Space:
    """A fitted 3D projection and the background points it was fitted on."""

    method: str
    representation: str
    background_ids: np.ndarray  # [N] vocabulary ids of the background tokens
    background_points: np.ndarray  # [N, 3]
    mean: np.ndarray | None = None  # [D] (PCA)
    components: np.ndarray | None = None  # [3, D] (PCA)
    reducer: object | None = None  # fitted umap.UMAP
    layer_means: np.ndarray | None = None  # [L+1, D] (paths: the average sample word per layer)

    def place(self, vectors: np.ndarray) -> np.ndarray:
        """[T, D] -> [T, 3] with the fitted transform (exact for PCA)."""
        directions = unit_rows(np.atleast_2d(vectors))
        if self.method == "pca":  # (x - mean) C^T, without a [T, D] temporary
            projected = directions @ self.components.T.astype(np.float32)
            return projected - self.mean @ self.components.T
        return np.asarray(self.reducer.transform(directions), dtype=np.float64)

    def place_path(self, states: np.ndarray) -> np.ndarray:
        """[L+1, D] one token's states at every layer -> [L+1, 3], each layer's
        direction taken relative to the average sample word at that layer."""
        relative = unit_rows(states) - self.layer_means
        return (relative - self.mean) @ self.components.T


def fit_pca(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[N, D] -> (mean [D], components [3, D]); signs fixed so fits are reproducible.

    The top eigenvectors of the D x D covariance: the same axes as an SVD of the
    centred data, and several times faster on a busy CPU.
    """
    data = vectors.astype(np.float64)
    mean = data.mean(axis=0)
    centred = data - mean
    _, eigenvectors = np.linalg.eigh(centred.T @ centred)
    components = eigenvectors[:, ::-1][:, :3].T.copy()  # [3, D], largest variance first
    for row in components:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    return mean, components


def fit_umap(vectors: np.ndarray):
    import umap  # imported late: numba compiles on first use

    reducer = umap.UMAP(n_components=3, n_neighbors=15, min_dist=0.3, random_state=SEED)
    with warnings.catch_warnings():  # "n_jobs overridden by random_state": seeding is the point
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        return reducer.fit(vectors)


def tsne_embed(vectors: np.ndarray) -> np.ndarray:
    """[N, D] -> [N, 3] t-SNE, seeded (there is no transform: refit for every input)."""
    from sklearn.manifold import TSNE

    perplexity = float(min(30, max(2, (len(vectors) - 1) // 3)))
    tsne = TSNE(n_components=3, perplexity=perplexity, init="pca", random_state=SEED)
    return tsne.fit_transform(vectors.astype(np.float64))


def background_vectors(model_id: str, representation: str) -> tuple[np.ndarray, np.ndarray]:
    """(ids [N], vectors [N, D]) of the background for one representation."""
    ids = background_ids(model_id)
    if representation == TOKEN:
        return ids, token_vectors(model_id, ids)
    states, ids = context_free_states(model_id)
    if representation == INPUT:
        return ids, states[0]
    layer = int(representation)
    if not 1 <= layer < len(states):
        raise ValueError(f"layer {layer} is outside 1..{len(states) - 1}")
    return ids, states[layer]


def _fit_paths(model_id: str) -> Space:
    """One PCA space for every layer, on directions relative to each layer's average word:
    without that, the drift all tokens share from layer to layer hides what differs."""
    states, ids = context_free_states(model_id)
    per_layer = unit_rows(states[:, :PATH_WORDS])  # [L+1, N, D]
    layer_means = per_layer.mean(axis=1)  # [L+1, D]
    relative = (per_layer - layer_means[:, None]).reshape(-1, states.shape[-1])
    ids = np.tile(ids[:PATH_WORDS], len(states))
    mean, components = fit_pca(relative)
    points = (relative - mean) @ components.T
    return Space("pca", PATHS, ids, points, mean, components, layer_means=layer_means)


def _fit(model_id: str, representation: str, method: str) -> Space:
    if representation == PATHS:
        return _fit_paths(model_id)
    ids, vectors = background_vectors(model_id, representation)
    directions = unit_rows(vectors)
    if method == "pca":
        mean, components = fit_pca(directions)
        points = (directions - mean) @ components.T
        return Space(method, representation, ids, points, mean, components)
    if method == "umap":
        reducer = fit_umap(directions)
        points = np.asarray(reducer.embedding_, dtype=np.float64)
        return Space(method, representation, ids, points, reducer=reducer)
    raise ValueError(f"method must be pca or umap for a reusable space, not {method!r}")


class SpaceCache:
    """Fitted spaces, bounded, least recently used out; one fit per key at a time.

    `prefetch` fits in a single background worker, so the request that needs a
    space later finds it ready (fitting stays off the request path after the
    first time).
    """

    def __init__(self, fit: Callable[[str, str, str], Space], limit: int = MAX_SPACES) -> None:
        self._fit = fit
        self._limit = limit
        self._items: OrderedDict[tuple, Space] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple, threading.Lock] = {}
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="projection-fit")
        self.fits = 0  # how many fits actually ran (tests read it)

    def get(self, model_id: str, representation: str, method: str = "pca") -> Space:
        key = (model_id, representation, method)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            space = self._fit(*key)
            with self._lock:
                self.fits += 1
                self._items[key] = space
                while len(self._items) > self._limit:
                    self._items.popitem(last=False)
            return space

    def ready(self, model_id: str, representation: str, method: str = "pca") -> bool:
        with self._lock:
            return (model_id, representation, method) in self._items

    def prefetch(self, model_id: str, representations: list[str], method: str = "pca") -> Future:
        """Fit these spaces in the background worker; returns its Future."""

        def run() -> None:
            for representation in representations:
                self.get(model_id, representation, method)

        return self._worker.submit(run)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


SPACES = SpaceCache(_fit)
_TSNE_CACHE: OrderedDict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()
_TSNE_LOCK = threading.Lock()


def space(model_id: str, representation: str, method: str = "pca") -> Space:
    """The cached fitted space (fitted now on first use)."""
    return SPACES.get(model_id, representation, method)


def tsne_with_background(
    model_id: str, representation: str, vectors: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """t-SNE of background + tokens together -> (ids [N], background [N, 3], tokens [T, 3])."""
    key = (model_id, representation, vectors.shape, hash(vectors.tobytes()))
    with _TSNE_LOCK:
        if key in _TSNE_CACHE:
            return _TSNE_CACHE[key]
    ids, background = background_vectors(model_id, representation)
    ids, background = ids[:TSNE_BACKGROUND], background[:TSNE_BACKGROUND]
    joint = tsne_embed(unit_rows(np.concatenate([background, vectors])))
    result = (ids, joint[: len(ids)], joint[len(ids) :])
    with _TSNE_LOCK:
        _TSNE_CACHE[key] = result
        while len(_TSNE_CACHE) > 8:
            _TSNE_CACHE.popitem(last=False)
    return result


def project(
    model_id: str, representation: str, method: str, vectors: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sentence vectors [T, D] in the model's space -> (bg ids [N], bg [N, 3], points [T, 3])."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if method == "tsne":
        return tsne_with_background(model_id, representation, vectors)
    fitted = space(model_id, representation, method)
    return fitted.background_ids, fitted.background_points, fitted.place(vectors)
