"""A classroom at once: 16 concurrent gradio_client sessions on two bundled models.

The app runs in its own process with a small analysis-cache bound, so the
sessions produce several times more analyses than the cache may hold. Checks:
zero errors, every session gets the tokens of its own text, the process memory
stays under the bound (idle process + model weights + analysis cache + slack),
and each model is loaded once although all sessions ask for it at the same time.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psutil
import pytest

from app import READY
from models.loading import bundled
from models.loading.catalog import MINILM, SMOLLM2
from tests.conftest import launched_app

pytestmark = pytest.mark.api
SESSIONS = 16
ANALYSIS_BOUND = 64 * 1024**2
SLACK = 450 * 1024**2  # interpreter arenas, torch scratch of four concurrent passes
DESIGN_BUDGET = 2.5 * 1024**3
# Runs app.py unchanged, printing one line per model load (the test counts them).
COUNTING_LAUNCHER = """
import runpy
import models.loading.load as loading
real = loading._load_uncached
def counted(model_id, progress):
    print("MODEL-LOAD", model_id, flush=True)
    return real(model_id, progress)
loading._load_uncached = counted
runpy.run_path("app.py", run_name="__main__")
"""
TOPICS = ["rivers", "volcanoes", "music", "chess", "bread", "planets", "robots", "poems"]


@pytest.fixture(scope="module")
def bounded_app(tmp_path_factory):
    """(url, pid, log path) of an app whose analysis cache holds at most 64 MB."""
    log = tmp_path_factory.mktemp("load") / "app.log"
    env = {
        **os.environ,
        "ANATOMY_MAX_ANALYSES": "12",
        "ANATOMY_MAX_ANALYSIS_BYTES": str(ANALYSIS_BOUND),
    }
    with launched_app([sys.executable, "-c", COUNTING_LAUNCHER], env, log) as (url, process):
        wait_for_line(log, READY)  # the process at rest: its start-up imports done
        yield url, process.pid, log


def wait_for_line(log: Path, line: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while line not in log.read_text():
        assert time.monotonic() < deadline, f"the app never printed {line!r}"
        time.sleep(0.1)


def weight_bytes(model_id: str) -> int:
    folder = Path(bundled.prepared_path(model_id))
    return sum(f.stat().st_size for f in folder.glob("*.safetensors"))


def session_texts(index: int) -> list[str]:
    topic = TOPICS[index % len(TOPICS)]
    return [
        f"Student {index} in row {index % 4} writes {index * 37} words about {topic} today, "
        f"and every sentence about {topic} is a little longer than the one before it.",
        f"Session {index}: why do {topic} matter to {index + 3} curious learners?",
    ]


class MemoryWatch(threading.Thread):
    """Samples the RSS of one process until stopped; keeps the peak."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.1)


def check_own_tokens(model: str, text: str, tokens: list[str]) -> None:
    """The response is about THIS session's text (not a neighbour's)."""
    if model == MINILM:  # WordPiece: specials around, spaces dropped, case kept by offsets
        assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
        assert "".join(tokens[1:-1]) == text.replace(" ", "")
    else:
        assert "".join(tokens) == text


def one_session(url: str, index: int) -> list[str]:
    """Analyse two texts on two models and re-slice; returns problems found."""
    from gradio_client import Client

    client = Client(url, verbose=False, httpx_kwargs={"timeout": 600})
    problems = []
    for text in session_texts(index):
        for model in (SMOLLM2, MINILM):
            first = client.predict(model, text, 0, 0, api_name="/attention")
            check_own_tokens(model, text, first["tokens"])
            for layer, head in ((1, -1), (first["n_layers"] - 1, first["n_heads"] - 1)):
                again = client.predict(model, text, layer, head, api_name="/attention")
                weights = np.array(again["weights"])
                if again["tokens"] != first["tokens"] or again["layer"] != layer:
                    problems.append(f"session {index}: re-slice answered another input")
                if not np.allclose(weights.sum(1), 1.0, atol=1e-3):
                    problems.append(f"session {index}: rows do not sum to 1")
            if model == SMOLLM2:
                nxt = client.predict(model, text, 1.0, 5, 1.0, api_name="/next_token")
                if len(nxt["candidates"]) < 5:
                    problems.append(f"session {index}: too few candidates")
            tokenized = client.predict(model, text, api_name="/tokenize")
            for token in tokenized["tokens"]:
                if not token["special"] and token["text"] != text[token["start"] : token["end"]]:
                    problems.append(f"session {index}: offsets point outside its own text")
    return problems


def test_sixteen_sessions_at_once_get_their_own_results_within_the_memory_bound(bounded_app):
    url, pid, log = bounded_app
    idle_rss = psutil.Process(pid).memory_info().rss
    watch = MemoryWatch(pid)
    watch.start()
    with ThreadPoolExecutor(SESSIONS) as pool:
        futures = [pool.submit(one_session, url, i) for i in range(SESSIONS)]
        outcomes = []
        for future in futures:
            try:
                outcomes.extend(future.result(timeout=900))
            except Exception as exc:  # noqa: BLE001 - every error counts as a failure
                outcomes.append(f"{type(exc).__name__}: {exc}")
    watch.stop.set()
    watch.join()
    assert outcomes == []

    loads = [line.split()[1] for line in log.read_text().splitlines() if "MODEL-LOAD" in line]
    assert sorted(loads) == sorted([SMOLLM2, MINILM]), loads

    bound = idle_rss + weight_bytes(SMOLLM2) + weight_bytes(MINILM) + ANALYSIS_BOUND + SLACK
    assert watch.peak < bound, f"peak {watch.peak / 2**20:.0f} MB over {bound / 2**20:.0f} MB"
    assert watch.peak < DESIGN_BUDGET
