"""One look for every plot: colour-blind-safe colours and readable fonts.

Okabe & Ito's palette for categories and cividis for magnitudes are both
readable with the common colour-vision deficiencies and in greyscale.
"""

from __future__ import annotations

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


def style(figure: go.Figure, title: str | None = None, height: int = 480) -> go.Figure:
    """Apply the shared layout (fonts that render Korean, margins, palette)."""
    figure.update_layout(
        title=title,
        height=height,
        font={"family": FONT_FAMILY, "size": 14},
        colorway=list(CATEGORICAL),
        margin={"l": 40, "r": 20, "t": 50 if title else 20, "b": 40},
        template="plotly_white",
    )
    return figure
