"""Pure render functions of the Tokenization panel: chips, rows, statistics.

Input is a sequence of tokens (TokenInfo from the analysis, or baseline Pieces)
and the texts they index; output is escaped HTML, table rows or Markdown.
Nothing here touches a model or Gradio.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from components.page.context import escape
from components.page.i18n import t
from models.tokens import CharacterGroup, TokenInfo, group_by_character

# Light tints of the Okabe-Ito palette: neighbouring tokens differ, text stays readable.
TINTS = ("#cfe3f3", "#f8e3b3", "#c6eadf", "#f5d0bd", "#efd6e6", "#d6ecf8")
WHITESPACE_MARKS = {" ": "·", "\n": "↵", "\t": "→", "\r": "␍", "\u3000": "□"}

CHIP_CSS = """
.tok-chips { display: flex; flex-wrap: wrap; gap: 6px 4px; align-items: flex-end;
  direction: ltr; line-height: 1.2; padding: 4px 0;
  font-family: "Noto Sans", "Noto Sans CJK KR", "Malgun Gothic", "Apple SD Gothic Neo",
    "Noto Color Emoji", sans-serif; }
.tok-chip { display: inline-flex; flex-direction: column; align-items: center;
  border-radius: 6px; padding: 2px 6px; color: #111; border: 1px solid transparent;
  min-width: 1.4em; }
