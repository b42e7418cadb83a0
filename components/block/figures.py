"""Plotly figures for the views that re-render on every layer/token change.

`go.Figure(...)` validates every property, and assigning the "plotly_white"
template by name copies it each time: about 40 ms of a 50 ms re-slice budget for
three small figures. These figures are built from plain dicts without validation
(`_validate=False`) and with the template resolved once, and look the same as
`components.page.theme.style` makes them.
"""

from __future__ import annotations

from functools import lru_cache

import plotly.graph_objects as go
import plotly.io as pio

from components.page.theme import CATEGORICAL, FONT_FAMILY


@lru_cache(maxsize=1)
def _template() -> dict:
    return pio.templates["plotly_white"].to_plotly_json()


def quick_figure(data: list[dict], layout: dict, title: str | None, height: int) -> go.Figure:
    """A figure from trace dicts (each with its "type") and a layout dict, styled like the
    rest of the app. Property names are not checked: keep them to plotly's own."""
    base = {
        "template": _template(),
        "height": height,
        "font": {"family": FONT_FAMILY, "size": 14},
        "colorway": list(CATEGORICAL),
        "margin": {"l": 50, "r": 50, "t": 60 if title else 30, "b": 40},
        "title": {"text": title} if title else None,
    }
    return go.Figure(data=data, layout={**base, **layout}, _validate=False)


def paper_title(text: str, x: float, y: float) -> dict:
    """A sub-plot title as a paper-anchored annotation."""
    return {
        "text": text,
        "x": x,
        "y": y,
        "xref": "paper",
        "yref": "paper",
        "xanchor": "center",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": 14},
    }
