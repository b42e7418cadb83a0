"""Tables and text of the Tokenization panel: details rows, model inputs, statistics.

Pure functions over chips (see tokenization_render.Chip) and plain arrays.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd

from components.page.i18n import t
from components.tokenization.chips import Chip, hex_bytes, is_byte_piece, plain_whitespace
from models.tokens import group_by_character

CATEGORIES = ("word", "subword", "bytes", "pieces", "unknown", "special")
CATEGORY_COLOURS = {
    "word": "#56B4E9",
    "subword": "#E69F00",
    "bytes": "#CC79A7",
    "pieces": "#009E73",
    "unknown": "#D55E00",
    "special": "#999999",
}


def detail_rows(chips: list[Chip], lang: str, show_special: bool = True) -> pd.DataFrame:
    """One row per token: position, text (whitespace visible), piece, id, bytes,
    offsets, special and sentence (A/B)."""
    columns = [t(f"tok.col.{name}", lang) for name in _DETAIL_COLUMNS]
    rows = [
        [
            chip.index,
            chip.piece
            if chip.special
            else plain_whitespace(chip.text if chip.folded else chip.shown or chip.text),
            chip.piece,
            chip.id,
            hex_bytes(chip.byte_values),
            chip.start,
            chip.end,
            "✓" if chip.special else "",
            "AB"[chip.sentence] if chip.sentence in (0, 1) else str(chip.sentence),
        ]
        for chip in chips
        if show_special or not chip.special
    ]
    return pd.DataFrame(rows, columns=columns)


_DETAIL_COLUMNS = (
    "index",
    "text",
    "piece",
    "id",
    "bytes",
    "start",
    "end",
    "special",
    "sentence",
)


def model_inputs_json(
    input_ids: Sequence[int],
    attention_mask: Sequence[int],
    token_type_ids: Sequence[int] | None,
    sentence_ids: Sequence[int] | None = None,
) -> str:
    """What `tokenizer(text)` hands the model, one key per line (as JSON).

    `sentence_ids` (A=0 / B=1 per token) are added only when the tokenizer
    makes no token_type_ids but there are two sentences; the model never sees them.
    """
    fields = {
        "input_ids": list(map(int, input_ids)),
        "attention_mask": list(map(int, attention_mask)),
    }
    if token_type_ids is not None:
        fields["token_type_ids"] = list(map(int, token_type_ids))
    elif sentence_ids is not None and len(set(sentence_ids)) > 1:
        fields["sequence_ids (not an input of this model)"] = list(map(int, sentence_ids))
    lines = [f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in fields.items()]
    return "{\n" + ",\n".join(lines) + "\n}"


def round_trip_note(decoded_plain: str, text: str, normalization: Sequence[str], lang: str) -> str:
    """Does decode(ids, skip_special_tokens=True) give the input back? Say why not."""
    if decoded_plain == text:
        return t("tok.decode.same", lang)
    if decoded_plain.strip() == text.strip():
        return t("tok.decode.same_but_spaces", lang)
    named = ", ".join(t(f"tok.norm.{n}", lang) for n in normalization) or t("tok.norm.none", lang)
    return t("tok.decode.differs", lang, normalization=named)


def count_words(text: str) -> int:
    return len(text.split())


def statistics_markdown(
    chips: list[Chip],
    texts: Sequence[str],
    vocab_size: int,
    algorithm: str,
    normalization: Sequence[str],
    lang: str,
) -> str:
    """Token count, characters per token, tokens per word, [UNK] count, vocabulary size."""
    text_tokens = [c for c in chips if not c.special]
    n_chars = sum(len(text) for text in texts)
    n_words = sum(count_words(text) for text in texts)
    n_tokens = len(text_tokens)
    named = ", ".join(t(f"tok.norm.{n}", lang) for n in normalization) or t("tok.norm.none", lang)
    rows = [
        ("tok.stat.tokens", f"{len(chips)}"),
        ("tok.stat.text_tokens", f"{n_tokens}"),
        ("tok.stat.chars", f"{n_chars}"),
        ("tok.stat.chars_per_token", f"{n_chars / n_tokens:.2f}" if n_tokens else "—"),
        ("tok.stat.words", f"{n_words}"),
        ("tok.stat.tokens_per_word", f"{n_tokens / n_words:.2f}" if n_words else "—"),
        ("tok.stat.unknown", f"{sum(1 for c in chips if c.unknown)}"),
        ("tok.stat.vocab", f"{vocab_size:,}"),
        ("tok.stat.algorithm", algorithm),
        ("tok.stat.normalization", named),
    ]
    header = f"| {t('tok.stat.measure', lang)} | {t('tok.stat.value', lang)} |\n|---|---|\n"
    return header + "\n".join(f"| {t(key, lang)} | {value} |" for key, value in rows)


def is_whole_word(text: str, start: int, end: int) -> bool:
    """Does text[start:end] (leading/trailing spaces aside) begin and end at word
    boundaries? Letters and digits of any script continue a word; punctuation,
    spaces and the text's ends break it. Read from the text itself, because some
    tokenizers (Gemma) report the whole input as one word."""
    end = min(end, len(text))
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start == end:
        return True
    joined_left = start > 0 and text[start - 1].isalnum() and text[start].isalnum()
    joined_right = end < len(text) and text[end - 1].isalnum() and text[end].isalnum()
    return not joined_left and not joined_right


def _category(group_chips: list[Chip], text: str) -> str:
    first = group_chips[0]
    if first.special:
        return "special"
    if any(c.unknown for c in group_chips):
        return "unknown"
    if len(group_chips) > 1:
        return "bytes" if any(is_byte_piece(c) for c in group_chips) else "pieces"
    return "word" if is_whole_word(text, first.start, first.end) else "subword"


def highlighted_segments(
    chips: list[Chip], texts: Sequence[str], lang: str, show_special: bool = True
) -> list[tuple[str, str | None]]:
    """The input cut at token boundaries, each span labelled word / subword /
    shared bytes / unknown / special, for gr.HighlightedText. Text no token
    covers (spaces WordPiece drops) comes unlabelled."""
    segments: list[tuple[str, str | None]] = []
    cursors = [0] * len(texts)

    def flush(sentence: int, upto: int) -> None:
        if upto > cursors[sentence]:
            segments.append((texts[sentence][cursors[sentence] : upto], None))
            cursors[sentence] = upto

    for group in group_by_character(chips, tuple(texts)):
        members = [chips[i] for i in group.indices]
        label = t(f"tok.cat.{_category(members, texts[group.sentence])}", lang)
        if members[0].special:
            if show_special:
                segments.append((members[0].piece, label))
            continue
        for earlier in range(group.sentence):
            flush(earlier, len(texts[earlier]))
        flush(group.sentence, group.start)
        start = max(group.start, cursors[group.sentence])
        if group.end > start:
            segments.append((texts[group.sentence][start : group.end], label))
            cursors[group.sentence] = group.end
    for sentence, text in enumerate(texts):
        flush(sentence, len(text))
    return segments


def category_colours(lang: str) -> dict[str, str]:
    """color_map for gr.HighlightedText, keyed by the translated category labels."""
    return {t(f"tok.cat.{name}", lang): colour for name, colour in CATEGORY_COLOURS.items()}
