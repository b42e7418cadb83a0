"""The Tokenization tab in Chromium: Korean on Gemma-3 and on SmolLM2 (byte pieces),
hostile text shown as text, and the tokenizer comparison."""

from __future__ import annotations

import unicodedata

import pytest

from models.loading.catalog import GEMMA3, SMOLLM2
from tests.conftest import screenshot_dir, submit

pytestmark = pytest.mark.e2e
KOREAN = "나는 최근 파리 여행을 다녀왔다"
N_SYLLABLES = sum(1 for ch in KOREAN if unicodedata.name(ch).startswith("HANGUL SYLLABLE"))


def _analyse(page, model: str, text: str, expect: str) -> None:
    submit(page, model, text)
    page.locator("#tok-chips").get_by_text(expect).first.wait_for(timeout=120_000)


def test_korean_on_gemma_shows_whole_syllable_tokens(page):
    _analyse(page, GEMMA3, KOREAN, "여행")
    chips = page.locator("#tok-chips .tok-chip")
    texts = [chips.nth(i).locator(".tok-text").inner_text() for i in range(chips.count())]
    assert texts[0] == "<bos>"
    assert "".join(texts[1:]).replace("·", " ") == KOREAN
    assert page.locator("#tok-chips .tok-group").count() == 0
    assert "\ufffd" not in page.locator("#tok-chips").inner_text()
    stats = page.locator("#tok-stats").inner_text()
    assert "262,144" in stats
    page.get_by_label("한국어").check()
    page.locator("#tok-stats").get_by_text("어휘 사전 크기").wait_for(timeout=60_000)
    page.locator("#tok-show-special").get_by_text("특수 토큰 보이기").wait_for(timeout=30_000)
    page.screenshot(path=str(screenshot_dir() / "tokenization-gemma-ko.png"), full_page=True)


def test_korean_on_smollm2_groups_byte_pieces_under_each_syllable(page):
    _analyse(page, SMOLLM2, KOREAN, "왔")
    groups = page.locator("#tok-chips .tok-group")
    assert groups.count() == N_SYLLABLES
    first_title = groups.first.get_attribute("title")
    assert "3 bytes" in first_title and "3 tokens" in first_title
    assert groups.first.locator(".tok-group-text").inner_text() == "나"
    shown = page.locator("#tok-chips").inner_text()
    assert "\ufffd" not in shown
    assert "EB" in shown  # the first byte of 나 (EB 82 98), drawn as hex, not as a broken glyph
    assert f"{N_SYLLABLES} times" in page.locator("#tok-split").inner_text()
    page.screenshot(path=str(screenshot_dir() / "tokenization-smollm2-en.png"), full_page=True)


def test_hostile_text_is_shown_as_text(page):
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    hostile = '<img src=x onerror="alert(1)"> <script>alert(2)</script>'
    _analyse(page, SMOLLM2, hostile, "img")
    chips = page.locator("#tok-chips")
    assert chips.locator("img").count() == 0
    assert chips.locator("script").count() == 0
    pieces = chips.locator(".tok-text").all_inner_texts()
    assert "".join(pieces).replace("·", " ") == hostile
    page.wait_for_timeout(500)
    assert alerts == []


def test_comparison_shows_bundled_tokenizers_and_baselines(page):
    page.locator("#status").get_by_text("forward pass").wait_for(timeout=90_000)
    page.locator("#text textarea").fill(KOREAN)
    assert page.locator("#tok-compare-table").count() == 0  # no empty table before comparing
    page.locator("#tok-compare").click()
    rows = page.locator("#tok-compare-chips .tok-row")
    rows.nth(5).wait_for(timeout=120_000)
    labels = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert any(SMOLLM2 in label for label in labels)
    assert any(GEMMA3 in label for label in labels)
    assert sum("baseline" in label for label in labels) == 3
    table = page.locator("#tok-compare-table").inner_text()
    assert "262144" in table.replace(",", "")
    page.locator("#tok-compare-chips").screenshot(
        path=str(screenshot_dir() / "tokenization-compare-en.png")
    )


def test_compare_tokenizers_api_matches_the_tokenizers(client):
    from transformers import AutoTokenizer

    from models.loading import bundled

    result = client.predict(KOREAN, [GEMMA3, "baseline:jamo"], api_name="/compare_tokenizers")
    gemma, jamo = result["results"]
    reference = AutoTokenizer.from_pretrained(bundled.prepared_path(GEMMA3))
    expected = reference(KOREAN, add_special_tokens=False)["input_ids"]
    assert [tok["id"] for tok in gemma["tokens"]] == expected
    assert gemma["count"] == len(expected) and gemma["vocab_size"] == len(reference)
    assert jamo["count"] == len(unicodedata.normalize("NFD", KOREAN))
    assert jamo["oov"] == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [(("   ", [SMOLLM2]), "empty"), ((KOREAN, ["someone/unknown-model"]), "can't be reached")],
)
def test_compare_tokenizers_api_errors_are_readable(client, args, words):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=words):
        client.predict(*args, api_name="/compare_tokenizers")