.tok-text { font-size: 17px; white-space: pre; unicode-bidi: isolate; }
.tok-id { font-size: 11px; color: #333; font-family: ui-monospace, monospace; }
.tok-special { background: #eeeeee !important; border: 1px dashed #666; }
.tok-special .tok-text { font-family: ui-monospace, monospace; font-size: 13px; }
.tok-unk { border: 2px solid #D55E00; }
.tok-ws { color: #777; }
.tok-group { display: inline-flex; flex-direction: column; align-items: center;
  border: 1px solid #0072B2; border-radius: 8px; padding: 2px 3px; gap: 2px; }
.tok-group-text { font-size: 19px; white-space: pre; unicode-bidi: isolate; }
.tok-group-parts { display: flex; gap: 2px; }
.tok-group .tok-chip { padding: 1px 4px; }
.tok-group .tok-text { font-size: 12px; font-family: ui-monospace, monospace; }
.tok-row { margin: 10px 0 2px; font-weight: 600; }
.tok-row small { font-weight: 400; color: #444; }
.tok-note { margin: 2px 0 6px; color: #444; font-size: 0.9em; }
"""


@dataclass(frozen=True)
class Chip:
    """What one chip needs, whatever tokenizer made it."""

    index: int
    text: str  # from the input
    piece: str  # the vocabulary string
    id: int | None
    start: int
    end: int
    special: bool
    unknown: bool
    byte_values: tuple[int, ...]
    sentence: int = 0
    word_id: int | None = None
    shown: str = ""  # drawn instead of `text` when set (jamo, a lowercased piece)
    folded: bool = False  # `shown` is the model's lowercased (accent-free) reading of `text`


def fold(text: str) -> str:
    """What an uncased WordPiece tokenizer makes of `text`: lowercase, accents removed."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def with_model_reading(chip: Chip, prefix: str = "##") -> Chip:
    """`chip` drawn as the model reads it where the tokenizer lowercased the text:
    'The' becomes the vocabulary piece 'the' (the continuation prefix dropped)."""
    if chip.special or chip.unknown or chip.shown or not chip.text:
        return chip
    core = chip.piece.removeprefix(prefix)
    if core == chip.text or core != fold(chip.text):
        return chip
    return replace(chip, shown=core, folded=True)


def chips_of_tokens(tokens: Sequence[TokenInfo], unk_id: int | None) -> list[Chip]:
    """Chips of a model tokenizer's tokens ([UNK] is the tokenizer's unknown id)."""
    chips = [
        Chip(
            index=i,
            text=tok.text,
            piece=tok.piece,
            id=tok.id,
            start=tok.start,
            end=tok.end,
            special=tok.special,
            unknown=unk_id is not None and tok.id == unk_id,
            byte_values=tok.byte_values,
            sentence=tok.sentence,
            word_id=tok.word_id,
        )
        for i, tok in enumerate(tokens)
    ]
    return [with_model_reading(chip) for chip in chips]


def visible_whitespace(text: str) -> str:
    """Escaped HTML of `text` with spaces, tabs and newlines drawn as marks."""
    out = []
    for ch in text:
        mark = WHITESPACE_MARKS.get(ch) or ("␣" if ch.isspace() else None)
        out.append(f'<span class="tok-ws">{mark}</span>' if mark else escape(ch))
    return "".join(out)


def plain_whitespace(text: str) -> str:
    """`text` with whitespace marks, as plain text (for tables)."""
    return "".join(WHITESPACE_MARKS.get(ch) or ("␣" if ch.isspace() else ch) for ch in text)


def hex_bytes(values: Sequence[int]) -> str:
    return " ".join(f"{b:02X}" for b in values)


def chip_title(chip: Chip, lang: str) -> str:
    """The hover text: id, raw piece, bytes, offsets, special."""
    lines = [
        t("tok.hover.id", lang, index=chip.index, id="—" if chip.id is None else chip.id),
        t("tok.hover.piece", lang, piece=repr(chip.piece)),
    ]
    if chip.byte_values:
        lines.append(
            t("tok.hover.bytes", lang, bytes=hex_bytes(chip.byte_values), n=len(chip.byte_values))
        )
    lines.append(t("tok.hover.span", lang, start=chip.start, end=chip.end))
    if chip.folded:
        lines.append(t("tok.hover.folded", lang, text=chip.text, piece=chip.shown))
    lines.append(t("tok.hover.special_yes" if chip.special else "tok.hover.special_no", lang))
    if chip.unknown:
        lines.append(t("tok.hover.unknown", lang))
    return "\n".join(lines)


def _chip_html(chip: Chip, lang: str, tint: str, label: str) -> str:
    classes = (
        "tok-chip" + (" tok-special" if chip.special else "") + (" tok-unk" if chip.unknown else "")
    )
    token_id = "" if chip.id is None else f'<span class="tok-id">{chip.id}</span>'
    return (
        f'<span class="{classes}" style="background:{tint}" '
        f'title="{escape(chip_title(chip, lang))}" data-index="{chip.index}">'
        f'<span class="tok-text" dir="auto">{label}</span>{token_id}</span>'
    )


def _chip_label(chip: Chip) -> str:
    if chip.special:
        return escape(chip.piece)
    if chip.shown:
        return visible_whitespace(chip.shown)
    if chip.text:
        return visible_whitespace(chip.text)
    return escape(chip.piece) or "∅"


def is_byte_piece(chip: Chip) -> bool:
    """Are the chip's bytes only part of a character (byte-level BPE, <0xNN>), rather
    than a piece of text of its own (WordPiece's jamo ##ᅡ)?"""
    try:
        bytes(chip.byte_values).decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _part_label(chip: Chip) -> str:
    """A token inside a character group: its bytes in hex when they are only part of
    a character, else its vocabulary piece (##ᅡ, jamo)."""
    if chip.shown:
        return visible_whitespace(chip.shown)
    if is_byte_piece(chip):
        return escape(hex_bytes(chip.byte_values))
    return escape(chip.piece)


def _group_html(group: CharacterGroup, chips: list[Chip], text: str, lang: str) -> str:
    members = [chips[i] for i in group.indices]
    n_bytes = len(text[group.start : group.end].encode("utf-8"))
    title = t(
        "tok.hover.group",
        lang,
        text=text[group.start : group.end],
        bytes=n_bytes,
        tokens=len(members),
    )
    parts = "".join(
        _chip_html(chip, lang, TINTS[chip.index % len(TINTS)], _part_label(chip))
        for chip in members
    )
    shared = visible_whitespace(text[group.start : group.end])
    return (
        f'<span class="tok-group" title="{escape(title)}">'
        f'<span class="tok-group-text" dir="auto">{shared}'
        f'</span><span class="tok-group-parts">{parts}</span></span>'
    )


def special_note(chips: list[Chip], show_special: bool, lang: str) -> str:
    """A short HTML note when special tokens are to be hidden but the tokenizer added
    none (SmolLM2 adds no <bos>): the checkbox then changes nothing, and says why."""
    if show_special or any(chip.special for chip in chips):
        return ""
    return f'<p class="tok-note">{escape(t("tok.no_specials", lang))}</p>'


def chips_html(
    chips: list[Chip], texts: Sequence[str], lang: str, show_special: bool = True
) -> str:
    """Tokens as coloured chips in order, each with its id; tokens sharing a
    character are drawn under that character (never as '�')."""
    items = []
    for group in group_by_character(chips, tuple(texts)):
        first = chips[group.indices[0]]
        if first.special and not show_special:
            continue
        if len(group.indices) == 1:
            items.append(
                _chip_html(first, lang, TINTS[first.index % len(TINTS)], _chip_label(first))
            )
        else:
            items.append(_group_html(group, chips, texts[group.sentence], lang))
    return f'<div class="tok-chips">{"".join(items)}</div>'


def split_characters(chips: list[Chip], texts: Sequence[str]) -> list[tuple[str, int, int]]:
    """(characters, bytes, tokens) for every group of several tokens sharing characters."""
    out = []
    for group in group_by_character(chips, tuple(texts)):
        if len(group.indices) > 1:
            shared = texts[group.sentence][group.start : group.end]
            out.append((shared, len(shared.encode("utf-8")), len(group.indices)))
    return out


def split_note(chips: list[Chip], texts: Sequence[str], lang: str, limit: int = 12) -> str:
    """One Markdown line: which characters took several tokens, with bytes and tokens."""
    splits = split_characters(chips, texts)
    if not splits:
        return t("tok.split.none", lang)
    shown = ", ".join(
        t("tok.split.item", lang, text=plain_whitespace(s), bytes=b, tokens=n)
        for s, b, n in splits[:limit]
    )
    more = t("tok.split.more", lang, n=len(splits) - limit) if len(splits) > limit else ""
    return t("tok.split.some", lang, n=len(splits)) + " " + escape(shown) + more
