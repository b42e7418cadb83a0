"""Live views: a figure that redraws in the page as fast as a teacher moves a control.

A Gradio event costs the browser a few hundred milliseconds whatever it carries
(status trackers, copies of component values), more than the re-slice itself. A
live view skips that path for the controls that only re-slice the cached analysis:

- its value, set by ordinary Gradio events (a new analysis, the language switch,
  a lesson step), is a small *request*: the session's analysis key and the control
  values, as JSON. Never the figure itself, so Gradio's state stays small;
- the page asks the view's server function for that request (one POST, no queue)
  and draws the answer with plotly.js (`Plotly.react`), with its notes beside it;
- a control's user changes reach the view through a browser-only event
  (`wire_controls`): the request is updated in the page and asked again. The
  controls stay ordinary Gradio components, so shared links, lessons, the language
  switch and the export read them as before.

The answer of a server function: `{"figure": <plotly JSON> | None, "notes": {name:
HTML}, "state": {...}}` or `{"error": message}`; it is serialized once, by plotly's
own encoder (arrays travel as base64), and sent as it is.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import gradio as gr
import plotly
import plotly.graph_objects as go
import plotly.io as pio
from fastapi.responses import Response
from markdown_it import MarkdownIt

from components.page.context import user_error

ASSETS = Path(__file__).resolve().parents[2] / "assets"
SCRIPT = (ASSETS / "live_view.js").read_text(encoding="utf-8")
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "breaks": False}).enable("table")
# plotly.js as the plotly package ships it, served by this app: a view drawn before any
# gr.Plot has loaded Gradio's own copy loads this one (the page asks nothing of a CDN).
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
gr.set_static_paths([PLOTLY_JS])
# Every request a Gradio event sends gets a new number: the same request sent again
# (after the page drew other ones in between) must still reach the view.
_SENT = itertools.count(1)


def markdown_html(text: str | None) -> str:
    """Markdown as HTML for a note; raw HTML in it is shown as text, never run."""
    return _MARKDOWN.render(text or "")


def answer(figure: go.Figure | None, notes: dict[str, str] | None = None, **state) -> dict:
    """What a server function returns: a figure, Markdown notes by name, and any small
    `state` the page may read (e.g. the layer drawn, for tests and the URL)."""
    return {"figure": figure, "notes": notes or {}, "state": state}


def _encode(result: dict) -> Response:
    figure = result.get("figure")
    body = {
        "figure": None if figure is None else "__FIGURE__",
        "notes": {name: markdown_html(text) for name, text in result.get("notes", {}).items()},
        "state": result.get("state", {}),
    }
    text = json.dumps(body, ensure_ascii=False)
    if figure is not None:
        text = text.replace('"__FIGURE__"', pio.to_json(figure, validate=False), 1)
    return Response(content=text, media_type="application/json")


def serve(draw: Callable[[dict], dict], name: str) -> Callable:
    """The server function of a live view: request (dict) -> JSON Response. Bad input and
    failures become `{"error": message}` in the page language, never a stack trace."""

    def live_answer(request: dict) -> Response:
        request = request if isinstance(request, dict) else {}
        lang = request.get("lang") if request.get("lang") in ("en", "ko") else "en"
        try:
            return _encode(draw(request))
        except gr.Error as exc:
            message = str(exc.message)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
            message = str(user_error(exc, lang).message)
        body = json.dumps({"error": message}, ensure_ascii=False)
        return Response(content=body, media_type="application/json")

    live_answer.__name__ = "live_answer"
    live_answer.__qualname__ = f"live_answer_{name}"
    return live_answer


def request_value(**request) -> str:
    """The value a Gradio event gives a live view: its request as JSON (numbered, so a
    request equal to an earlier one still reaches the page)."""
    return json.dumps({**request, "sent": next(_SENT)}, ensure_ascii=False)


def live_view(
    name: str, draw: Callable[[dict], dict], notes: dict[str, str] | None = None, **kwargs
) -> gr.HTML:
    """A live view called `name`: a plot area, then one box per note (note name ->
    element id, in order).

    `draw(request) -> answer(...)` re-slices the cached analysis for one request.
    Extra keyword arguments go to gr.HTML (elem_id, elem_classes, visible ...).
    """
    boxes = "".join(
        f'<div class="live-note" data-note="{note}" id="{box_id}"></div>'
        for note, box_id in (notes or {}).items()
    )
    template = (
        f'<div class="live-view" data-live="{name}" data-plotly="gradio_api/file={PLOTLY_JS}">'
        '<div class="live-plot"></div>'
        f'<div class="live-message" role="status"></div>{boxes}</div>'
    )
    return gr.HTML(
        value="",
        html_template=template,
        js_on_load=SCRIPT,
        server_functions=[serve(draw, name)],
        **kwargs,
    )


def ask_js(name: str, fields: Sequence[str]) -> str:
    """A browser-only listener: the event's input values -> the live view's request."""
    return f"""(...values) => {{
  const fields = {json.dumps(list(fields))};
  const changes = Object.fromEntries(fields.map((field, i) => [field, values[i]]));
  const live = window.anatomyLive && window.anatomyLive[{json.dumps(name)}];
  if (live) live(changes);
  return [];
}}"""


def wire_controls(name: str, controls: dict[str, gr.components.Component]) -> None:
    """User changes of `controls` (request field -> component) redraw the live view
    `name` in the page: no Gradio round trip, only the view's own server call."""
    fields, inputs = list(controls), list(controls.values())
    js = ask_js(name, fields)
    for control in inputs:
        control.input(None, inputs, None, js=js, queue=False, api_visibility="private")
