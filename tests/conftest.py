"""Shared fixtures: tiny local models, the bundled models, a launched app, Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TINY_ROOT = Path(os.environ.get("ANATOMY_TEST_MODELS", REPO / ".cache" / "test-models"))
os.environ["ANATOMY_LOCAL_MODELS"] = str(TINY_ROOT)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(REPO))

from models.loading.catalog import GEMMA3, MINILM, SMOLLM2  # noqa: E402
from tests import tiny_models  # noqa: E402

BUNDLED_IDS = (SMOLLM2, GEMMA3, MINILM)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def tiny() -> dict[str, str]:
    """name -> folder of each tiny model (built once, under the allowed local root)."""
    marker = TINY_ROOT / ".built-v1"
    if not marker.exists():
        tiny_models.build_all(TINY_ROOT)
        marker.write_text("ok\n")
    tiny_models.build_missing(TINY_ROOT)  # models added since the marker was written
    return {name: str(TINY_ROOT / name) for name in tiny_models.BUILDERS}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, seconds: float = 240) -> str:
    """The page at `url` once the app serves it; fails if the app exits or stays silent."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode("utf-8", "replace")
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"the app did not answer at {url} within {seconds} s")


@contextmanager
def launched_app(
    command: list[str], env: dict[str, str], log: Path, cwd: Path = REPO
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run an app `command` on a free port, output to `log`; yields (url, process) once
    it serves its page, and stops it afterwards."""
    port = _free_port()
    env = {**env, "GRADIO_SERVER_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for(url, process)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def app_url(tiny, tmp_path_factory) -> Iterator[str]:
    """A launched `python app.py` on a free port (tiny models allowed as local folders)."""
    log = tmp_path_factory.mktemp("app") / "app.log"
    with launched_app([sys.executable, "app.py"], dict(os.environ), log) as (url, _process):
        yield url


def submit(page, model: str, text: str) -> None:
    """Once the page's first analysis is done, type `model` and `text` and press Analyze.
    The caller waits for something only this input draws (the status line may be stale)."""
    page.locator("#status").get_by_text("forward pass").wait_for(timeout=90_000)
    model_box = page.get_by_label("Model")
    model_box.fill(model)
    model_box.press("Enter")
    page.locator("#text textarea").fill(text)
    page.locator("#analyze").click()


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium through Playwright. Required in CI; skipped only outside it."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests, but /usr/bin/chromium is missing")
        pytest.skip("Debian chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(app_url)
    yield page
    context.close()


def screenshot_dir() -> Path:
    folder = REPO / "artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
