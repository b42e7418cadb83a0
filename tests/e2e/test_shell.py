"""The page in Chromium: it loads, analyses the default model, and shows errors as text."""

from __future__ import annotations

import pytest

from tests.conftest import screenshot_dir

pytestmark = pytest.mark.e2e


def test_page_analyses_the_default_model_on_load(page):
    status = page.locator("#status")
    status.get_by_text("forward pass").wait_for(timeout=60_000)
    assert "SmolLM2" in status.inner_text()
    page.screenshot(path=str(screenshot_dir() / "shell-default.png"), full_page=True)


def test_unknown_model_shows_a_message_not_a_trace(page):
    page.locator("#status").get_by_text("forward pass").wait_for(timeout=60_000)
    model_box = page.get_by_label("Model")
    model_box.fill("someone/unknown-model")
    model_box.press("Enter")
    page.locator("#analyze").click()
    toast = page.get_by_text("can't be reached").first
    toast.wait_for(timeout=30_000)
    assert "Traceback" not in page.content()
