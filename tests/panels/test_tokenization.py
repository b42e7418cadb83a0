"""Tokenization panel: ids, offsets, bytes and grouping checked against transformers itself.

Tokenizers only (no forward pass) except where the panel's Analysis is compared.
"""

from __future__ import annotations

import json
import unicodedata
from html.parser import HTMLParser

import pytest
from transformers import AutoTokenizer

from components.tokenization import compare as tokenization_compare
from components.tokenization import panel as tokenization
from components.tokenization.chips import chips_html, chips_of_tokens, split_characters
from components.tokenization.tables import (
    detail_rows,
    highlighted_segments,
    is_whole_word,
    model_inputs_json,
    statistics_markdown,
)
from models.lenses.tokenizer_compare import (
    TOKENIZERS,
    compare_tokenizers,
    decode_round_trip,
    tokenize_text,
    tokenizer_facts,
)
from models.loading import bundled
from models.loading.catalog import GEMMA3, MINILM, SMOLLM2
from models.results import AnalysisKey, get_analysis
from models.tokens import covered_text, group_by_character, tokenizer_kind

TEXTS = {
    "english": "The capital of France is Paris.",
    "korean": "나는 최근 파리 여행을 다녀왔다",
    "japanese": "東京は日本の首都です。",
    "emoji_zwj": "family 👨‍👩‍👧 and flag 🇰🇷 ok",
    "accents": "café naïve e\u0301 Ångström",
    "rtl": "שלום עולם مرحبا بالعالم",
    "whitespace": "a\tb\n\nc   d ",
    "long": ("한국어와 English 텍스트가 섞인 문장입니다. 😀 " * 120)[:5000],
}
BUNDLED_IDS = (SMOLLM2, GEMMA3, MINILM)
TINY_NAMES = ("tiny-bert", "tiny-gpt2", "tiny-llama-gqa", "tiny-bart")


@pytest.fixture(scope="module")
def reference_tokenizers(tiny) -> dict[str, object]:
    """Tokenizers loaded here, independently of the code under test."""
    paths = {m: str(bundled.prepared_path(m)) for m in BUNDLED_IDS}
    paths.update({tiny[name]: tiny[name] for name in TINY_NAMES})
    return {model_id: AutoTokenizer.from_pretrained(path) for model_id, path in paths.items()}


def _model_ids(tiny) -> list[str]:
    return list(BUNDLED_IDS) + [tiny[name] for name in TINY_NAMES]


@pytest.fixture(scope="module", params=BUNDLED_IDS + TINY_NAMES)
def model_id(request, tiny) -> str:
    return request.param if request.param in BUNDLED_IDS else tiny[request.param]


def _lossless(tokenizer) -> bool:
    return not tokenizer_kind(tokenizer).normalization or tokenizer_kind(
        tokenizer
    ).normalization == ("space_marker",)


@pytest.mark.parametrize("name", list(TEXTS))
def test_ids_offsets_and_bytes_match_the_tokenizer(model_id, reference_tokenizers, name):
    text = TEXTS[name]
    reference = reference_tokenizers[model_id]
    encoded = tokenize_text(model_id, text)
    assert encoded.input_ids.tolist() == reference(text)["input_ids"]
    tokens = encoded.tokens
    assert all(t.text == text[t.start : t.end] for t in tokens if not t.special)
    specials = set(reference.all_special_ids) - {reference.unk_token_id}  # [UNK] replaces text
    assert [t.id for t in tokens if t.special] == [
        i for i in reference(text)["input_ids"] if i in specials
    ]
    if _lossless(reference):
        assert covered_text(tokens, text) == text
        joined = b"".join(bytes(t.byte_values) for t in tokens if not t.special)
        assert joined == text.encode("utf-8")
    else:  # uncased WordPiece: only whitespace and accents may be left out
        left_out = _left_out(tokens, text)
        assert all(ch.isspace() or unicodedata.category(ch) == "Mn" for ch in left_out)
        assert {"lowercase", "strip_accents"} <= set(tokenizer_kind(reference).normalization)


def _left_out(tokens, text) -> str:
    covered = [False] * len(text)
    for tok in tokens:
        if not tok.special:
            covered[tok.start : tok.end] = [True] * (tok.end - tok.start)
    return "".join(ch for ch, c in zip(text, covered, strict=True) if not c)


