"""The page state in the URL: read on page load, written as the user changes it.

A link such as ``?model=google/gemma-3-270m&text=...&lang=ko&tab=attention&layer=3``
reopens the same view. The page's own controls (model, text, second text,
language, open tab, presentation and lesson mode) and every control a panel
registered with ``ctx.share(component, name)`` take part. Reading happens on
the server (``gr.Request.query_params``); writing is a browser-side callback
that calls ``history.replaceState`` (no server round trip, no page reload).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import gradio as gr

from components.page.i18n import DEFAULT_LANGUAGE, LANGUAGES

TAB_PREFIX = "tab."
TAB_NAMES = ("tokenization", "embeddings", "attention", "block", "next_token")


def tab_id(name: str | None) -> str | None:
    """URL tab name ("attention") -> the gr.Tab id ("tab.attention"); None if unknown."""
    return f"{TAB_PREFIX}{name}" if name in TAB_NAMES else None


def language_from_header(accept_language: str | None) -> str:
    """The first language of an Accept-Language header that the UI speaks.

    "ko-KR,ko;q=0.9,en;q=0.8" -> "ko"; tags are read in the browser's order of
    preference (q values), unknown ones skipped; nothing usable -> English.
    """
    ranked: list[tuple[float, int, str]] = []
    for order, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, order, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def control_value(component, raw: str):
    """A URL string -> a value the component accepts, or None when it does not fit.

    Sliders and numbers are clamped to their range; choices must be offered;
    list-valued controls (checkbox groups, multi-select) travel as JSON.
    """
    if isinstance(component, gr.Checkbox):
        return truthy(raw)
    if isinstance(component, (gr.Slider, gr.Number)):
        try:
            number = float(raw)
        except ValueError:
            return None
        low = getattr(component, "minimum", None)
        high = getattr(component, "maximum", None)
        number = max(low, number) if low is not None else number
        number = min(high, number) if high is not None else number
        step = getattr(component, "step", None)
        integral = float(number).is_integer() and (step is None or float(step).is_integer())
        return int(number) if integral else number
    if isinstance(component, gr.CheckboxGroup) or getattr(component, "multiselect", False):
        try:
            values = json.loads(raw)
        except ValueError:
            return None
        return values if isinstance(values, list) else None
    return choice_value(component, raw)


def choice_value(component, raw: str):
    """The offered choice whose value reads as `raw` (keeping its type: -1 stays an int).

    Choices a panel fills in only after the analysis are unknown here, so a number
    that matches no current choice is still passed on as a number.
    """
    choices = getattr(component, "choices", None) or []
    values = [c[1] if isinstance(c, (tuple, list)) else c for c in choices]
    for value in values:
        if str(value) == raw:
            return value
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        try:
            return int(raw)
        except ValueError:
            return None
    return raw


def restore_controls(params: Mapping[str, str], shared: Mapping[str, object]) -> list:
    """One update per shared control: its value from the URL, or unchanged."""
    updates = []
    for name, component in shared.items():
        value = control_value(component, params[name]) if name in params else None
        updates.append(gr.update() if value is None else gr.update(value=value))
    return updates


def writer_js(names: list[str]) -> str:
    """A browser callback: the given values -> the page's query string (replaceState)."""
    return f"""(...values) => {{
  const names = {json.dumps(names)};
  const params = new URLSearchParams();
  names.forEach((name, i) => {{
    let value = values[i];
    if (value === null || value === undefined || value === "" || value === false) return;
    if (value === true) value = "1";
    if (typeof value === "object") value = JSON.stringify(value);
    params.set(name, String(value));
  }});
  const query = params.toString();
  history.replaceState(history.state, "", query ? "?" + query : window.location.pathname);
  return [];
}}"""


def wire_url_writer(components: Mapping[str, object]) -> None:
    """Write the URL whenever any of `components` (name -> component) changes."""
    names = list(components)
    inputs = list(components.values())
    js = writer_js(names)
    for component in inputs:
        component.change(None, inputs, None, js=js, queue=False, api_visibility="private")
