"""bertviz, offline: no CDN, vendored JS inlined, JSON once and rounded, caps, escaping, size."""

from __future__ import annotations

import hashlib
import html
import json
import re

import numpy as np
import pytest

from components.attention import bertviz as bv
from models.analysis import analyze
from models.loading.catalog import MINILM, SMOLLM2
from models.loading.load import load_model

SENTENCE = "The quick brown fox jumps over the lazy dog."
NASTY = 'x </script><script>alert("hi")</script> <b>bold</b> & 한국어'


def _params(document: str) -> dict:
    """The params object bertviz's script is given (parsed independently of our code)."""
    start = document.index("const params = ") + len("const params = ")
    end = document.index(";\n", start)
    return json.loads(document[start:end])


def _document(analysis, view, first_layer=0):
    caps = bv.view_caps(analysis, view, first_layer)
    return bv.offline_document(bv.bertviz_html(analysis, view, caps)), caps


@pytest.fixture(scope="module")
def smol_short():
    return analyze(load_model(SMOLLM2), SENTENCE)


@pytest.fixture(scope="module")
def long_text():
    return " ".join(f"word{i}" for i in range(150))


def test_document_needs_no_network(smol_short):
    document, _ = _document(smol_short, bv.HEAD_VIEW)
    sources = re.findall(r"<script[^>]*\bsrc=", document)
    assert sources == []
    bertviz_part = document.split(bv.AMD_SHIM)[1]
    assert "cdnjs" not in document and "require.config" not in bertviz_part
    assert "https://" not in document.split("<script>/* d3")[0]
    for relative in bv.VENDOR_SCRIPTS:
        assert (bv.VENDOR / relative).read_text(encoding="utf-8") in document


def test_vendored_files_match_their_readme_and_have_licences():
    readme = (bv.VENDOR / "README.md").read_text(encoding="utf-8")
    for relative in bv.VENDOR_SCRIPTS:
        digest = hashlib.sha256((bv.VENDOR / relative).read_bytes()).hexdigest()
        assert f"{digest}  {relative}" in readme
        folder = (bv.VENDOR / relative).parent
        assert any(p.name.startswith("LICENSE") for p in folder.iterdir())
    assert "v5.7.0" in (bv.VENDOR / "d3/d3.min.js").read_text()[:100]
    assert "jQuery v2.2.4" in (bv.VENDOR / "jquery/jquery.min.js").read_text()[:200]
    assert "RequireJS 2.3.6" in (bv.VENDOR / "requirejs/require.js").read_text()[:300]


@pytest.mark.parametrize("view", [bv.HEAD_VIEW, bv.MODEL_VIEW])
def test_json_appears_once_with_weights_rounded_to_three_decimals(smol_short, view):
    document, caps = _document(smol_short, view)
    assert "template marker" not in document and "PYTHON_PARAMS" not in document
    assert document.count('"attention": [') == 1
    params = _params(document)
    attn = np.array(params["attention"][0]["attn"])
    t = caps.n_tokens
    expected = np.round(smol_short.attentions[list(caps.layers), :, :t, :t].astype(np.float64), 3)
    np.testing.assert_array_equal(attn, expected)
    numbers = re.findall(r"\d+\.\d+", document[document.index("const params") :][:200_000])
    assert numbers and max(len(n.split(".")[1]) for n in numbers) <= 3


def test_long_text_is_capped_and_says_so(long_text):
    analysis = analyze(load_model(SMOLLM2), long_text)
    assert analysis.n_tokens > bv.MAX_TOKENS[bv.HEAD_VIEW]
    caps = bv.view_caps(analysis, bv.HEAD_VIEW, first_layer=10)
    assert caps.n_tokens == bv.MAX_TOKENS[bv.HEAD_VIEW] and caps.tokens_cut
    assert caps.layers[0] == 10 and caps.layers_cut
    assert analysis.n_heads * caps.n_tokens**2 * len(caps.layers) <= bv.MAX_WEIGHTS
    params = _params(bv.offline_document(bv.bertviz_html(analysis, bv.HEAD_VIEW, caps)))
    assert len(params["attention"][0]["left_text"]) == caps.n_tokens
    assert params["include_layers"] == list(caps.layers)
    note_en = bv.cap_note(analysis, caps, "en")
    note_ko = bv.cap_note(analysis, caps, "ko")
    assert str(analysis.n_tokens) in note_en and "heatmaps" in note_en
    assert str(analysis.n_tokens) in note_ko and "히트맵" in note_ko
    model_caps = bv.view_caps(analysis, bv.MODEL_VIEW)
    assert model_caps.n_tokens == bv.MAX_TOKENS[bv.MODEL_VIEW]
    assert len(model_caps.layers) <= bv.MAX_LAYERS[bv.MODEL_VIEW]


def test_short_text_is_not_capped(tiny):
    analysis = analyze(load_model(tiny["tiny-bert"]), SENTENCE)
    caps = bv.view_caps(analysis, bv.HEAD_VIEW)
    assert caps.n_tokens == analysis.n_tokens and not caps.tokens_cut
    assert caps.layers == tuple(range(analysis.n_layers)) and not caps.layers_cut


def test_token_text_cannot_break_out_of_script_or_iframe(tiny):
    analysis = analyze(load_model(tiny["tiny-gpt2"]), NASTY)
    document, _ = _document(analysis, bv.HEAD_VIEW)
    body = document.split(bv.AMD_SHIM)[1]
    assert body.count("<script") == 1 and body.count("</script>") == 2  # shim's, then bertviz's
    tokens = _params(document)["attention"][0]["left_text"]
    assert any("<" in tok for tok in tokens)  # the JSON still decodes to the real token text
    frame = bv.iframe(document, 400, 'a "title" <x>')
    assert frame.count("<") == 2 and frame.count(">") == 2  # only the iframe's own tags
    assert 'sandbox="allow-scripts"' in frame and "allow-same-origin" not in frame
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame).group(1)
    assert html.unescape(srcdoc) == document


def test_encoder_decoder_gets_encoder_decoder_and_cross_attention(tiny):
    analysis = analyze(load_model(tiny["tiny-bart"]), SENTENCE, "Hello there")
    document, caps = _document(analysis, bv.HEAD_VIEW)
    parts = _params(document)["attention"]
    assert [p["name"] for p in parts] == ["Encoder", "Decoder", "Cross"]
    cross = np.array(parts[2]["attn"])
    assert cross.shape[2:] == (caps.n_decoder_tokens, caps.n_tokens)


@pytest.mark.parametrize("model_id", [SMOLLM2, MINILM])
def test_documents_stay_under_2_mb_at_512_tokens(model_id):
    loaded = load_model(model_id)
    words = " ".join(f"w{i}" for i in range(600))
    ids = loaded.tokenizer(words)["input_ids"][:500]
    text = loaded.tokenizer.decode(ids, skip_special_tokens=True)
    analysis = analyze(loaded, text)
    assert analysis.n_tokens > 400
    for view in (bv.HEAD_VIEW, bv.MODEL_VIEW):
        caps = bv.view_caps(analysis, view)
        frame = bv.iframe(bv.offline_document(bv.bertviz_html(analysis, view, caps)), 600, "x")
        assert len(frame.encode("utf-8")) < 2_000_000
