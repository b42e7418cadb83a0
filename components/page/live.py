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

A view is laid out from slots: `plot(name)` for a figure, `note(name)` for a text
(Markdown, or HTML this app built and escaped), `row(...)` to put slots side by side.
The answer of a server function: `{"figures": {name: <plotly JSON> | None}, "notes":
{name: HTML}, "state": {...}}` or `{"error": message}`; it is serialized once, by
plotly's own encoder (arrays travel as base64), and sent as it is.
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

from components.page.context import escape, user_error
from components.page.i18n import t

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


class Html(str):
    """A note this app built as HTML, every user or token string in it escaped."""


def markdown_html(text: str | None) -> str:
    """Markdown as HTML for a note; raw HTML in it is shown as text, never run."""
    return text if isinstance(text, Html) else _MARKDOWN.render(text or "")


def table_html(headers: Sequence, rows: Sequence[Sequence]) -> Html:
    """A small table as a note (every cell escaped; None is an empty cell; numbers
    are kept on one line)."""

    def cell(tag: str, value) -> str:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        kind = ' class="num"' if number else ""
        return f"<{tag}{kind}>{'' if value is None else escape(str(value))}</{tag}>"

    def cells(tag: str, values: Sequence) -> str:
        return "".join(cell(tag, value) for value in values)

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return Html(
        f'<table class="live-table"><thead><tr>{cells("th", headers)}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def answer(figures: dict | go.Figure | None, notes: dict[str, str] | None = None, **state) -> dict:
    """What a server function returns: figures by slot name (one figure alone goes to the
    slot "main"), notes by slot name, and any small `state` the page may read."""
    if not isinstance(figures, dict):
        figures = {"main": figures}
    return {"figures": figures, "notes": notes or {}, "state": state}


def _encode(result: dict) -> Response:
    """The answer as JSON: each figure by plotly's encoder, the rest by json."""
    figures = ", ".join(
        f"{json.dumps(name)}: {'null' if f is None else pio.to_json(f, validate=False)}"
        for name, f in result.get("figures", {}).items()
    )
    notes = {name: markdown_html(text) for name, text in result.get("notes", {}).items()}
    rest = json.dumps({"notes": notes, "state": result.get("state", {})}, ensure_ascii=False)
    return Response(
        content=f'{{"figures": {{{figures}}}, {rest[1:]}', media_type="application/json"
    )


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


def request_value(working_when: dict | None = None, **request) -> str:
    """The value a Gradio event gives a live view: its request as JSON (numbered, so a
    request equal to an earlier one still reaches the page), with the words the page
    shows while an answer takes long, in the request's language. `working_when`
    ({field: {value: words}}) names slower cases, e.g. a first UMAP fit."""
    working = t("live.working", request.get("lang", "en"))
    extra = {"working": working, "working_when": working_when or {}, "sent": next(_SENT)}
    return json.dumps({**request, **extra}, ensure_ascii=False)


def plot(name: str = "main", elem_id: str | None = None) -> str:
    """A slot for the figure `name` (wrapped in an element with `elem_id`, if given)."""
    box = f'<div class="live-plot" data-plot="{escape(name)}"></div>'
    return f'<div class="live-slot" id="{escape(elem_id)}">{box}</div>' if elem_id else box


def note(name: str, elem_id: str | None = None) -> str:
    """A slot for the note `name`."""
    where = f' id="{escape(elem_id)}"' if elem_id else ""
    return f'<div class="live-note" data-note="{escape(name)}"{where}></div>'


def row(*slots: str) -> str:
    """Slots side by side (they wrap on a narrow screen)."""
    return f'<div class="live-row">{"".join(slots)}</div>'


def live_view(
    name: str, draw: Callable[[dict], dict], slots: Sequence[str] = (), **kwargs
) -> gr.HTML:
    """A live view called `name`, laid out from `slots` (default: one plot "main").

    `draw(request) -> answer(...)` re-slices the cached analysis for one request.
    Extra keyword arguments go to gr.HTML (elem_id, elem_classes, visible ...).
    """
    layout = "".join(slots or [plot()])
    template = (
        f'<div class="live-view" data-live="{escape(name)}" '
        f'data-plotly="gradio_api/file={escape(str(PLOTLY_JS))}">'
        f'<div class="live-message" role="status"></div>{layout}</div>'
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
  const name = {json.dumps(name)};
  const live = window.anatomyLive && window.anatomyLive[name];
  if (live) live(changes);
  else {{  // the view is not on the page yet (its tab is opening): it applies these first
    const pending = (window.anatomyLivePending = window.anatomyLivePending || {{}});
    pending[name] = {{ ...(pending[name] || {{}}), ...changes }};
  }}
  return [];
}}"""


def wire_controls(name: str, controls: dict[str, gr.components.Component]) -> None:
    """User changes of `controls` (request field -> component) redraw the live view
    `name` in the page: no Gradio round trip, only the view's own server call."""
    fields, inputs = list(controls), list(controls.values())
    js = ask_js(name, fields)
    for control in inputs:
        control.input(None, inputs, None, js=js, queue=False, api_visibility="private")
