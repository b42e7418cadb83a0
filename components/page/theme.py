"""One look for every plot: colour-blind-safe colours and readable fonts.

Okabe & Ito's palette for categories and cividis for magnitudes are both
readable with the common colour-vision deficiencies and in greyscale.
"""

from __future__ import annotations

import math
import textwrap
import unicodedata

import plotly.graph_objects as go

# Okabe-Ito: blue, orange, bluish green, vermillion, reddish purple, sky blue, yellow, black
CATEGORICAL = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
SEQUENTIAL = "Cividis"  # magnitudes: attention weights, similarities
DIVERGING = "RdBu"  # signed values around zero
MASKED = "#BBBBBB"  # positions a mask removes
FONT_FAMILY = "Noto Sans, Noto Sans CJK KR, Malgun Gothic, Apple SD Gothic Neo, sans-serif"
TITLE_WIDTH = 52  # columns (a Hangul syllable is two) a title line may take: a half-width plot
TITLE_LINE = 24  # pixels of top margin per title line
MAX_TICKS = 60  # past this many tokens only every n-th label is written on an axis
# Token labels stand upright while all of them fit side by side in this many characters
# (a full-width map; a half-width one, as in the comparison, holds about half).
UPRIGHT_CHARACTERS = 72
LINE_BREAK = "<br>"


def _columns(text: str) -> int:
    """Display width: wide characters (Hangul, CJK) count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _wrap_line(line: str, width: int) -> list[str]:
    if _columns(line) <= width:
        return [line]
    if _columns(line) == len(line):
        return textwrap.wrap(line, width) or [line]
    lines, current = [], ""
    for word in line.split(" "):
        candidate = f"{current} {word}".strip()
        if current and _columns(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    return lines + [current]


def wrap_title(title: str | None, width: int = TITLE_WIDTH) -> str | None:
    """`title` broken at spaces into lines of at most `width` columns (<br> between):
    plotly never wraps a title and cuts it at the figure's edge instead."""
    if not title:
        return title
    lines = [part for line in title.split(LINE_BREAK) for part in _wrap_line(line, width)]
    return LINE_BREAK.join(lines)


def title_margin(title: str | None) -> int:
    """Top margin (pixels) that holds every line of `title`, or a thin one without."""
    if not title:
        return 20
    return 26 + TITLE_LINE * (title.count(LINE_BREAK) + 1)


def style(figure: go.Figure, title: str | None = None, height: int = 480) -> go.Figure:
    """Apply the shared layout (fonts that render Korean, margins, palette); a long
    title is wrapped and the top margin grows with its lines."""
    title = wrap_title(title)
    figure.update_layout(
        title=title,
        height=height,
        font={"family": FONT_FAMILY, "size": 14},
        colorway=list(CATEGORICAL),
        margin={"l": 40, "r": 20, "t": title_margin(title), "b": 40},
        template="plotly_white",
    )
    return figure


def thinned_ticks(labels: tuple[str, ...], most: int = MAX_TICKS) -> list[str]:
    """Every n-th label, so that at most `most` are written on an axis."""
    step = max(1, math.ceil(len(labels) / most))
    return list(labels[::step])


def tick_angle(labels: list[str], narrow: bool = False) -> int:
    """0 (upright) while the written labels fit side by side, else -45 (slanted)."""
    room = UPRIGHT_CHARACTERS // 2 if narrow else UPRIGHT_CHARACTERS
    written = sum(len(label) + 2 for label in labels)
    return 0 if written <= room and len(labels) <= 12 else -45