@pytest.mark.parametrize("name", ["korean", "emoji_zwj", "accents", "japanese", "rtl"])
def test_groups_hold_whole_characters_and_their_exact_bytes(model_id, reference_tokenizers, name):
    text = TEXTS[name]
    encoded = tokenize_text(model_id, text)
    tokens = encoded.tokens
    byte_level = tokenizer_kind(reference_tokenizers[model_id]).byte_level
    for group in group_by_character(tokens, (text,)):
        shared = text[group.start : group.end]
        assert "\ufffd" not in shared
        if group.special or not shared:
            continue
        # a group never starts or ends inside a user-perceived character
        assert unicodedata.category(shared[0]) not in ("Mn", "Me")
        if byte_level:
            joined = b"".join(bytes(tokens[i].byte_values) for i in group.indices)
            assert joined == shared.encode("utf-8")


def test_byte_level_korean_groups_say_three_bytes_three_tokens():
    text = TEXTS["korean"]
    encoded = tokenize_text(SMOLLM2, text)
    chips = chips_of_tokens(encoded.tokens, None)
    splits = split_characters(chips, (text,))
    syllables = [s.strip() for s, _, _ in splits]
    assert syllables[:2] == ["나", "는"]
    assert all(b == len(s.encode("utf-8")) for s, b, _ in splits)
    assert splits[0][1:] == (3, 3)
    html = chips_html(chips, (text,), "en")
    assert "\ufffd" not in html and "나" in html


HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "\" onmouseover='alert(1)' x=\"",
    "${alert(1)} {{constructor}}",
]


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: set[str] = set()
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs |= {name for name, _ in attrs}

    def handle_data(self, data):
        self.text += data


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("model", [SMOLLM2, MINILM])
def test_token_text_is_always_escaped(text, model):
    encoded = tokenize_text(model, text)
    facts = tokenizer_facts(model)
    html = chips_html(chips_of_tokens(encoded.tokens, facts.unk_id), encoded.texts, "en")
    parser = _Tags()
    parser.feed(html)
    assert parser.tags <= {"div", "span"}
    assert parser.attrs <= {"class", "style", "title", "data-index", "dir"}
    assert "script" not in parser.tags and "img" not in parser.tags
    shown = parser.text.replace("·", " ")
    assert "<" in shown or "$" in shown or '"' in shown


def test_comparison_html_escapes_too():
    segs = compare_tokenizers(HOSTILE[1], [SMOLLM2, "baseline:word", "baseline:char"])
    parser = _Tags()
    parser.feed(tokenization_compare.comparison_html(segs, HOSTILE[1], "ko"))
    assert parser.tags <= {"div", "span", "small"}


def test_statistics_agree_with_a_direct_count(reference_tokenizers):
    text = "나는 최근 파리 여행을 다녀왔다"
    reference = reference_tokenizers[MINILM]
    ids = reference(text)["input_ids"]
    encoded = tokenize_text(MINILM, text)
    facts = tokenizer_facts(MINILM)
    chips = chips_of_tokens(encoded.tokens, facts.unk_id)
    table = statistics_markdown(chips, (text,), facts.vocab_size, "WordPiece", (), "en")
    values = dict(row.strip("|").split(" | ") for row in table.splitlines()[2:])
    values = {k.strip(): v.strip() for k, v in values.items()}
    assert values["tokens given to the model"] == str(len(ids))
    assert values["[UNK] / out-of-vocabulary tokens"] == str(ids.count(reference.unk_token_id))
    assert values["vocabulary size"] == f"{len(reference):,}"
    assert values["words (split at spaces)"] == "5"
    n_text = len(ids) - 2
    assert values["characters per token"] == f"{len(text) / n_text:.2f}"


def test_sentence_pair_gives_bert_its_segment_ids(reference_tokenizers):
    reference = reference_tokenizers[MINILM]
    text, pair = "The cat sat.", "It was tired."
    expected = reference(text, pair)
    encoded = tokenize_text(MINILM, text, pair)
    shown = json.loads(
        model_inputs_json(encoded.input_ids, encoded.attention_mask, encoded.token_type_ids)
    )
    assert shown["input_ids"] == expected["input_ids"]
    assert shown["token_type_ids"] == expected["token_type_ids"]
    assert set(shown["token_type_ids"]) == {0, 1}
    frame = detail_rows(chips_of_tokens(encoded.tokens, None), "en")
    assert list(frame["sentence"]) == ["AB"[i] for i in expected["token_type_ids"]]
    assert list(frame["id"]) == expected["input_ids"]


def test_decode_round_trip_with_and_without_special_tokens(reference_tokenizers):
    text = "The capital of France is Paris."
    reference = reference_tokenizers[MINILM]
    ids = reference(text)["input_ids"]
    with_special, without = decode_round_trip(MINILM, ids)
    assert with_special == reference.decode(ids)
    assert without == reference.decode(ids, skip_special_tokens=True)
    assert "[CLS]" in with_special and "[CLS]" not in without


