"""Start and stop `python app.py` on a free port, and watch its resident memory.

Shared by app_bench.py (the app as a process) and browser_bench.py (on screen).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Peak(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process, self.peak, self.stop = psutil.Process(pid), 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)


def start_app() -> tuple[subprocess.Popen, str, float]:
    """Launch `python app.py`; (process, url, seconds until the page is served)."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port)}
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return process, url, time.perf_counter() - started
        except OSError:
            if process.poll() is not None or time.perf_counter() - started > 180:
                process.kill()
                raise RuntimeError("the app did not start") from None
            time.sleep(0.05)


def stop_app(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=20)
