"""Injection payloads in the text and model fields never run script or load anything.

Every request of the page (all frames, the bertviz iframe included) is recorded:
only the app's own origin may be reached, and no payload may open a dialog.
The payloads are shown as text: the token table must contain them literally.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.conftest import screenshot_dir

pytestmark = pytest.mark.e2e
EVIL = "evil.example"
TEXT_PAYLOAD = (
    '<img src=x onerror=alert(1)> <script>alert(2)</script> "><svg onload=alert(3)> '
    f"<img src=https://{EVIL}/t.png> ![m](https://{EVIL}/m.png) "
    f"<iframe src=https://{EVIL}/f></iframe> [j](javascript:alert(4)) {{{{7*7}}}} $x$"
)
MODEL_PAYLOADS = [
    "<img src=x onerror=alert(5)>",
    f"/<img src=https://{EVIL}/p.png onerror=alert(6)>",
    f"**x** ![i](https://{EVIL}/md.png)",
    "<script>alert(7)</script>",
]
TABS = ("1 · Tokenization", "2 · Embeddings", "3 · Attention", "4 · Block", "5 · Next token")


@pytest.fixture
def watched(browser, app_url):
    """A page whose dialogs and foreign requests are recorded from the first request on."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    origin = urlparse(app_url).netloc
    seen = {"dialogs": [], "foreign": [], "requests": 0}

    def route(request_route):
        url = request_route.request.url
        seen["requests"] += 1
        if (
            urlparse(url).scheme in ("http", "https", "ws", "wss")
            and urlparse(url).netloc != origin
        ):
            seen["foreign"].append(url)
            request_route.abort()
        else:
            request_route.continue_()

    context.route("**/*", route)
    page = context.new_page()
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    page.goto(app_url)
    page.locator("#status").get_by_text("forward pass").wait_for(timeout=120_000)
    yield page, seen
    context.close()


def analyse(page, text: str) -> None:
    """Analyse `text` and wait until its tokens (not the previous text's) are drawn."""
    box = page.locator("#text textarea")
    box.fill(text)
    page.locator("#analyze").click()
    page.locator("#tok-chips").get_by_text("alert").first.wait_for(timeout=180_000)


def test_text_payloads_stay_text_in_every_panel(watched):
    page, seen = watched
    analyse(page, TEXT_PAYLOAD)
    for tab in TABS:
        page.get_by_role("tab", name=tab).click(timeout=120_000)
        page.wait_for_timeout(2500)
    page.get_by_role("tab", name=TABS[0]).click()
    page.wait_for_timeout(1500)
    # The tokens were drawn (as text) and none of the payload became an element.
    chips = page.locator("#tok-chips")
    for piece in ("img", "script", "error", "svg", "rame"):
        assert chips.get_by_text(piece, exact=False).count() > 0, piece
    assert page.locator("img[src='x'], svg[onload], img[onerror]").count() == 0
    assert page.locator("script", has_text="alert(2)").count() == 0
    page.screenshot(path=str(screenshot_dir() / "injection-text-en.png"), full_page=True)
    page.get_by_text("한국어").click()
    page.wait_for_timeout(2000)
    page.screenshot(path=str(screenshot_dir() / "injection-text-ko.png"), full_page=True)
    assert seen["dialogs"] == []
    assert seen["foreign"] == []
    assert seen["requests"] > 5  # the recorder did see the page's own traffic
    assert page.locator(f"img[src*='{EVIL}'], iframe[src*='{EVIL}']").count() == 0


def test_bertviz_frame_is_sandboxed_and_payload_tokens_run_nothing(watched):
    page, seen = watched
    analyse(page, "<img src=x onerror=alert(8)> hello")
    page.get_by_role("tab", name=TABS[2]).click()
    page.get_by_text("bertviz", exact=True).click(timeout=90_000)
    page.get_by_role("button", name="Draw bertviz").click()
    frame = page.frame_locator("iframe.bertviz-frame")
    frame.locator("svg line, svg path").first.wait_for(state="attached", timeout=90_000)
    sandbox = page.locator("iframe.bertviz-frame").get_attribute("sandbox") or ""
    assert "allow-scripts" in sandbox and "allow-same-origin" not in sandbox
    assert frame.locator("img").count() == 0  # the token became text, not an element
    page.wait_for_timeout(1500)
    assert seen["dialogs"] == []
    assert seen["foreign"] == []


def test_model_field_payloads_give_a_message_and_run_nothing(watched):
    page, seen = watched
    model_box = page.get_by_label("Model")
    for payload in MODEL_PAYLOADS:
        model_box.fill(payload)
        model_box.press("Enter")
        page.locator("#analyze").click()
        page.get_by_text("not a valid model id").or_(page.get_by_text("is outside")).first.wait_for(
            timeout=30_000
        )
        page.wait_for_timeout(800)
    page.screenshot(path=str(screenshot_dir() / "injection-model-en.png"), full_page=True)
    assert "Traceback" not in page.content()
    assert page.locator(f"img[src*='{EVIL}']").count() == 0
    assert page.locator("img[src='x']").count() == 0
    assert seen["dialogs"] == []
    assert seen["foreign"] == []
