"""The server-side result cache: (model, text, pair) -> Analysis, bounded.

Sessions keep only the key; the arrays live here once, however many sessions
look at them. Concurrent requests for the same key wait for one forward pass.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

from models.analysis import Analysis, analyze
from models.device import gpu_task
from models.loading.load import Progress, load_model
from models.settings import settings


class AnalysisKey(NamedTuple):
    model_id: str
    text: str
    text_pair: str

    @classmethod
    def of(cls, model_id: str, text: str, text_pair: str | None = None) -> AnalysisKey:
        return cls((model_id or "").strip(), text or "", text_pair or "")


class AnalysisCache:
    """Analyses bounded by count and by bytes, least recently used evicted first."""

    def __init__(self) -> None:
        self._items: OrderedDict[AnalysisKey, Analysis] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[AnalysisKey, threading.Lock] = {}
        self.forward_passes = 0  # how many analyses actually ran (tests read it)

    def get(self, key: AnalysisKey, progress: Progress | None = None) -> Analysis:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        try:
            with key_lock:
                with self._lock:
                    if key in self._items:
                        return self._items[key]
                load_model(key.model_id, progress)  # here, so a ZeroGPU worker inherits it
                if progress:
                    progress("running the model")
                result = run_analysis(key.model_id, key.text, key.text_pair or None)
                with self._lock:
                    self.forward_passes += 1
                    self._items[key] = result
                    self._evict()
                return result
        finally:
            with self._lock:
                self._key_locks.pop(key, None)

    def peek(self, key: AnalysisKey) -> Analysis | None:
        with self._lock:
            return self._items.get(key)

    def _evict(self) -> None:
        limits = settings()
        while len(self._items) > 1 and (
            len(self._items) > limits.max_analyses
            or sum(a.nbytes for a in self._items.values()) > limits.max_analysis_bytes
        ):
            self._items.popitem(last=False)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(a.nbytes for a in self._items.values())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@gpu_task
def run_analysis(model_id: str, text: str, text_pair: str | None = None) -> Analysis:
    """The forward pass behind a cache miss: `analyze` on the loaded `model_id`.

    Plain arguments in, an Analysis (numpy on the CPU) out, so that on ZeroGPU it
    runs under `spaces.GPU` (see models.device).
    """
    return analyze(load_model(model_id), text, text_pair)


RESULTS = AnalysisCache()


def get_analysis(
    model_id: str, text: str, text_pair: str | None = None, progress: Progress | None = None
) -> Analysis:
    """The cached Analysis for this input, computed by one forward pass on first use."""
    return RESULTS.get(AnalysisKey.of(model_id, text, text_pair), progress)