def test_hiding_special_tokens_removes_them_from_every_view():
    text = "The cat sat."
    encoded = tokenize_text(MINILM, text)
    chips = chips_of_tokens(encoded.tokens, None)
    assert "[CLS]" in chips_html(chips, (text,), "en", show_special=True)
    assert "[CLS]" not in chips_html(chips, (text,), "en", show_special=False)
    assert len(detail_rows(chips, "en", show_special=False)) == len(chips) - 2
    plain = "".join(s for s, _ in highlighted_segments(chips, (text,), "en", show_special=False))
    assert plain == text


@pytest.mark.parametrize("model", BUNDLED_IDS)
def test_highlighted_text_reproduces_the_input(model):
    text = TEXTS["whitespace"] + TEXTS["korean"]
    encoded = tokenize_text(model, text)
    chips = chips_of_tokens(encoded.tokens, tokenizer_facts(model).unk_id)
    segments = highlighted_segments(chips, (text,), "ko", show_special=False)
    assert "".join(s for s, _ in segments) == text


@pytest.mark.parametrize("model", BUNDLED_IDS)
def test_comparison_uses_the_same_ids_as_the_tokenizer(model, reference_tokenizers):
    text = TEXTS["korean"]
    (seg,) = compare_tokenizers(text, [model])
    expected = reference_tokenizers[model](text, add_special_tokens=False)["input_ids"]
    assert [p.id for p in seg.pieces] == expected
    assert seg.vocab_size == len(reference_tokenizers[model])
    unk = reference_tokenizers[model].unk_token_id
    assert seg.oov_count == expected.count(unk)


def test_default_comparison_covers_bundled_tokenizers_and_three_baselines():
    names = [seg.name for seg in compare_tokenizers(TEXTS["korean"])]
    assert set(BUNDLED_IDS) <= set(names)
    assert names[-3:] == ["baseline:word", "baseline:char", "baseline:jamo"]


def test_tokenizer_cache_loads_once_and_stays_bounded(tiny):
    before = TOKENIZERS.loads
    first = tokenize_text(tiny["tiny-gpt2"], "hello")
    second = tokenize_text(tiny["tiny-gpt2"], "hello again")
    assert TOKENIZERS.loads - before <= 1
    assert first.input_ids[0] == second.input_ids[0]
    assert len(TOKENIZERS._items) <= TOKENIZERS.limit


@pytest.mark.parametrize("name", ["tiny-bert", "tiny-gpt2", "tiny-bart"])
def test_panel_renders_the_analysis_token_ids(tiny, reference_tokenizers, name):
    path = tiny[name]
    text = "나는 최근 파리 여행을 다녀왔다"
    pair = "second sentence" if name == "tiny-bert" else ""
    analysis = get_analysis(path, text, pair)
    reference = reference_tokenizers[path]
    expected = (
        reference(text, pair or None)["input_ids"]
        if name != "tiny-bart"
        else reference(text)["input_ids"]
    )
    assert analysis.input_ids.tolist() == expected
    views = tokenization.render_panel([path, text, pair], "en", True)
    chips_view, _, _, _, details, inputs, decoded, plain, _ = views
    assert list(details["id"]) == expected
    assert json.loads(inputs)["input_ids"] == expected
    assert decoded == reference.decode(expected)
    assert plain == reference.decode(expected, skip_special_tokens=True)
    assert "\ufffd" not in chips_view


def test_tokenize_api_keeps_the_design_json_shape(tiny):
    result = tokenization.tokenize(tiny["tiny-bert"], "Hello world")
    assert set(result) == {"model", "family", "tokens", "count"}
    assert result["family"] == "encoder"
    assert result["count"] == len(result["tokens"])
    assert all(set(tok) == {"id", "text", "start", "end", "special"} for tok in result["tokens"])


@pytest.mark.parametrize(
    ("span", "whole"),
    [
        ("나는", True),
        (" 여행을", True),
        (" 여행", False),
        ("을", False),
        ("Paris", True),
        (".", True),
    ],
)
def test_whole_words_are_read_from_the_text(span, whole):
    text = "나는 여행을 Paris."
    start = text.index(span) if span != "을" else text.index("을")
    assert is_whole_word(text, start, start + len(span)) is whole


