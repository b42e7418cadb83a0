"""The app as a process, for the performance table (benchmarks/run.py).

Cold starts of `python app.py` to the first served page, the first analysis,
resident memory idle / with all bundled models / at its peak, throughput and p95
latency with 4 and 16 gradio_client sessions, and control change to view in Chromium
(browser_bench.py) on an app process of its own.
"""

from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
from app_process import Peak, start_app, stop_app

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models.loading.catalog import BUNDLED, DEFAULT_MODEL  # noqa: E402

DEFAULT_TEXT = "The capital of France is"


def cold_starts(times: int) -> list[float]:
    """Seconds from `python app.py` to the first served page, `times` fresh processes."""
    seconds = []
    for _ in range(times):
        process, _url, took = start_app()
        stop_app(process)
        seconds.append(took)
    return seconds


def app_process_numbers(per_client: int, starts: int) -> dict:
    from gradio_client import Client

    start_runs = cold_starts(starts - 1)
    process, url, took = start_app()
    start_runs.append(took)
    idle_rss = psutil.Process(process.pid).memory_info().rss
    peak = Peak(process.pid)
    peak.start()
    try:
        client = Client(url, verbose=False, httpx_kwargs={"timeout": 600})
        first = time.perf_counter()
        client.predict(DEFAULT_MODEL, DEFAULT_TEXT, 0, 0, api_name="/attention")
        first_s = time.perf_counter() - first
        for entry in BUNDLED:
            client.predict(entry.id, "All bundled models at once.", 0, 0, api_name="/attention")
        loaded_rss = psutil.Process(process.pid).memory_info().rss
        load = {n: throughput(url, n, per_client) for n in (4, 16)}
        return {
            "start_s": statistics.median(start_runs),
            "start_range": (min(start_runs), max(start_runs)),
            "first_s": first_s,
            "idle_rss": idle_rss,
            "loaded_rss": loaded_rss,
            "peak_rss": peak.peak,
            "throughput": load,
        }
    finally:
        peak.stop.set()
        stop_app(process)


def browser_numbers(clicks: int) -> list[dict]:
    """Control change to view on screen in Chromium (browser_bench.py), own app process."""
    import browser_bench

    process, url, _ = start_app()
    try:
        return browser_bench.measure(url, clicks)
    finally:
        stop_app(process)


def throughput(url: str, clients: int, per_client: int) -> dict:
    """Analyses per second and p95 latency: every request is a new text (a real pass)."""
    from gradio_client import Client

    def session(index: int) -> list[float]:
        client = Client(url, verbose=False, httpx_kwargs={"timeout": 600})
        latencies = []
        for j in range(per_client):
            text = f"Client {clients}-{index} asks question {j}: what comes after {index * j}?"
            begin = time.perf_counter()
            client.predict(DEFAULT_MODEL, text, 0, 0, api_name="/attention")
            latencies.append(time.perf_counter() - begin)
        return latencies

    begin = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = [t for part in pool.map(session, range(clients)) for t in part]
    elapsed = time.perf_counter() - begin
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    return {"per_s": len(latencies) / elapsed, "p95_s": p95, "n": len(latencies)}