def test_gemma_highlight_labels_whole_words_and_subwords():
    text = "나는 최근 파리 여행을 다녀왔다"
    encoded = tokenize_text(GEMMA3, text)
    chips = chips_of_tokens(encoded.tokens, None)
    labels = dict(highlighted_segments(chips, (text,), "en", show_special=False))
    assert labels["나는"] == "whole word"
    assert labels[" 여행"] == "subword" and labels["을"] == "subword"


@pytest.mark.parametrize("name", [SMOLLM2, GEMMA3, "baseline:char", "baseline:jamo"])
def test_whitespace_is_drawn_visibly(name):
    text = "가 b\tc\nd"
    (seg,) = compare_tokenizers(text, [name])
    html = tokenization_compare.comparison_html([seg], text, "en")
    for mark in ("·", "→", "↵"):
        assert f'<span class="tok-ws">{mark}</span>' in html


def _chip_texts(html: str) -> list[str]:
    """The visible text of every chip, in order."""

    class Chips(HTMLParser):
        def __init__(self):
            super().__init__()
            self.texts: list[str] = []
            self.depth = 0  # open tags inside the current chip text

        def handle_starttag(self, tag, attrs):
            if self.depth:
                self.depth += 1
            elif ("class", "tok-text") in attrs:
                self.depth = 1
                self.texts.append("")

        def handle_endtag(self, tag):
            self.depth = max(0, self.depth - 1)

        def handle_data(self, data):
            if self.depth:
                self.texts[-1] += data

    parser = Chips()
    parser.feed(html)
    return parser.texts


def test_an_uncased_model_chips_show_its_own_lowercased_pieces(reference_tokenizers):
    text = "The Café is OPEN"
    reference = reference_tokenizers[MINILM]
    pieces = reference.convert_ids_to_tokens(reference(text, add_special_tokens=False).input_ids)
    chips = chips_of_tokens(tokenize_text(MINILM, text).tokens, None)
    html = chips_html(chips, (text,), "en", show_special=False)
    assert _chip_texts(html) == [p.removeprefix("##") for p in pieces]
    assert "The" not in _chip_texts(html) and "lowercases" in html
    assert list(detail_rows(chips, "en", show_special=False)["text"])[0] == "The"
    (seg,) = compare_tokenizers(text, [MINILM])
    row = tokenization_compare.comparison_html([seg], text, "en")
    assert _chip_texts(row) == [p.removeprefix("##") for p in pieces]


@pytest.mark.parametrize("model", [SMOLLM2, GEMMA3])
def test_a_cased_model_chips_show_the_text_itself(model):
    text = "The Café is OPEN"
    chips = chips_of_tokens(tokenize_text(model, text).tokens, None)
    html = chips_html(chips, (text,), "en", show_special=False)
    assert "The" in {c.strip("·") for c in _chip_texts(html)}
    assert not any(chip.folded for chip in chips) and "lowercases" not in html


def test_wordpiece_jamo_are_called_pieces_and_byte_tokens_bytes():
    text = "배가 아파서"
    minilm = chips_of_tokens(tokenize_text(MINILM, text).tokens, None)
    labels = {label for _, label in highlighted_segments(minilm, (text,), "en", False) if label}
    assert labels == {"pieces of one character (jamo)"}
    smol = chips_of_tokens(tokenize_text(SMOLLM2, text).tokens, None)
    labels = {label for _, label in highlighted_segments(smol, (text,), "en", False) if label}
    assert "bytes of one character" in labels and "pieces of one character (jamo)" not in labels


def test_counts_of_one_read_in_the_singular():
    (seg,) = compare_tokenizers("Hi", [SMOLLM2])
    assert seg.count == 1
    row = tokenization_compare.comparison_html([seg], "Hi", "en")
    assert "1 token ·" in row and "1 tokens" not in row
    assert "토큰 1개" in tokenization_compare.comparison_html([seg], "Hi", "ko")


def test_hiding_special_tokens_says_so_when_the_model_adds_none(reference_tokenizers):
    text = "The cat sat."
    assert not any(
        reference_tokenizers[SMOLLM2](text, return_special_tokens_mask=True)["special_tokens_mask"]
    )
    key = list(AnalysisKey.of(SMOLLM2, text))
    hidden = tokenization.render_panel(key, "en", False)[0]
    assert "adds no special tokens" in hidden
    assert "adds no special tokens" not in tokenization.render_panel(key, "en", True)[0]
    assert "특수 토큰" in tokenization.render_panel(key, "ko", False)[0]
    with_specials = tokenization.render_panel(list(AnalysisKey.of(MINILM, text)), "en", False)[0]
    assert "adds no special tokens" not in with_specials
